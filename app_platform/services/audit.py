"""The audit trail: who changed what, when, with before/after values."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import g
from sqlalchemy.orm import Session

from app_platform.models import AuditEntry, utcnow

AUDIT = AuditEntry.__table__


def audit_row(actor: str | None, app_key: str, entity_key: str | None, record_id: int | None,
              action: str, changes: dict[str, Any], source: str = "api") -> dict[str, Any]:
    return {"at": utcnow(), "actor": actor, "app_key": app_key, "entity_key": entity_key,
            "record_id": record_id, "action": action, "changes": changes, "source": source,
            "request_id": g.get("request_id")}


def write(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.connection().execute(AUDIT.insert(), rows)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose JSON value changed."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def query(session: Session, app_key: str, entity_key: str | None, record_id: int | None,
          limit: int, offset: int, hidden: dict[str, set[str]] | None = None,
          ) -> tuple[list[dict[str, Any]], int]:
    """Audit rows, newest first. ``hidden`` maps entity keys to the fields the reader may
    not see: their values are left out of ``changes`` (history must not leak them)."""
    hidden = hidden or {}
    where = [AUDIT.c.app_key == app_key]
    if entity_key:
        where.append(AUDIT.c.entity_key == entity_key)
    if record_id is not None:
        where.append(AUDIT.c.record_id == record_id)
    conn = session.connection()
    total = conn.execute(sa.select(sa.func.count()).select_from(AUDIT).where(*where)).scalar()
    rows = conn.execute(sa.select(AUDIT).where(*where).order_by(AUDIT.c.id.desc())
                        .limit(limit).offset(offset)).mappings()
    items = [{
        "id": r["id"], "at": _iso(r["at"]), "actor": r["actor"], "app": r["app_key"],
        "entity": r["entity_key"], "record_id": r["record_id"], "action": r["action"],
        "changes": _visible(r["changes"], hidden.get(r["entity_key"] or "", set())),
        "source": r["source"], "request_id": r["request_id"],
    } for r in rows]
    return items, int(total or 0)


def _visible(changes: Any, hidden: set[str]) -> Any:
    if not hidden or not isinstance(changes, dict):
        return changes
    return {k: v for k, v in changes.items() if k not in hidden}


def _iso(moment: Any) -> str:
    from engines.form.types.values import datetime_to_json

    return datetime_to_json(moment)
