""""Test this rule" and the run log.

Why the dry run uses the reference evaluator, one condition at a time: the editor must show
which conditions held even when the rule as a whole did not fire, and the reference is the
plain-Python source of truth the engine path is verified against. Nothing is written.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import BadRequest, Unprocessable
from app_platform.models import Entity
from app_platform.models.rules import RuleRun
from app_platform.services.apps import app_for
from app_platform.services.rule_actions import describe
from app_platform.services.rule_delivery import delivery_status
from app_platform.services.rules import (
    engine_rule,
    get_row,
    prepare_body,
    schema_for,
    validate_definition,
)
from engines.rule import ReferenceEvaluator
from engines.rule.conditions import iter_terms
from engines.rule.model import rule_entity, schema_key

RUN_STATUSES = ("ok", "error", "blocked", "skipped", "running")


def _record(session: Session, caller: Caller, app: Any, entity_key: str | None,
            record_id: Any) -> dict[str, Any]:
    from app_platform.services.records import RecordService

    if isinstance(record_id, bool) or not isinstance(record_id, int):
        raise Unprocessable("record_id must be a whole number",
                            [{"path": "record_id", "message": "must be a whole number"}])
    entity = session.scalar(sa.select(Entity).filter_by(app_id=app.id, key=entity_key))
    if entity is None:
        raise Unprocessable("this rule reads no entity's records; paste an event instead")
    return RecordService(session, caller, app, entity).get(record_id)


def _event(session: Session, caller: Caller, app: Any, definition: dict[str, Any],
           body: dict[str, Any]) -> dict[str, Any]:
    kind = definition["trigger"]["type"]
    pasted = body.get("event")
    if pasted is not None and not isinstance(pasted, dict):
        raise Unprocessable("event must be an object with data (and old)")
    if "record_id" in body:
        data = _record(session, caller, app, rule_entity(definition), body["record_id"])
    elif pasted is not None and isinstance(pasted.get("data"), dict):
        data = pasted["data"]
    else:
        raise Unprocessable("give a record_id or an event {\"data\": {...}}",
                            [{"path": "record_id", "message": "required"}])
    old = (pasted or {}).get("old", body.get("old"))
    if old is not None and not isinstance(old, dict):
        raise Unprocessable("old must be an object of field values")
    event: dict[str, Any] = {"ref": "dry-run", "trigger": kind, "ts": f"{time.time():.3f}",
                             "data": data}
    if kind in ("record_updated", "field_changed"):
        event["trigger"] = "record_updated"
        event["old"] = {**data, **(old or {})}
    if kind == "event":
        event["type"] = definition["trigger"]["event_type"]
    elif kind == "schedule":
        event["rule"] = definition["key"]
    elif kind in ("process_started", "process_completed", "step_reached"):
        event["process"] = definition["trigger"]["process"]
        event["step"] = definition["trigger"].get("step")
    else:
        event["entity"] = rule_entity(definition)
    return event


def _fires(definition: dict[str, Any], condition: Any, schemas: dict[str, Any],
           event: dict[str, Any]) -> bool:
    rule = {**definition, "condition": condition} if condition else {
        k: v for k, v in definition.items() if k != "condition"}
    fires = ReferenceEvaluator([{**rule, "options": {"enabled": True}}], schemas).process(
        [event])
    return bool(fires)


def dry_run(session: Session, caller: Caller, app_key: str, key: str,
            body: Any) -> dict[str, Any]:
    """Which conditions hold for a record or pasted event, and what would run. `rule` in
    the body tests an unsaved draft (the editor) instead of the stored version."""
    app = app_for(session, caller, app_key, "design")
    if not isinstance(body, dict):
        raise Unprocessable("the body must be a JSON object")
    if body.get("rule") is not None:
        definition, _ = prepare_body(body["rule"], key)
        validate_definition(session, caller, app, definition)
        version = None
    else:
        row = get_row(session, app, key)
        definition, version = row.definition, row.version
    engine_def = engine_rule(definition)
    schemas = {schema_key(engine_def): schema_for(session, app, definition)}
    event = _event(session, caller, app, definition, body)
    try:
        triggered = _fires(engine_def, None, schemas, event)
        conditions = [{"path": path, **term,
                       "held": triggered and _fires(engine_def, term, schemas, event)}
                      for path, term, _ in iter_terms(engine_def.get("condition"))]
        matched = triggered and _fires(engine_def, engine_def.get("condition"), schemas, event)
    except (ValueError, TypeError, KeyError) as exc:
        raise Unprocessable(f"the event does not fit the rule's fields: {exc}") from None
    actions = [{"index": i, "type": a["type"], "summary": describe(a), "would_run": matched}
               for i, a in enumerate(engine_def["actions"])]
    notes = []
    if any("pattern" in c for c in conditions):
        notes.append("patterns (count/sum/sequence/absence) see only this one event here")
    return {"rule": key, "version": version, "trigger_applies": triggered, "matched": matched,
            "conditions": conditions, "actions": actions,
            "event": {k: v for k, v in event.items() if k != "ref"}, "notes": notes}


# -- the run log ------------------------------------------------------------------------
def _moment(raw: str | None, name: str) -> dt.datetime | None:
    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO date or datetime",
                         code="invalid_query") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def run_json(run: RuleRun, deliveries: dict[str, Any]) -> dict[str, Any]:
    actions = [{**a, "delivery": deliveries[a["key"]]} if a.get("key") in deliveries
               and a.get("type") == "webhook" else a for a in run.actions]
    return {"id": run.id, "rule": run.rule_key, "version": run.rule_version,
            "event_ref": run.event_ref, "trigger": run.trigger, "entity": run.entity_key,
            "record_id": run.record_id, "status": run.status, "conditions": run.conditions,
            "actions": actions, "error": run.error, "depth": run.depth,
            "created_at": run.created_at.isoformat() if run.created_at else None}


def list_runs(session: Session, caller: Caller, app_key: str, key: str, args: Any,
              limit: int, offset: int) -> dict[str, Any]:
    """Filters: status, record_id, since, until (ISO), event_ref."""
    app = app_for(session, caller, app_key, "use")
    where = [RuleRun.app_id == app.id, RuleRun.rule_key == key]
    status = args.get("status")
    if status is not None:
        if status not in RUN_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(RUN_STATUSES)}",
                             code="invalid_query")
        where.append(RuleRun.status == status)
    if args.get("record_id") is not None:
        if not args["record_id"].isdigit():
            raise BadRequest("record_id must be a whole number", code="invalid_query")
        where.append(RuleRun.record_id == int(args["record_id"]))
    if args.get("event_ref"):
        where.append(RuleRun.event_ref == args["event_ref"])
    since, until = _moment(args.get("since"), "since"), _moment(args.get("until"), "until")
    if since is not None:
        where.append(RuleRun.created_at >= since)
    if until is not None:
        where.append(RuleRun.created_at < until)
    total = session.scalar(sa.select(sa.func.count()).select_from(RuleRun).where(*where))
    runs = list(session.scalars(sa.select(RuleRun).where(*where).order_by(RuleRun.id.desc())
                                .limit(limit).offset(offset)))
    keys = [a["key"] for r in runs for a in r.actions if a.get("type") == "webhook"
            and "key" in a]
    deliveries = delivery_status(session, keys)
    return {"items": [run_json(r, deliveries) for r in runs], "total": int(total or 0),
            "limit": limit, "offset": offset, "next_cursor": None}
