"""Window state of the rule matcher, saved to and restored from the database.

Why: count/sum/sequence windows and pending absences live in the web process's pool (not
in durable_rules), so without a snapshot a restart forgets "4 payments on this card in
the last 10 minutes" and the 5th does not fire. The runtime saves the pool's
``export_state()`` after each dispatched batch (only when it changed, optionally at most
every ``RULES_STATE_SAVE_S`` seconds) and on close, and restores it when its pool starts.

Why its own connection (not the request session): the save must not join, delay or be
rolled back with a record write; it runs after the batch's transactions committed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa

from app_platform.models import utcnow
from app_platform.models.rule_state import RuleStateSnapshot

log = logging.getLogger("loom.rules")
WINDOWS = "windows"
TABLE = RuleStateSnapshot.__table__


def load_snapshot(engine: sa.Engine, name: str = WINDOWS) -> tuple[dict[str, Any], str] | None:
    """The saved snapshot (parsed, and its text) or None when nothing was saved yet."""
    with engine.connect() as conn:
        text = conn.scalar(sa.select(TABLE.c.snapshot).where(TABLE.c.name == name))
    if text is None:
        return None
    return json.loads(text), text


def save_snapshot(engine: sa.Engine, text: str, name: str = WINDOWS) -> None:
    """Write the snapshot text (update, or insert the first time) in its own transaction."""
    values = {"snapshot": text, "updated_at": utcnow()}
    with engine.begin() as conn:
        updated = conn.execute(sa.update(TABLE).where(TABLE.c.name == name).values(**values))
        if updated.rowcount == 0:
            conn.execute(sa.insert(TABLE).values(name=name, **values))


def serialize(snapshot: dict[str, Any]) -> str:
    """Canonical text of a snapshot (sorted keys), so equal states compare equal."""
    return json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
