"""Relation cells that name the target record by its title ("Acme Ltd") instead of its
id: resolved for a whole batch of imported rows with one query per relation field."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engines.form.definition import live_fields
from engines.form.errors import Problem
from engines.form.io import TitleRef

CHUNK = 500


def title_field(definition: dict[str, Any]) -> str | None:
    """The field that names a record: ``title_field``, else the first text field."""
    if definition.get("title_field"):
        return definition["title_field"]
    for fdef in live_fields(definition):
        if fdef["type"] in ("text", "auto_number", "email", "phone"):
            return fdef["key"]
    return None


def lookup_titles(conn: sa.Connection, table: sa.Table, column: str,
                  titles: set[str]) -> dict[str, list[int]]:
    """{title: [ids of the records carrying it]} for the titles that exist."""
    found: dict[str, list[int]] = {}
    ordered = sorted(titles)
    for start in range(0, len(ordered), CHUNK):
        stmt = sa.select(table.c[column], table.c.id).where(
            table.c[column].in_(ordered[start:start + CHUNK]))
        for title, record_id in conn.execute(stmt):
            found.setdefault(title, []).append(record_id)
    return found


def resolve_title_refs(conn: sa.Connection, rows: list[dict[str, Any]],
                       targets: dict[str, tuple[sa.Table, str | None, str]]
                       ) -> dict[int, list[Problem]]:
    """Replace every TitleRef in ``rows`` (in place) by the id of the one target record
    with that title. ``targets``: relation field key -> (target table, title column,
    target entity key). Returns {row index: problems} for titles that match no record or
    more than one."""
    problems: dict[int, list[Problem]] = {}
    for key, (table, column, target) in targets.items():
        wanted = {ref.text for row in rows for ref in _refs(row.get(key))}
        if not wanted:
            continue
        found = lookup_titles(conn, table, column, wanted) if column else {}
        for index, row in enumerate(rows):
            value = row.get(key)
            if not _refs(value):
                continue
            resolved = []
            for item in value if isinstance(value, list) else [value]:
                if not isinstance(item, TitleRef):
                    resolved.append(item)
                    continue
                ids = found.get(item.text, [])
                if len(ids) == 1:
                    resolved.append(ids[0])
                    continue
                message = (f"{target} {item.text!r} matches {len(ids)} records; use its id"
                           if ids else f"no {target} record titled {item.text!r}")
                if column is None:
                    message = f"{target} records have no title field; use the record id"
                problems.setdefault(index, []).append(Problem(key, message))
            row[key] = resolved if isinstance(value, list) else (
                resolved[0] if resolved else None)
    return problems


def _refs(value: Any) -> list[TitleRef]:
    if isinstance(value, TitleRef):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, TitleRef)]
    return []
