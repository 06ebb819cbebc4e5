"""Asynchronous rule processing: claim an outbox event, match it in the worker pool, log a
run per fired rule and execute its actions (rule_actions) as the rule's owner.

Why a claim (pending -> running in one UPDATE): the inline dispatch after a commit and
the scheduler's sweep may look at the same row; only the one whose UPDATE changed it works
on it. A row left `running` by a dead process is reclaimed by the sweep after
STALE_CLAIM. Why one queue per thread: a rule's action writes records, which raises
events, which are dispatched after that action commits; they join the running loop
(breadth first) instead of recursing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zoneinfo
from collections import deque
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from app_platform.models import App, utcnow
from app_platform.models.rules import RuleEvent, RuleRun
from app_platform.services.rule_actions import ActionContext, run_action
from app_platform.services.rule_runtime import AppRules, LoadedRule, runtime
from engines.rule import MatchResult
from engines.rule.model import schema_key

log = logging.getLogger("loom.rules")
STALE_CLAIM = dt.timedelta(minutes=5)
RUNS = RuleRun.__table__
_local = threading.local()


def dispatch(event_ids: Iterable[int]) -> None:
    """Process these outbox events now, in this thread (needs an app context)."""
    queue = getattr(_local, "queue", None)
    if queue is not None:
        queue.extend(event_ids)
        return
    _local.queue = queue = deque(event_ids)
    maker = current_app.extensions["loom_db"]["sessionmaker"]
    try:
        while queue:
            event_id = queue.popleft()
            with maker() as session:
                try:
                    process_event(session, event_id)
                except Exception as exc:  # never let one event stop the others
                    log.exception("rule event %s failed", event_id)
                    session.rollback()
                    _finish(session, event_id, "failed", f"{exc.__class__.__name__}: {exc}")
        runtime().save_state()  # the batch's windows, so a restart keeps counting
    finally:
        _local.queue = None


def process_pending(app: Flask, limit: int = 200, now: dt.datetime | None = None) -> int:
    """The sweep: pending events, and running ones whose claim went stale."""
    from app_platform.extensions import db

    with app.app_context():
        moment = now or utcnow()
        ids = list(db.session.scalars(sa.select(RuleEvent.id).where(sa.or_(
            RuleEvent.status == "pending",
            sa.and_(RuleEvent.status == "running",
                    RuleEvent.processed_at < moment - STALE_CLAIM)))
            .order_by(RuleEvent.id).limit(limit)))
        db.session.commit()
        for event_id in ids:
            db.session.execute(sa.update(RuleEvent).where(
                RuleEvent.id == event_id, RuleEvent.status == "running").values(
                status="pending"))
            db.session.commit()
        dispatch(ids)
        return len(ids)


def _claim(session: Session, event_id: int) -> RuleEvent | None:
    claimed = session.execute(sa.update(RuleEvent).where(
        RuleEvent.id == event_id, RuleEvent.status == "pending").values(
        status="running", attempts=RuleEvent.attempts + 1, processed_at=utcnow()))
    session.commit()
    if claimed.rowcount != 1:
        return None
    return session.get(RuleEvent, event_id)


def _finish(session: Session, event_id: int, status: str, error: str | None = None) -> None:
    session.execute(sa.update(RuleEvent).where(RuleEvent.id == event_id).values(
        status=status, error=error, processed_at=utcnow()))
    session.commit()


def engine_event(rules: AppRules, row: RuleEvent) -> dict[str, Any] | None:
    """The outbox row as the pool's event (app-owned names translated), None if the
    entity it names is gone."""
    payload = row.payload
    event: dict[str, Any] = {"ref": row.ref, "trigger": row.trigger, "ts": payload["ts"],
                             "data": payload.get("data") or {}}
    if row.trigger.startswith("record_"):
        if row.subject not in rules.entity_ids:
            return None
        event["entity"] = rules.entity_alias(row.subject, sync=False)
        if "old" in payload:
            event["old"] = payload["old"]
    elif row.trigger == "event":
        event["type"] = rules.event_alias(row.subject)
    else:
        event["process"] = rules.process_alias(row.subject)
        event["step"] = payload.get("step")
    return event


def process_event(session: Session, event_id: int) -> list[int]:
    """Match one outbox event and run what fired; returns the run ids."""
    row = _claim(session, event_id)
    if row is None:
        return []
    app = session.get(App, row.app_id)
    rules = runtime().app_rules(session, app) if app is not None else None
    session.commit()
    event = engine_event(rules, row) if rules is not None else None
    if event is None:
        _finish(session, event_id, "done")
        return []
    results = [r for r in runtime().match([event])
               if r.rule_key in rules.rules and not rules.rules[r.rule_key].sync]
    run_ids = [run_rule(session, app, rules, rules.rules[r.rule_key], row, r) for r in results]
    errors = [r.error for r in results if r.error is not None]
    _finish(session, event_id, "failed" if errors else "done", errors[0] if errors else None)
    return run_ids


def _start_run(session: Session, app: App, rule: LoadedRule, row: RuleEvent,
               result: MatchResult) -> int:
    """The run-log row of (rule version, event): created once, found again on a retry."""
    values = dict(app_id=app.id, rule_key=rule.key, rule_version=rule.version,
                  event_id=row.id, event_ref=row.ref, trigger=row.trigger,
                  entity_key=rule.entity_key, record_id=row.record_id, status="running",
                  conditions=list(result.conditions), actions=[], error=None,
                  depth=row.depth, created_at=utcnow())
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    run_id = conn.execute(insert(RUNS).values(**values).on_conflict_do_nothing()
                          .returning(RUNS.c.id)).scalar()
    if run_id is None:
        run_id = conn.execute(sa.select(RUNS.c.id).where(
            RUNS.c.app_id == app.id, RUNS.c.rule_key == rule.key,
            RUNS.c.rule_version == rule.version, RUNS.c.event_ref == row.ref)).scalar_one()
    session.commit()
    return run_id


def _over_daily_limit(session: Session, app: App, rule: LoadedRule, record_id: int | None,
                      run_id: int) -> bool:
    limit = (rule.definition.get("options") or {}).get("max_fires_per_record_per_day")
    if not limit or record_id is None:
        return False
    tz = zoneinfo.ZoneInfo(current_app.config.get("RULES_TIMEZONE", "Asia/Shanghai"))
    midnight = dt.datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    fired = session.scalar(sa.select(sa.func.count()).select_from(RUNS).where(
        RUNS.c.app_id == app.id, RUNS.c.rule_key == rule.key, RUNS.c.record_id == record_id,
        RUNS.c.status.in_(("ok", "error")), RUNS.c.created_at >= midnight.astimezone(dt.UTC),
        RUNS.c.id != run_id))
    session.commit()
    return int(fired or 0) >= int(limit)


def run_rule(session: Session, app: App, rules: AppRules, rule: LoadedRule, row: RuleEvent,
             result: MatchResult, *, now: dt.datetime | None = None) -> int:
    """Log the run and execute the rule's actions in order (each its own transaction)."""
    run_id = _start_run(session, app, rule, row, result)
    if result.error is not None:
        _end_run(session, run_id, "error", [], result.error)
        log.error("rule %s (app %s) could not be matched for %s: %s", rule.key, app.key,
                  row.ref, result.error)
        return run_id
    if _over_daily_limit(session, app, rule, row.record_id, run_id):
        _end_run(session, run_id, "skipped", [], "max fires per record per day reached")
        return run_id
    payload = row.payload
    ctx = ActionContext(
        session=session, app=app, rule_key=rule.key, rule_version=rule.version,
        definition=rule.definition, owner=rule.owner, event_ref=row.ref, trigger=row.trigger,
        entity_key=rule.entity_key or payload.get("entity"), record_id=row.record_id,
        data=payload.get("data") or {}, fields=rules.schemas.get(schema_key(rule.internal), {}),
        depth=row.depth, now=now or utcnow(), run_id=run_id)
    outcomes = [run_action(ctx, i, action)
                for i, action in enumerate(rule.definition["actions"])]
    errors = [o["error"] for o in outcomes if o["status"] == "error"]
    _end_run(session, run_id, "error" if errors else "ok", outcomes,
             errors[0] if errors else None)
    return run_id


def _end_run(session: Session, run_id: int, status: str, actions: list[dict[str, Any]],
             error: str | None) -> None:
    session.execute(sa.update(RuleRun).where(RuleRun.id == run_id).values(
        status=status, actions=actions, error=error))
    session.commit()
