"""Scheduled rules (cron + timezone) and the rule jobs of the APScheduler in
app_platform/scheduler.py: the outbox sweep, webhook retries, one cron job per rule.

Why scheduled rules are decided by the reference evaluator and not the worker pool: a
schedule run reads records with an explicit clock (`now`, for "due_date < today - 7"),
holds no window state, and must be testable at any instant; the pool's clock only moves
forward. Why `rule_schedules.last_fire_at`: a run missed while no scheduler was up is
caught up once on start (coalesced), not once per missed slot; the run-log key (rule,
version, minute slot, record) and the action keys make a second scheduler firing the
same slot a no-op.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger
from flask import Flask, current_app
from sqlalchemy.orm import Session

from app_platform.auth.permissions import entity_rights
from app_platform.models import App, Entity, User, utcnow
from app_platform.models.rules import RuleDefinition, RuleEvent, RuleSchedule
from app_platform.services.entities import entity_table
from app_platform.services.rule_runtime import runtime
from app_platform.services.rules import engine_rule, entity_fields, latest_rows
from engines.form import field_type, live_fields
from engines.rule import MatchResult, ReferenceEvaluator

log = logging.getLogger("loom.rules")
JOB_PREFIX = "rule:"
CHUNK = 500


def cron_trigger(definition: dict[str, Any]) -> CronTrigger:
    trigger = definition["trigger"]
    return CronTrigger.from_crontab(trigger["cron"],
                                    timezone=trigger.get("timezone", "Asia/Shanghai"))


def _record_json(entity: Entity, row: Any) -> dict[str, Any]:
    out = {"id": row["id"]}
    for fdef in live_fields(entity.definition):
        out[fdef["key"]] = field_type(fdef["type"]).row_to_json(fdef, row)
    return out


def _selected(session: Session, app: App, row: RuleDefinition, entity: Entity,
              now: dt.datetime) -> list[tuple[dict[str, Any], set[str]]]:
    """Records the owner may read whose condition holds at `now` (with the paths that held)."""
    definition = engine_rule(row.definition)
    tz = definition["trigger"].get("timezone", "Asia/Shanghai")
    evaluator = ReferenceEvaluator([definition], {entity.key: entity_fields(entity)}, tz)
    owner = session.scalar(sa.select(User).where(User.username == row.created_by))
    if owner is None or not owner.is_active:
        raise LookupError(f"the rule's owner {row.created_by!r} no longer exists or is disabled")
    rights = entity_rights(owner.role_keys, owner.is_admin, app, entity.definition)
    if not rights.read:
        raise LookupError(f"the rule's owner may not read {entity.key!r} records")
    table = entity_table(entity)
    scope = [table.c.created_by == owner.username] if rights.read == "own" else []
    ts = f"{now.timestamp():.3f}"
    found, last_id = [], 0
    while True:
        rows = session.execute(sa.select(table).where(table.c.id > last_id, *scope)
                               .order_by(table.c.id).limit(CHUNK)).mappings().all()
        if not rows:
            return found
        for record_row in rows:
            record = _record_json(entity, record_row)
            event = {"ref": record["id"], "trigger": "schedule", "rule": definition["key"],
                     "ts": ts, "data": record}
            for fire in evaluator.process([event]):
                found.append((record, fire.true_terms))
        evaluator.history.clear()  # no patterns in schedules: history is never read
        last_id = rows[-1]["id"]


def run_schedule(session: Session, app_id: int, rule_key: str, now: dt.datetime) -> list[int]:
    """Run a scheduled rule at `now`: its actions once per selected record. Returns the
    run ids (a slot run twice returns the same runs and repeats no action)."""
    from app_platform.services.rule_dispatch import run_rule

    now = now.astimezone(dt.UTC)  # SQLite keeps no offset: store UTC only
    app = session.get(App, app_id)
    rules = runtime().app_rules(session, app) if app is not None else None
    loaded = rules.by_key(rule_key) if rules is not None else None
    if loaded is None or loaded.definition["trigger"]["type"] != "schedule":
        return []
    row = session.get(RuleDefinition, loaded.row_id)
    entity = session.scalar(sa.select(Entity).filter_by(app_id=app.id, key=loaded.entity_key))
    slot = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M")
    run_ids = []
    try:
        selected = _selected(session, app, row, entity, now) if entity is not None else []
    except LookupError as exc:
        selected = []
        log.error("scheduled rule %s of app %s cannot run: %s", rule_key, app.key, exc)
    session.commit()
    for record, true_terms in selected:
        event = RuleEvent(id=None, app_id=app.id, ref=f"schedule:{slot}:{record['id']}",
                          trigger="schedule", subject=rule_key, record_id=record["id"],
                          payload={"data": record, "ts": f"{now.timestamp():.3f}"}, depth=0)
        result = MatchResult(loaded.alias, loaded.version, event.ref, tuple(sorted(true_terms)))
        run_ids.append(run_rule(session, app, rules, loaded, event, result, now=now))
    _mark_fired(session, app.id, rule_key, now)
    return run_ids


def _mark_fired(session: Session, app_id: int, rule_key: str, now: dt.datetime) -> None:
    state = session.get(RuleSchedule, (app_id, rule_key))
    if state is None:
        session.add(RuleSchedule(app_id=app_id, rule_key=rule_key, last_fire_at=now))
    else:
        state.last_fire_at = now
    session.commit()


def scheduled_rules(session: Session) -> list[RuleDefinition]:
    rows = []
    for app in session.scalars(sa.select(App)):
        rows += [r for r in latest_rows(session, app)
                 if r.enabled and r.trigger_type == "schedule"]
    return rows


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def catch_up(session: Session, now: dt.datetime) -> list[tuple[int, str]]:
    """Run once every scheduled rule whose next fire time since its last run has passed
    (missed while no scheduler was running). Returns the (app id, rule key) pairs run."""
    ran = []
    now = now.astimezone(dt.UTC)
    for row in scheduled_rules(session):
        state = session.get(RuleSchedule, (row.app_id, row.key))
        last = _aware(state.last_fire_at if state and state.last_fire_at else row.created_at)
        due = cron_trigger(row.definition).get_next_fire_time(None, last + dt.timedelta(
            seconds=1))
        if due is not None and due <= now:
            ran.append((row.app_id, row.key))
    session.commit()
    for app_id, key in ran:
        run_schedule(session, app_id, key, now)
    return ran


# -- APScheduler wiring -----------------------------------------------------------------
def schedule_job(app: Flask, app_id: int, rule_key: str, now: dt.datetime | None = None) -> None:
    from app_platform.extensions import db

    with app.app_context():
        run_schedule(db.session, app_id, rule_key, now or utcnow())


def catch_up_job(app: Flask) -> None:
    from app_platform.extensions import db

    with app.app_context():
        catch_up(db.session, utcnow())


def refresh_jobs(scheduler: Any, app: Flask) -> None:
    """Make the scheduler's rule jobs match the enabled scheduled rules in the database
    (on start, after every rule save in this process, and every minute)."""
    from apscheduler.schedulers.base import STATE_STOPPED

    from app_platform.extensions import db

    with app.app_context():
        rows = scheduled_rules(db.session)
        db.session.commit()
    if scheduler.state == STATE_STOPPED:
        return
    wanted = {f"{JOB_PREFIX}{r.app_id}:{r.key}:{r.id}": r for r in rows}
    for job in scheduler.get_jobs():
        if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
            job.remove()
    for job_id, row in wanted.items():
        if scheduler.get_job(job_id) is None:
            scheduler.add_job(schedule_job, cron_trigger(row.definition),
                              args=[app, row.app_id, row.key], id=job_id, coalesce=True,
                              misfire_grace_time=3600, max_instances=1, replace_existing=True)


def refresh_jobs_if_running() -> None:
    scheduler = current_app.extensions.get("loom_scheduler")
    if scheduler is not None:
        refresh_jobs(scheduler, current_app._get_current_object())  # type: ignore[attr-defined]


def _refresh_loop(scheduler: Any, app: Flask, every: int) -> None:
    """Why a thread of its own and not a scheduler job: a job that adds jobs deadlocks
    with shutdown(wait=True), which holds the job-store lock while it waits for jobs."""
    from apscheduler.schedulers.base import STATE_STOPPED

    for _ in range(300):  # started just before scheduler.start(): wait for it (30 s)
        if scheduler.state != STATE_STOPPED:
            break
        time.sleep(0.1)
    while scheduler.state != STATE_STOPPED:
        try:
            refresh_jobs(scheduler, app)
        except Exception:  # the next round tries again
            log.exception("refreshing scheduled rule jobs failed")
        for _ in range(every):
            if scheduler.state == STATE_STOPPED:
                return
            time.sleep(1)


def init_scheduler(scheduler: Any, app: Flask, sweep_seconds: int = 30) -> None:
    """Add the rule jobs to the platform scheduler (called from scheduler.start, before
    scheduler.start()): the outbox sweep, webhook retries, a one-off catch-up of missed
    schedules, and a thread keeping one cron job per scheduled rule."""
    import threading

    from app_platform.services.rule_delivery import deliver_due_job
    from app_platform.services.rule_dispatch import process_pending

    common = {"max_instances": 1, "coalesce": True, "replace_existing": True}
    scheduler.add_job(process_pending, "interval", args=[app], id="rule-events",
                      seconds=sweep_seconds, **common)
    scheduler.add_job(deliver_due_job, "interval", args=[app], id="rule-webhooks",
                      seconds=sweep_seconds, **common)
    scheduler.add_job(catch_up_job, args=[app], id="rule-catch-up", **common)
    threading.Thread(target=_refresh_loop, args=(scheduler, app, 60), daemon=True,
                     name="loom-rule-jobs").start()
