"""Records of one entity: create (one or in bulk), read, list, update with optimistic
locking, delete; permissions, referential checks and the audit trail on every write.
Each public method is one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.auth.permissions import entity_rights, field_access
from app_platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from app_platform.models import App, Counter, Entity, User, utcnow
from app_platform.services import audit, record_events, uploads
from app_platform.services.entities import entity_table, relations_to
from app_platform.services.query import ListQuery, encode_cursor, parse_list_args
from engines.form import RecordInvalid, RecordValidator, field_type, live_fields
from engines.form.compute import FormulaRunner
from engines.form.errors import Problem
from engines.form.types.computed import auto_number_scope, format_auto_number
from engines.form.types.values import datetime_to_json

MAX_ID = 2**63 - 1
SYSTEM_OUT = ("id", "version", "created_at", "created_by", "updated_at", "updated_by")


@lru_cache(maxsize=256)
def _compiled(table: str, version: int, definition_json: str,
              secret: bytes) -> tuple[RecordValidator, FormulaRunner]:
    """Validator and formulas, compiled once per published version of an entity."""
    import json

    definition = json.loads(definition_json)
    return RecordValidator(definition, {"card_secret": secret}), FormulaRunner(definition)


def card_secret() -> bytes:
    configured = current_app.config.get("CARD_TOKEN_KEY")
    if configured:
        return configured.encode() if isinstance(configured, str) else configured
    import hashlib

    return hashlib.sha256(b"loom-card-token:" + current_app.secret_key.encode()).digest()


class RecordService:
    def __init__(self, session: Session, caller: Caller, app: App, entity: Entity):
        import json

        self.session, self.caller, self.app, self.entity = session, caller, app, entity
        self.definition = entity.definition
        self.table = entity_table(entity)
        self.rights = entity_rights(caller.roles, caller.is_admin, app, self.definition)
        self.hidden, self.read_only = field_access(caller.roles, caller.is_admin,
                                                   self.definition)
        self.fields = [f for f in live_fields(self.definition)]
        self.visible = [f for f in self.fields if f["key"] not in self.hidden]
        self._readers = [(f["key"], field_type(f["type"]), f) for f in self.fields]
        self.validator, self.formulas = _compiled(
            entity.table_name, entity.version, json.dumps(self.definition, sort_keys=True),
            card_secret())

    # -- reading ---------------------------------------------------------------------------
    def to_json(self, row: Mapping[str, Any], only: list[str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in SYSTEM_OUT:
            if only and key not in only and key != "id":
                continue
            value = row[key]
            out[key] = datetime_to_json(value) if isinstance(value, dt.datetime) else value
        for fdef in self.visible:
            if only and fdef["key"] not in only:
                continue
            out[fdef["key"]] = field_type(fdef["type"]).row_to_json(fdef, row)
        return out

    def _read_scope(self) -> list[Any]:
        if not self.rights.read:
            raise Forbidden(f"you may not read {self.entity.key!r} records")
        if self.rights.read == "own":
            return [self.table.c.created_by == self.caller.username]
        return []

    def list(self, args: Mapping[str, str], getlist: Any) -> dict[str, Any]:
        scope = self._read_scope()
        config = current_app.config
        query: ListQuery = parse_list_args(
            args, getlist, self.table, self.definition, self.hidden,
            default_limit=config["PAGE_LIMIT_DEFAULT"], max_limit=config["PAGE_LIMIT_MAX"])
        where = scope + query.where
        conn = self.session.connection()
        total, exact = self._count(conn, where, query.exact_count, config["COUNT_CAP"])
        stmt = sa.select(self.table).where(*where).order_by(*query.order_by).limit(query.limit)
        if query.after_id is not None:
            stmt = stmt.where(self.table.c.id > query.after_id)
        elif query.offset:
            stmt = stmt.offset(query.offset)
        rows = conn.execute(stmt).mappings().all()
        items = [self.to_json(r, query.fields) for r in rows]
        next_cursor = None
        if len(rows) == query.limit:
            last_id = rows[-1]["id"]
            more = query.offset + query.limit < total or not exact
            if query.after_id is not None or more:
                next_cursor = encode_cursor(query.offset + query.limit, last_id, query.keyset)
        return {"items": items, "total": total, "total_exact": exact, "limit": query.limit,
                "offset": query.offset, "next_cursor": next_cursor}

    def _count(self, conn: sa.Connection, where: list[Any], exact: bool,
               cap: int) -> tuple[int, bool]:
        """(total, whether it is exact). Counting every match of a broad filter over a
        large table costs more than the page itself, so by default the count stops at
        ``cap`` (the list then says "cap+"); ``count=exact`` asks for the full count."""
        if exact:
            return conn.execute(sa.select(sa.func.count()).select_from(self.table)
                                .where(*where)).scalar_one(), True
        capped = sa.select(sa.literal(1)).select_from(self.table).where(*where) \
            .limit(cap + 1).subquery()
        found = conn.execute(sa.select(sa.func.count()).select_from(capped)).scalar_one()
        return (found, True) if found <= cap else (cap, False)

    def _row(self, record_id: int, *, lock: bool = False) -> Mapping[str, Any]:
        if not 0 < record_id <= MAX_ID:
            raise NotFound(f"no {self.entity.key} record {record_id}")
        stmt = sa.select(self.table).where(self.table.c.id == record_id, *self._read_scope())
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.connection().execute(stmt).mappings().first()
        if row is None:
            raise NotFound(f"no {self.entity.key} record {record_id}")
        return row

    def get(self, record_id: int) -> dict[str, Any]:
        return self.to_json(self._row(record_id))

    # -- writing ---------------------------------------------------------------------------
    def _check_writable_fields(self, data: dict[str, Any]) -> None:
        blocked = [k for k in data if k in self.read_only or k in self.hidden]
        if blocked:
            raise Forbidden("you may not write these fields",
                            [{"path": k, "message": "is read-only for you"} for k in blocked])

    def _check_references(self, rows: list[dict[str, Any]], prefix: Any = None,
                          keep: frozenset[str] = frozenset()) -> None:
        """Relation ids and usernames must exist, attachments must be the caller's uploads
        (or already on the record: ``keep``). One query per field for the whole batch."""
        problems: list[Problem] = uploads.check_attachments(
            self.session, self.caller, self.fields, rows, keep=keep, prefix=prefix is not None)
        conn = self.session.connection()
        for fdef in self.fields:
            key, kind = fdef["key"], fdef["type"]
            if kind not in ("relation", "user"):
                continue
            wanted: dict[Any, list[int]] = {}
            for i, row in enumerate(rows):
                value = row.get(key)
                for ref in (value if isinstance(value, list) else [value]):
                    if ref is not None:
                        wanted.setdefault(ref, []).append(i)
            if not wanted:
                continue
            found = self._existing(conn, fdef, list(wanted))
            for ref, indexes in wanted.items():
                if ref not in found:
                    for i in indexes:
                        where = f"[{i}].{key}" if prefix is not None else key
                        what = "record" if kind == "relation" else "user"
                        problems.append(Problem(where, f"no {what} {ref!r}"))
        if problems:
            raise RecordInvalid(problems[0].message if len(problems) == 1 else
                                f"{len(problems)} references do not exist", problems)

    def _existing(self, conn: sa.Connection, fdef: dict[str, Any], refs: list[Any]) -> set:
        found: set = set()
        for start in range(0, len(refs), 900):
            chunk = refs[start:start + 900]
            if fdef["type"] == "user":
                stmt = sa.select(User.username).where(User.username.in_(chunk))
            else:
                target = self.session.query(Entity).filter_by(
                    app_id=self.app.id, key=fdef["target"]).one()
                ttable = entity_table(target)
                stmt = sa.select(ttable.c.id).where(ttable.c.id.in_(chunk))
            found.update(conn.execute(stmt).scalars())
        return found

    def _auto_numbers(self, count: int) -> dict[str, list[str]]:
        """Draw ``count`` numbers per auto-number field from its counter, in this
        transaction: a rollback returns them, so the sequence has no gaps."""
        numbers: dict[str, list[str]] = {}
        today = dt.datetime.now(dt.UTC).date()
        for fdef in self.fields:
            if fdef["type"] != "auto_number":
                continue
            pattern = fdef.get("pattern", "{seq:5}")
            name = f"{self.app.key}.{self.entity.key}.{fdef['key']}." \
                   f"{auto_number_scope(pattern, today)}"
            last = _bump_counter(self.session.connection(), name, count)
            numbers[fdef["key"]] = [format_auto_number(pattern, seq, today)
                                    for seq in range(last - count + 1, last + 1)]
        return numbers

    def create(self, data: Any, source: str = "api") -> dict[str, Any]:
        return self.create_many([data], source=source, single=True)[0]

    def create_many(self, rows: list[Any], *, source: str = "api", single: bool = False,
                    commit: bool = True) -> list[dict[str, Any]]:
        """The bulk path (imports use it): validate every row first, then one multi-row
        INSERT and one multi-row audit INSERT, in one transaction."""
        if not self.rights.create:
            raise Forbidden(f"you may not create {self.entity.key!r} records")
        values, problems = [], []
        for i, data in enumerate(rows):
            if isinstance(data, dict):
                self._check_writable_fields(data)
            try:
                row = self.validator.validate(data)
                row.update(self.formulas.apply(row))
                values.append(row)
            except RecordInvalid as exc:
                if single:
                    raise
                problems += [Problem(f"[{i}].{p.path}" if p.path else f"[{i}]", p.message)
                             for p in exc.problems]
        if problems:
            raise RecordInvalid(f"{len(problems)} problems in {len(rows)} rows", problems)
        self._check_references(values, prefix=None if single else "rows")
        now, user = utcnow(), self.caller.username
        numbers = self._auto_numbers(len(values))
        for i, row in enumerate(values):
            row.update(version=1, created_at=now, created_by=user, updated_at=now,
                       updated_by=user)
            for key, drawn in numbers.items():
                row[key] = drawn[i]
        ids = self._insert_rows(self.session.connection(), values)
        # Outputs are built from the values just written (RETURNING only the ids): the
        # same stored values, without reading every column back.
        blank = dict.fromkeys(self.table.c.keys())
        stamp = datetime_to_json(now)
        system = {"version": 1, "created_at": stamp, "created_by": user, "updated_at": stamp,
                  "updated_by": user}
        visible = [f["key"] for f in self.visible]
        out, audits, full_records = [], [], []
        for rid, row in zip(ids, values, strict=True):
            full = self.to_json_all({**blank, **row, "id": rid})
            full_records.append(full)
            out.append({"id": rid, **system, **{k: full[k] for k in visible}})
            audits.append(audit.audit_row(
                user, self.app.key, self.entity.key, rid, "create",
                {k: [None, v] for k, v in full.items() if v is not None and k != "id"}, source))
        audit.write(self.session, audits)
        record_events.after_write_many(self.session, self.caller, self.app, self.entity,
                                       "create", [(None, rec) for rec in full_records],
                                       source=source)
        if commit:
            self.session.commit()
        return out

    def _insert_rows(self, conn: sa.Connection, values: list[dict[str, Any]]) -> list[int]:
        """One batched INSERT without RETURNING; the new ids in input order.

        An ordered RETURNING is what SQLAlchemy cannot batch cheaply: on SQLite it falls back
        to one INSERT per row, on PostgreSQL it inlines every row's parameters into one huge
        statement that psycopg re-parses on each call. So the ids are known beforehand:
        SQLite has one writer, and after the first row this transaction holds the write
        lock, so the next ids are first+1...; PostgreSQL draws them from the sequence."""
        if not values:
            return []
        if conn.dialect.name == "sqlite":
            first = conn.execute(self.table.insert().returning(self.table.c.id),
                                 values[0]).scalar_one()
            ids = list(range(first, first + len(values)))
            for row, rid in zip(values[1:], ids[1:], strict=True):
                row["id"] = rid
            if len(values) > 1:
                conn.execute(self.table.insert(), values[1:])
            return ids
        if conn.dialect.name == "postgresql":
            sequence = sa.func.pg_get_serial_sequence(self.table.name, "id")
            ids = sorted(conn.execute(sa.select(sa.func.nextval(sequence)).select_from(
                sa.func.generate_series(1, len(values)))).scalars())
            for row, rid in zip(values, ids, strict=True):
                row["id"] = rid
            conn.execute(self.table.insert(), values)
            return ids
        return list(conn.execute(self.table.insert().returning(
            self.table.c.id, sort_by_parameter_order=True), values).scalars())

    def to_json_all(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Every live field regardless of the caller's visibility (for the audit trail)."""
        out = {"id": row["id"]}
        for key, kind, fdef in self._readers:
            out[key] = kind.row_to_json(fdef, row)
        return out

    def _attachment_ids(self, row: Mapping[str, Any]) -> frozenset[str]:
        return frozenset(item["id"] for f in self.fields if f["type"] == "attachment"
                         for item in (row[f["key"]] or []) if isinstance(item, dict))

    def _check_own(self, right: Any, row: Mapping[str, Any], action: str) -> None:
        if not right:
            raise Forbidden(f"you may not {action} {self.entity.key!r} records")
        if right == "own" and row["created_by"] != self.caller.username:
            raise Forbidden(f"you may only {action} {self.entity.key!r} records you created")

    def update(self, record_id: int, data: Any, if_match: int | None = None,
               source: str = "api") -> dict[str, Any]:
        if not isinstance(data, dict):
            raise Unprocessable("the body must be a JSON object")
        expected = data.get("version", if_match)
        if expected is not None and (isinstance(expected, bool) or not isinstance(expected,
                                                                                  int)):
            raise Unprocessable("version must be a whole number",
                                [{"path": "version", "message": "must be a whole number"}])
        row = self._row(record_id, lock=True)
        self._check_own(self.rights.update, row, "update")
        self._check_writable_fields({k: v for k, v in data.items() if k != "version"})
        values = self.validator.validate(data, partial=True)
        values.update(self.formulas.apply({**row, **values}))
        self._check_references([values], keep=self._attachment_ids(row))
        before = self.to_json_all(row)
        if expected is not None and expected != row["version"]:
            raise Conflict(f"record {record_id} is at version {row['version']}, not "
                           f"{expected}; reload it and try again", code="version_conflict")
        values.update(version=row["version"] + 1, updated_at=utcnow(),
                      updated_by=self.caller.username)
        conn = self.session.connection()
        result = conn.execute(self.table.update().where(
            self.table.c.id == record_id, self.table.c.version == row["version"]).values(values)
            .returning(self.table))
        new_row = result.mappings().first()
        if new_row is None:
            raise Conflict(f"record {record_id} was changed meanwhile; reload it",
                           code="version_conflict")
        after = self.to_json_all(new_row)
        audit.write(self.session, [audit.audit_row(self.caller.username, self.app.key,
                                                   self.entity.key, record_id, "update",
                                                   audit.diff(before, after), source)])
        record_events.after_write(self.session, self.caller, self.app, self.entity, "update",
                                  before, after, version=new_row["version"], source=source)
        self.session.commit()
        return self.to_json(new_row)

    def delete(self, record_id: int, if_match: int | None = None, source: str = "api") -> None:
        row = self._row(record_id, lock=True)
        self._check_own(self.rights.delete, row, "delete")
        if if_match is not None and if_match != row["version"]:
            raise Conflict(f"record {record_id} is at version {row['version']}, not "
                           f"{if_match}", code="version_conflict")
        self._refuse_if_linked(record_id)
        conn = self.session.connection()
        conn.execute(self.table.delete().where(self.table.c.id == record_id))
        before = self.to_json_all(row)
        audit.write(self.session, [audit.audit_row(
            self.caller.username, self.app.key, self.entity.key, record_id, "delete",
            {k: [v, None] for k, v in before.items() if v is not None and k != "id"}, source)])
        record_events.after_write(self.session, self.caller, self.app, self.entity, "delete",
                                  before, None, version=row["version"], source=source)
        self.session.commit()

    def _refuse_if_linked(self, record_id: int) -> None:
        conn = self.session.connection()
        for other, fdef in relations_to(self.session, self.app, self.entity.key):
            otable = entity_table(other)
            if fdef not in other.definition["fields"]:
                continue  # a subtable column: checked as JSON below is not worth a scan
            column = otable.c[fdef["key"]]
            if fdef.get("many"):
                rows = conn.execute(sa.select(otable.c.id, column).where(column.is_not(None)))
                linked = [rid for rid, ids in rows if record_id in (ids or [])]
            else:
                linked = list(conn.execute(sa.select(otable.c.id).where(
                    column == record_id).limit(5)).scalars())
            if linked:
                raise Conflict(f"{other.key} records {linked[:5]} link to this record through "
                               f"{fdef['key']!r}; unlink them first", code="record_in_use")


def _bump_counter(conn: sa.Connection, name: str, count: int) -> int:
    counters = Counter.__table__
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(counters).values(name=name, value=0).on_conflict_do_nothing())
    return conn.execute(counters.update().where(counters.c.name == name)
                        .values(value=counters.c.value + count)
                        .returning(counters.c.value)).scalar_one()
