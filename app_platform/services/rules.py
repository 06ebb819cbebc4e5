"""Rule definitions: validate at save (shape, fields, operators, cron, targets, and the
owner's right to write what the actions write), store as versions, list, delete.

Why permission checks at save as well as at run time: a rule runs later as its owner (the
user who saved this version), so a designer must not be able to save a rule that writes
an entity or field they could not write by hand; the run-time check (RecordService as the
owner) catches rights withdrawn after the save.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.auth.permissions import entity_rights, field_access
from app_platform.errors import Conflict, NotFound, Unprocessable
from app_platform.models import App, Entity, utcnow
from app_platform.models.rules import RuleAppState, RuleDefinition, RuleRun
from app_platform.services import audit
from app_platform.services.apps import app_for
from engines.form import live_fields
from engines.rule import RuleDefinitionError, compile_rule
from engines.rule.model import RECORD_TRIGGERS, rule_entity
from engines.rule.values import CATEGORY_BY_FIELD_TYPE

PLATFORM_KEYS = ("event_fields",)
"""Keys the platform keeps in a stored rule but the engine never sees: `event_fields`
declares the payload of an event type ({"card": "text", "amount": "money"})."""
WRITING_ACTIONS = {"set_fields": "update", "create_record": "create", "update_record": "update"}
UNAVAILABLE_ACTIONS = {"run_reconciliation": "run_reconciliation is not available in rules "
                       "yet; run reconciliations from the settlement module"}


def plain_json(value: Any) -> Any:
    """Request JSON with Decimal numbers (json_body) as exact decimal strings: JSON
    columns cannot hold Decimal, and the rule model reads decimal strings exactly."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    return value


def engine_rule(definition: dict[str, Any]) -> dict[str, Any]:
    """The stored definition as the engine's JSON shape (platform-only keys removed)."""
    return {k: v for k, v in definition.items() if k not in PLATFORM_KEYS}


def entity_fields(entity: Entity) -> dict[str, dict[str, Any]]:
    return {f["key"]: f for f in live_fields(entity.definition)}


def condition_fields(session: Session, entity: Entity) -> dict[str, dict[str, Any]]:
    """What a record-triggered rule may read: the entity's fields plus, one level deep,
    each related record's fields as `relation.field` (record_events puts their values in
    the event data). Why: checks like `amount > customer.available_credit` need them."""

    def definition_of(key: str) -> dict[str, Any] | None:
        target = session.query(Entity).filter_by(app_id=entity.app_id, key=key).first()
        return target.definition if target is not None else None

    return with_related_fields(entity_fields(entity), definition_of)


def with_related_fields(fields: dict[str, dict[str, Any]],
                        definition_of: Callable[[str], dict[str, Any] | None]
                        ) -> dict[str, dict[str, Any]]:
    """`fields` plus `relation.field` for every relation's target entity (found through
    `definition_of(entity key)`). Numeric formulas of the related record are offered as
    numbers with thousands grouping in messages (they are read, never written)."""
    related: dict[str, dict[str, Any]] = {}
    for key, fdef in fields.items():
        if fdef.get("type") != "relation" or not fdef.get("target"):
            continue
        definition = definition_of(fdef["target"])
        for sdef in live_fields(definition) if definition is not None else []:
            sub = sdef["key"]
            if sdef.get("type") == "formula":
                if sdef.get("result_type", "number") != "number":
                    continue
                sdef = {"key": sub, "type": "number", "scale": sdef.get("scale", 2),
                        "grouped": True, "label": sdef.get("label", sub)}
            related[f"{key}.{sub}"] = sdef
    return {**fields, **related}


def event_schema(session: Session, app: App, rows: list[RuleDefinition],
                 event_type: str) -> dict[str, Any]:
    """Fields of an event type's payload, merged over every rule of the app that declares
    them (`event_fields`, or `entity`: the payload has that entity's fields)."""
    merged: dict[str, Any] = {}
    for row in rows:
        definition = row.definition
        if definition["trigger"].get("event_type") != event_type:
            continue
        merged.update(declared_event_fields(session, app, definition))
    return merged


def declared_event_fields(session: Session, app: App, definition: dict[str, Any]) -> dict:
    fields = dict(definition.get("event_fields") or {})
    if definition.get("entity"):
        entity = session.query(Entity).filter_by(app_id=app.id, key=definition["entity"]).first()
        if entity is not None:
            fields = {**entity_fields(entity), **fields}
    return fields


def latest_rows(session: Session, app: App) -> list[RuleDefinition]:
    newest = (sa.select(RuleDefinition.key, sa.func.max(RuleDefinition.version).label("v"))
              .where(RuleDefinition.app_id == app.id).group_by(RuleDefinition.key).subquery())
    return list(session.scalars(sa.select(RuleDefinition).join(newest, sa.and_(
        RuleDefinition.key == newest.c.key, RuleDefinition.version == newest.c.v))
        .where(RuleDefinition.app_id == app.id).order_by(RuleDefinition.key)))


def latest_row(session: Session, app: App, key: str) -> RuleDefinition | None:
    return session.scalars(sa.select(RuleDefinition).where(
        RuleDefinition.app_id == app.id, RuleDefinition.key == key)
        .order_by(RuleDefinition.version.desc()).limit(1)).first()


def get_row(session: Session, app: App, key: str, version: int | None = None) -> RuleDefinition:
    if version is None:
        row = latest_row(session, app, key)
    else:
        row = session.scalars(sa.select(RuleDefinition).filter_by(
            app_id=app.id, key=key, version=version)).first()
    if row is None:
        suffix = f" at version {version}" if version is not None else ""
        raise NotFound(f"no rule {key!r}{suffix} in app {app.key!r}")
    return row


def rule_json(session: Session, row: RuleDefinition) -> dict[str, Any]:
    last_error = session.scalars(sa.select(RuleRun).where(
        RuleRun.app_id == row.app_id, RuleRun.rule_key == row.key)
        .order_by(RuleRun.id.desc()).limit(1)).first()
    flagged = None
    if last_error is not None and last_error.status == "error":
        flagged = {"run_id": last_error.id, "error": last_error.error}
    return {**row.definition, "version": row.version, "created_by": row.created_by,
            "created_at": row.created_at.isoformat() if row.created_at else None,
            "flagged": flagged}


# -- validation -------------------------------------------------------------------------
def schema_for(session: Session, app: App, definition: dict[str, Any]) -> dict[str, Any]:
    trigger = definition.get("trigger")
    if not isinstance(trigger, dict) or not isinstance(trigger.get("type"), str):
        raise Unprocessable("the rule needs a trigger with a type",
                            [{"path": "trigger.type", "message": "is required"}])
    if trigger["type"] == "event":
        others = [r for r in latest_rows(session, app) if r.key != definition["key"]]
        declared = declared_event_fields(session, app, definition)
        merged = event_schema(session, app, others, definition["trigger"].get("event_type"))
        return {**merged, **declared}
    key = rule_entity(definition)
    entity = session.query(Entity).filter_by(app_id=app.id, key=key).first() if key else None
    if entity is None:
        return {}
    if trigger["type"] in RECORD_TRIGGERS:
        return condition_fields(session, entity)
    return entity_fields(entity)


def _event_field_problems(session: Session, app: App, definition: dict[str, Any]) -> list:
    declared = definition.get("event_fields")
    problems: list[dict[str, str]] = []
    if declared is None:
        return problems
    if not isinstance(declared, dict):
        return [{"path": "event_fields", "message": "must map field keys to field types"}]
    for name, kind in declared.items():
        type_name = kind.get("type") if isinstance(kind, dict) else kind
        if type_name not in CATEGORY_BY_FIELD_TYPE:
            problems.append({"path": f"event_fields.{name}",
                             "message": f"{type_name!r} is not a field type rules can read"})
    event_type = definition["trigger"].get("event_type")
    others = [r for r in latest_rows(session, app) if r.key != definition["key"]]
    known = event_schema(session, app, others, event_type)
    for name, kind in declared.items():
        mine = kind.get("type") if isinstance(kind, dict) else kind
        theirs = known.get(name)
        theirs = theirs.get("type") if isinstance(theirs, dict) else theirs
        if theirs is not None and theirs != mine:
            problems.append({"path": f"event_fields.{name}", "message":
                             f"other rules read {event_type}.{name} as {theirs}, not {mine}"})
    return problems


def _write_problems(session: Session, caller: Caller, app: App,
                    definition: dict[str, Any]) -> list[dict[str, str]]:
    """Actions may only write entities and fields the saving user (the owner) may write."""
    problems: list[dict[str, str]] = []
    for i, action in enumerate(definition.get("actions") or []):
        kind = action.get("type")
        if kind in UNAVAILABLE_ACTIONS:
            problems.append({"path": f"actions[{i}].type", "message": UNAVAILABLE_ACTIONS[kind]})
        if kind not in WRITING_ACTIONS:
            continue
        target = rule_entity(definition) if kind == "set_fields" else action.get("entity")
        entity = session.query(Entity).filter_by(app_id=app.id, key=target).first() \
            if isinstance(target, str) else None
        if entity is None:
            if kind == "set_fields":
                problems.append({"path": f"actions[{i}]",
                                 "message": "set_fields needs a rule on an entity's records"})
            continue
        rights = entity_rights(caller.roles, caller.is_admin, app, entity.definition)
        if not getattr(rights, WRITING_ACTIONS[kind]):
            problems.append({"path": f"actions[{i}]", "message": f"you may not "
                             f"{WRITING_ACTIONS[kind]} {entity.key!r} records, so this rule "
                             "may not either"})
        fields = entity_fields(entity)
        hidden, read_only = field_access(caller.roles, caller.is_admin, entity.definition)
        for name in action.get("values") or {}:
            path = f"actions[{i}].values.{name}"
            if name not in fields:
                problems.append({"path": path, "message": f"{entity.key} has no field {name!r}"})
            elif name in hidden or name in read_only:
                problems.append({"path": path, "message": "you may not write this field"})
    return problems


def _shape_problems(definition: dict[str, Any]) -> list[dict[str, str]]:
    problems = []
    options = definition.get("options") or {}
    if options.get("sync"):
        if definition["trigger"]["type"] not in RECORD_TRIGGERS:
            problems.append({"path": "options.sync",
                             "message": "sync rules check record writes: use a record trigger"})
        for i, action in enumerate(definition.get("actions") or []):
            if action.get("type") != "block":
                problems.append({"path": f"actions[{i}].type", "message": "a sync rule may "
                                 "only block the write; put other actions in an async rule"})
    return problems


def validate_definition(session: Session, caller: Caller, app: App,
                        definition: dict[str, Any]) -> None:
    """422 listing every problem with its path, or nothing."""
    engine_def = engine_rule(definition)
    trigger = definition.get("trigger")
    fields = schema_for(session, app, definition) if isinstance(trigger, dict) else {}
    entities = [e.key for e in session.query(Entity).filter_by(app_id=app.id)]
    problems: list[dict[str, str]] = []
    if isinstance(trigger, dict) and trigger.get("type") in RECORD_TRIGGERS + ("schedule",):
        wanted = rule_entity(definition)
        if wanted and wanted not in entities:
            where = "trigger.entity" if trigger.get("entity") else "entity"
            problems.append({"path": where, "message": f"entity {wanted!r} does not exist"})
    try:
        compile_rule(engine_def, fields, entities)
    except RuleDefinitionError as exc:
        raise Unprocessable(exc.message, problems + exc.details) from None
    problems += (_event_field_problems(session, app, definition)
                 + _shape_problems(definition) + _write_problems(session, caller, app, definition))
    if problems:
        raise Unprocessable("the rule definition is invalid", problems)


# -- storing ----------------------------------------------------------------------------
def bump_revision(session: Session, app: App) -> None:
    state = session.get(RuleAppState, app.id)
    if state is None:
        session.add(RuleAppState(app_id=app.id, revision=uuid.uuid4().hex, updated_at=utcnow()))
    else:
        state.revision, state.updated_at = uuid.uuid4().hex, utcnow()


def prepare_body(data: Any, key: str | None) -> tuple[dict[str, Any], int | None]:
    if not isinstance(data, dict):
        raise Unprocessable("the rule must be a JSON object")
    data = plain_json(dict(data))
    if key is not None and data.setdefault("key", key) != key:
        raise Unprocessable("a rule's key never changes",
                            [{"path": "key", "message": f"must stay {key!r}"}])
    expected = data.pop("version", None)
    for read_only in ("created_by", "created_at", "flagged"):
        data.pop(read_only, None)
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise Unprocessable("version must be a whole number",
                            [{"path": "version", "message": "must be a whole number"}])
    return data, expected


def save_rule(session: Session, caller: Caller, app_key: str, data: Any,
              key: str | None = None) -> dict[str, Any]:
    """POST (key None: must be new) or PUT (must exist; `version` = the one edited -> 409
    when another save came first). Every save is a new version."""
    app = app_for(session, caller, app_key, "design")
    definition, expected = prepare_body(data, key)
    validate_definition(session, caller, app, definition)
    latest = latest_row(session, app, definition["key"])
    if key is None and latest is not None:
        raise Conflict(f"rule {definition['key']!r} already exists; PUT a new version")
    if key is not None and latest is None:
        raise NotFound(f"no rule {key!r} in app {app.key!r}")
    if latest is not None and expected is not None and expected != latest.version:
        raise Conflict(f"the rule is at version {latest.version}, not {expected}; reload "
                       "and save again")
    version = (latest.version if latest else 0) + 1
    options = definition.get("options") or {}
    row = RuleDefinition(
        app_id=app.id, key=definition["key"], version=version, name=definition["name"],
        trigger_type=definition["trigger"]["type"], enabled=options.get("enabled", True),
        sync=bool(options.get("sync", False)), definition={**definition, "version": version},
        created_by=caller.username, created_at=utcnow())
    session.add(row)
    bump_revision(session, app)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"rule {definition['key']!r} was saved meanwhile; reload") from None
    audit.write(session, [audit.audit_row(caller.username, app.key, rule_entity(definition),
                                          None, "rule.save",
                                          {"rule": row.key, "version": row.version})])
    session.commit()
    _refresh_schedules()
    return rule_json(session, row)


def _refresh_schedules() -> None:
    from app_platform.services import rule_schedule

    rule_schedule.refresh_jobs_if_running()


def list_rules(session: Session, caller: Caller, app_key: str) -> list[dict[str, Any]]:
    app = app_for(session, caller, app_key, "use")
    return [rule_json(session, row) for row in latest_rows(session, app)]


def get_rule(session: Session, caller: Caller, app_key: str, key: str,
             version: int | None = None) -> dict[str, Any]:
    app = app_for(session, caller, app_key, "use")
    return rule_json(session, get_row(session, app, key, version))


def delete_rule(session: Session, caller: Caller, app_key: str, key: str) -> None:
    """Remove every version (the run log keeps its rows: it names rules by key)."""
    app = app_for(session, caller, app_key, "design")
    get_row(session, app, key)
    session.execute(sa.delete(RuleDefinition).where(RuleDefinition.app_id == app.id,
                                                    RuleDefinition.key == key))
    bump_revision(session, app)
    audit.write(session, [audit.audit_row(caller.username, app.key, None, None, "rule.delete",
                                          {"rule": key})])
    session.commit()
    _refresh_schedules()
