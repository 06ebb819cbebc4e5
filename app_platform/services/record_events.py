"""The hook between writes and rules: record writes, posted events and process steps
become rule events here.

Call ``after_write`` inside the writer's transaction, after the row is written and
before the commit (RecordService.create_many / update / delete). It does two things:

* sync rules (options.sync, block actions) are matched right away; a block raises 422
  ``blocked_by_rule`` and, since nothing was committed, nothing is written;
* if an async rule listens, an outbox row (rule_events) is added to the same
  transaction; once it commits, the event is dispatched (inline, see rule_dispatch) and a
  scheduler sweep retries whatever a crash left pending.

Why after the write and not before: the data then has its id, formulas and auto-numbers,
exactly what the rule will see later. Why a chain depth: a rule's own writes come back
here (at depth + 1), and a rule that triggers itself must stop with a logged error, not
loop forever.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import Unprocessable
from app_platform.models import App, Entity, utcnow
from app_platform.models.rules import RuleEvent, RuleRun
from app_platform.services.rule_runtime import AppRules, runtime
from engines.rule.conditions import iter_terms

CHAIN_DEPTH: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "loom_rule_chain_depth", default=None)
"""Set by the dispatcher while a rule's actions run: the depth of the event they serve."""
TRIGGERS = {"create": "record_created", "update": "record_updated", "delete": "record_deleted"}
EVENTS = RuleEvent.__table__


class RuleChainTooDeep(Unprocessable):
    code = "rule_chain_too_deep"


class BlockedByRule(Unprocessable):
    code = "blocked_by_rule"


def now_ts() -> str:
    """Event time as epoch seconds (a decimal string: the rule model never sees floats)."""
    return f"{time.time():.3f}"


def record_ref(entity: Entity, record_id: int, action: str, version: int) -> str:
    return f"{entity.key}:{record_id}:{action}:v{version}"


# -- the hook ---------------------------------------------------------------------------
def after_write(session: Session, caller: Caller, app: App, entity: Entity, action: str,
                before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *,
                version: int = 1, source: str = "api") -> None:
    """One record written (create/update/delete); `before`/`after` are the record as
    JSON with every field (RecordService.to_json_all), None for the missing side."""
    after_write_many(session, caller, app, entity, action, [(before, after, version)],
                     source=source)


def after_write_many(session: Session, caller: Caller, app: App, entity: Entity, action: str,
                     changes: Iterable[tuple[Any, Any] | tuple[Any, Any, int]], *,
                     source: str = "api") -> None:
    """Many records written in one transaction (bulk create): one sync match for all."""
    rules = runtime().app_rules(session, app)
    if rules is None or entity.key not in rules.entity_ids:
        return
    trigger = TRIGGERS[action]
    wants_sync = rules.wants(trigger, entity.key, True)
    wants_async = rules.wants(trigger, entity.key, False)
    if not (wants_sync or wants_async):
        return
    seen: set[str] = session.info.setdefault("loom_rule_refs", set())
    related = _related_reader(session, app, entity, rules)
    items = []
    ts = now_ts()
    for change in changes:
        before, after = change[0], change[1]
        version = change[2] if len(change) > 2 else 1
        record = after if after is not None else before
        ref = record_ref(entity, int(record["id"]), action, version)
        if ref in seen:
            continue
        seen.add(ref)
        payload = {"data": {**dict(record), **related(record)}, "ts": ts}
        if action == "update":
            payload["old"] = dict(before or {})
        items.append((ref, int(record["id"]), payload))
    if wants_sync:
        _check_sync(session, rules, app, entity, trigger, items)
    if wants_async:
        for ref, record_id, payload in items:
            queue_event(session, app, trigger, entity.key, ref, payload, record_id,
                        caller.username if caller else None)


def _related_reader(session: Session, app: App, entity: Entity,
                    rules: AppRules) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A function giving the `relation.field` values the entity's rules read (conditions,
    field references, message placeholders), each related record loaded once. Read in the
    writer's transaction, so a sync check sees the related record as it is right now."""
    from app_platform.services.entities import entity_table
    from app_platform.services.rule_actions import PLACEHOLDER
    from engines.form import field_type, live_fields

    names: set[str] = set()
    for rule in rules.rules.values():
        if rule.entity_key != entity.key:
            continue
        for _path, term, _ in iter_terms(rule.definition.get("condition")):
            value = term.get("value")
            names.update([term.get("field") or "",
                          value.get("field", "") if isinstance(value, dict) else ""])
        names.update(PLACEHOLDER.findall(json.dumps(rule.definition.get("actions", []))))
    relations = {f["key"]: f["target"] for f in live_fields(entity.definition)
                 if f["type"] == "relation" and f.get("target")}
    wanted = {n.split(".", 1)[0] for n in names if "." in n} & set(relations)
    targets = {key: session.scalar(sa.select(Entity).where(
        Entity.app_id == app.id, Entity.key == relations[key])) for key in wanted}
    cache: dict[tuple[str, int], dict[str, Any]] = {}

    def load(key: str, record_id: int) -> dict[str, Any]:
        target = targets[key]
        if (key, record_id) not in cache:
            table = entity_table(target)
            row = session.connection().execute(
                sa.select(table).where(table.c.id == record_id)).mappings().first()
            cache[(key, record_id)] = {} if row is None else {
                f["key"]: field_type(f["type"]).row_to_json(f, row)
                for f in live_fields(target.definition)}
        return cache[(key, record_id)]

    def read(record: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in wanted:
            if targets[key] is not None and isinstance(record.get(key), int):
                out.update({f"{key}.{k}": v for k, v in load(key, record[key]).items()})
        return out

    return read


def post_event(session: Session, caller: Caller | None, app: App, event_type: str,
               data: Mapping[str, Any], *, ref: str | None = None,
               ts: str | None = None) -> int | None:
    """An event posted to the app (API or a post_event action). Returns the outbox id,
    or None when no rule listens (an event nobody waits for is normal)."""
    rules = runtime().app_rules(session, app)
    if rules is None or not rules.wants("event", event_type, False):
        return None
    payload = {"data": dict(data), "ts": ts or now_ts()}
    return queue_event(session, app, "event", event_type, ref, payload, None,
                       caller.username if caller else None)


def process_event(session: Session, app: App, kind: str, process: str, entity: Entity,
                  record: Mapping[str, Any], *, instance_id: int, step: str | None = None) -> None:
    """A flow instance started / completed / reached a step (the flow service calls this
    inside its transaction): `kind` is process_started, process_completed or step_reached."""
    rules = runtime().app_rules(session, app)
    if rules is None or not rules.wants(kind, process, False):
        return
    payload = {"data": dict(record), "ts": now_ts(), "step": step, "entity": entity.key}
    ref = f"{process}:{instance_id}:{kind}:{step or ''}"
    queue_event(session, app, kind, process, ref, payload, int(record["id"]), None)


# -- outbox -----------------------------------------------------------------------------
def queue_event(session: Session, app: App, trigger: str, subject: str, ref: str | None,
                payload: dict[str, Any], record_id: int | None, user: str | None) -> int | None:
    """Add an outbox row to the caller's transaction (dispatched after its commit)."""
    parent = CHAIN_DEPTH.get()
    depth = 0 if parent is None else parent + 1
    limit = int(current_app.config.get("RULES_MAX_CHAIN_DEPTH", 5))
    if depth > limit:
        raise RuleChainTooDeep(
            f"rule chain stopped: this write would trigger rules {depth} levels deep "
            f"(limit {limit}); a rule probably triggers itself")
    conn = session.connection()
    if ref is None:
        import uuid

        ref = f"event:{uuid.uuid4().hex}"
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    event_id = conn.execute(insert(EVENTS).values(
        app_id=app.id, ref=ref, trigger=trigger, subject=subject, record_id=record_id,
        payload=payload, depth=depth, status="pending", attempts=0, created_by=user,
        created_at=utcnow()).on_conflict_do_nothing().returning(EVENTS.c.id)).scalar()
    if event_id is not None:
        session.info.setdefault("loom_rule_pending", []).append(event_id)
        _listen(session)
    return event_id


def _listen(session: Session) -> None:
    if session.info.get("loom_rule_hooked"):
        return
    session.info["loom_rule_hooked"] = True
    sa_event.listen(session, "after_commit", _after_commit)
    sa_event.listen(session, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    pending = session.info.pop("loom_rule_pending", [])
    if pending and current_app.config.get("RULES_INLINE", True):
        from app_platform.services import rule_dispatch

        rule_dispatch.dispatch(pending)


def _after_rollback(session: Session) -> None:
    session.info.pop("loom_rule_pending", None)
    blocked = session.info.pop("loom_rule_blocked", [])
    if blocked:
        _log_blocked(blocked)


# -- sync rules -------------------------------------------------------------------------
def _check_sync(session: Session, rules: AppRules, app: App, entity: Entity, trigger: str,
                items: list[tuple[str, int, dict[str, Any]]]) -> None:
    from app_platform.services.rule_actions import render_text

    alias = rules.entity_alias(entity.key, sync=True)
    events = [{"ref": ref, "trigger": trigger, "entity": alias, **payload}
              for ref, _, payload in items]
    by_ref = {ref: (record_id, payload) for ref, record_id, payload in items}
    problems, runs = [], []
    for result in runtime().match(events):
        rule = rules.rules.get(result.rule_key)
        if rule is None or not rule.sync:
            continue
        record_id, payload = by_ref[result.event_ref]
        if result.error is not None:
            message = f"rule {rule.key!r} could not check this write ({result.error}); " \
                      "nothing was saved"
            problems.append({"path": "", "message": message, "rule": rule.key})
            status = "error"
        else:
            fields = rules.schemas.get(alias, {})
            for action in rule.definition["actions"]:
                message = render_text(action["message"], payload["data"], fields)
                problems.append({"path": "", "message": message, "rule": rule.key})
            status = "blocked"
        runs.append({"app_id": app.id, "rule_key": rule.key, "rule_version": rule.version,
                     "event_ref": result.event_ref, "trigger": trigger,
                     "entity_key": entity.key, "record_id": record_id, "status": status,
                     "conditions": list(result.conditions), "error": problems[-1]["message"],
                     "actions": [{"index": 0, "type": "block", "status": status}]})
    if problems:
        session.info.setdefault("loom_rule_blocked", []).extend(runs)
        _listen(session)
        error = BlockedByRule if all(r["status"] == "blocked" for r in runs) else Unprocessable
        raise error(problems[0]["message"], problems)


def _log_blocked(runs: list[dict[str, Any]]) -> None:
    """Blocked writes are rolled back; their run-log rows are written afterwards."""
    maker = current_app.extensions["loom_db"]["sessionmaker"]
    with maker() as session:
        now = utcnow()
        for run in runs:
            ref = f"{run['event_ref']}:blocked:{now.timestamp():.6f}"
            session.add(RuleRun(**{**run, "event_ref": ref[:200]}, depth=0, created_at=now))
        try:
            session.commit()
        except sa.exc.SQLAlchemyError:  # the log must never turn a 422 into a 500
            session.rollback()


# -- POST /apps/{app}/events ------------------------------------------------------------
def _check_payload(session: Session, app: App, body: Any) -> tuple[str, dict, str | None, Any]:
    import re

    from app_platform.services.rules import event_schema, latest_rows
    from engines.rule.values import category_of, parse_decimal, parse_value

    if not isinstance(body, dict):
        raise Unprocessable("the event must be a JSON object {\"type\", \"data\"}")
    problems = []
    kind, data = body.get("type"), body.get("data", {})
    unknown = sorted(set(body) - {"type", "data", "ref", "ts"})
    problems += [{"path": k, "message": "unknown property"} for k in unknown]
    if not isinstance(kind, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", kind):
        problems.append({"path": "type", "message": "must match [a-z][a-z0-9_]{0,62}"})
    if not isinstance(data, dict):
        problems.append({"path": "data", "message": "must be an object"})
    ref = body.get("ref")
    if ref is not None and (not isinstance(ref, str) or not 0 < len(ref) <= 150):
        problems.append({"path": "ref", "message": "must be a text of 1-150 characters"})
    ts = body.get("ts")
    if ts is not None:
        try:
            ts = str(parse_decimal(ts, allow_float=False))
        except ValueError as exc:
            problems.append({"path": "ts", "message": f"epoch seconds expected: {exc}"})
    if not problems:
        fields = event_schema(session, app, latest_rows(session, app), kind)
        for name, value in data.items():
            category = category_of(fields[name]) if name in fields else None
            if category is None:
                continue
            try:
                parse_value(category, str(value) if isinstance(value, Decimal) else value)
            except ValueError as exc:
                problems.append({"path": f"data.{name}", "message": str(exc)})
    if problems:
        raise Unprocessable("the event is malformed", problems)
    return kind, _plain(data), (f"event:{ref}" if ref else None), ts


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def post_api_event(session: Session, caller: Caller, app_key: str, body: Any) -> dict[str, Any]:
    """Validate and post an event; with inline dispatch the rules have run on return."""
    from app_platform.services.apps import app_for

    app = app_for(session, caller, app_key, "use")
    kind, data, ref, ts = _check_payload(session, app, body)
    if ref is not None:
        known = session.scalar(sa.select(RuleEvent).where(RuleEvent.app_id == app.id,
                                                          RuleEvent.ref == ref))
        if known is not None:
            return _event_json(session, known, duplicate=True)
    event_id = post_event(session, caller, app, kind, data, ref=ref, ts=ts)
    session.commit()
    if event_id is None:
        return {"id": None, "ref": ref, "type": kind, "status": "no_rules", "runs": []}
    return _event_json(session, session.get(RuleEvent, event_id))


def _event_json(session: Session, row: RuleEvent, duplicate: bool = False) -> dict[str, Any]:
    session.refresh(row)
    runs = session.execute(sa.select(RuleRun.id, RuleRun.rule_key, RuleRun.status).where(
        RuleRun.app_id == row.app_id, RuleRun.event_ref == row.ref).order_by(RuleRun.id)).all()
    return {"id": row.id, "ref": row.ref, "type": row.subject, "status": row.status,
            "error": row.error, "duplicate": duplicate,
            "runs": [{"id": i, "rule": k, "status": s} for i, k, s in runs]}
