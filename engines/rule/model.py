"""Validation of rule definitions: the JSON Schema shape, then the meaning against the
entity's fields (missing fields, operators that do not fit the field type, bad cron, bad
webhook URL, unknown target entities). Every problem is reported, not just the first."""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection, Mapping
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from jsonschema import Draft202012Validator

from engines.rule import actions as action_registry
from engines.rule.conditions import iter_terms
from engines.rule.errors import RuleDefinitionError
from engines.rule.schema import RULE_SCHEMA
from engines.rule.values import (
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    LIST,
    STRING,
    category_of,
    field_type_of,
    parse_decimal,
    parse_value,
)

_SCHEMA_VALIDATOR = Draft202012Validator(RULE_SCHEMA)
ORDERED = (DECIMAL, DATE, DATETIME)
OPS_BY_CATEGORY = {
    DECIMAL: {"eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in"},
    DATE: {"eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in"},
    DATETIME: {"eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in"},
    STRING: {"eq", "ne", "in", "not_in", "contains"},
    BOOL: {"eq", "ne"},
    LIST: {"contains"},
}
_ALWAYS = {"is_empty", "is_not_empty", "changed"}
_SCALAR_CHANGE = {"changed_from", "changed_to"}
UPDATE_TRIGGERS = ("record_updated", "field_changed")
RECORD_TRIGGERS = ("record_created", "record_updated", "record_deleted", "field_changed")


def rule_entity(rule: Mapping[str, Any]) -> str | None:
    """The entity a record trigger listens to (trigger.entity wins over rule.entity)."""
    return rule.get("trigger", {}).get("entity") or rule.get("entity")


def _json_path(parts: Collection[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(rule)"


def validate_rule(
    rule: Mapping[str, Any],
    fields: Mapping[str, Any],
    entities: Collection[str] | None = None,
) -> None:
    """Raise RuleDefinitionError listing every problem of `rule`.

    `fields` maps field key -> field type (`"money"`) or field definition (`{"type": ...}`)
    of the entity (or event payload) the rule reads; `entities` lists existing entity keys
    for create/update actions (None skips that check).
    """
    details = [
        {"path": _json_path(e.absolute_path), "message": e.message}
        for e in sorted(_SCHEMA_VALIDATOR.iter_errors(rule), key=lambda e: list(e.path))
    ]
    if details:
        raise RuleDefinitionError("the rule definition is malformed", details)
    _check_trigger(rule, fields, details)
    _check_condition(rule, fields, details)
    _check_actions(rule, entities, details)
    if details:
        raise RuleDefinitionError("the rule definition is invalid", details)


def _check_trigger(rule: Mapping[str, Any], fields: Mapping[str, Any], details: list) -> None:
    trigger = rule["trigger"]
    kind = trigger["type"]

    def need(key: str) -> None:
        if not trigger.get(key):
            details.append({"path": f"trigger.{key}", "message": f"{kind} needs {key}"})

    if kind in RECORD_TRIGGERS and not rule_entity(rule):
        details.append({"path": "trigger.entity", "message": f"{kind} needs an entity"})
    if kind == "field_changed":
        need("field")
        if trigger.get("field") and trigger["field"] not in fields:
            details.append({"path": "trigger.field",
                            "message": f"field {trigger['field']!r} does not exist"})
    elif kind == "event":
        need("event_type")
    elif kind in ("process_started", "process_completed", "step_reached"):
        need("process")
        if kind == "step_reached":
            need("step")
    elif kind == "schedule":
        need("cron")
        tz_name = trigger.get("timezone", "Asia/Shanghai")
        try:
            tz = zoneinfo.ZoneInfo(tz_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            details.append({"path": "trigger.timezone", "message": f"unknown timezone {tz_name!r}"})
            tz = None
        if trigger.get("cron"):
            try:
                CronTrigger.from_crontab(trigger["cron"], timezone=tz or "UTC")
            except ValueError as exc:
                details.append({"path": "trigger.cron", "message": f"invalid cron: {exc}"})


def _check_condition(rule: Mapping[str, Any], fields: Mapping[str, Any], details: list) -> None:
    kind = rule["trigger"]["type"]
    absences = 0
    for path, term, under_any in iter_terms(rule.get("condition")):
        if "pattern" in term:
            if term["pattern"] == "absence":
                absences += 1
                if under_any:
                    details.append({"path": path, "message": "absence must not be inside any"})
            details.extend(_check_pattern(path, term, kind, fields))
        else:
            details.extend(_check_compare(path, term, kind, fields))
    if absences:
        patterns = [t for _, t, _ in iter_terms(rule.get("condition")) if "pattern" in t]
        if absences > 1 or len(patterns) > 1:
            details.append({"path": "condition", "message":
                            "an absence pattern cannot be combined with other patterns"})


def _field(path: str, name: str, fields: Mapping[str, Any]) -> tuple[str | None, list]:
    if name not in fields:
        return None, [{"path": path, "message": f"field {name!r} does not exist"}]
    category = category_of(fields[name])
    if category is None:
        kind = field_type_of(fields[name])
        return None, [{"path": path, "message": f"{kind} fields cannot be used in conditions"}]
    return category, []


def _check_scalar(path: str, category: str, field_def: Any, raw: Any) -> list[dict[str, str]]:
    if isinstance(raw, dict | list):
        return [{"path": path, "message": "expected a single value"}]
    try:
        if field_type_of(field_def) == "money":
            parse_decimal(raw, allow_float=False)
        elif category in (DATE, DATETIME) and not isinstance(raw, str):
            raise ValueError(f"{raw!r} is not an ISO {category}")
        else:
            parse_value(category, raw)
    except ValueError as exc:
        return [{"path": path, "message": str(exc)}]
    return []


def _check_compare(path: str, term: dict, trigger: str, fields: Mapping[str, Any]) -> list:
    name, op = term["field"], term["op"]
    is_old = name.startswith("old.")
    base = name[4:] if is_old else name
    category, problems = _field(f"{path}.field", base, fields)
    if category is None:
        return problems
    if is_old and trigger not in UPDATE_TRIGGERS:
        problems.append({"path": f"{path}.field",
                         "message": "old values exist only for record_updated/field_changed"})
    if op in _ALWAYS or op in _SCALAR_CHANGE:
        if op.startswith("changed"):
            if trigger not in UPDATE_TRIGGERS:
                problems.append({"path": f"{path}.op",
                                 "message": f"{op} needs a record_updated/field_changed trigger"})
            if is_old:
                problems.append({"path": f"{path}.field", "message": f"{op} reads old itself"})
        if op in _SCALAR_CHANGE and category == LIST:
            problems.append({"path": f"{path}.op", "message": f"{op} needs a single-value field"})
    elif op not in OPS_BY_CATEGORY[category]:
        kind = field_type_of(fields[base])
        return problems + [{"path": f"{path}.op",
                            "message": f"operator {op!r} does not apply to a {kind} field"}]
    value_path = f"{path}.value"
    has_value = "value" in term
    if op in ("is_empty", "is_not_empty", "changed"):
        if has_value:
            problems.append({"path": value_path, "message": f"{op} takes no value"})
        return problems
    if not has_value:
        return problems + [{"path": value_path, "message": f"{op} needs a value"}]
    value = term["value"]
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            return problems + [{"path": value_path, "message": f"{op} needs a list of values"}]
        for i, item in enumerate(value):
            problems.extend(_check_scalar(f"{value_path}[{i}]", category, fields[base], item))
        return problems
    if op == "contains":
        if not isinstance(value, str):
            problems.append({"path": value_path, "message": "contains needs a text value"})
        return problems
    if isinstance(value, dict) and "field" in value:
        return problems + _check_field_ref(value_path, op, category, value["field"], fields)
    if isinstance(value, dict):
        if category not in (DATE, DATETIME) or op not in ("eq", "ne", "lt", "lte", "gt", "gte"):
            problems.append({"path": value_path,
                             "message": "relative dates apply to date/datetime comparisons"})
        return problems
    return problems + _check_scalar(value_path, category, fields[base], value)


def _check_field_ref(path: str, op: str, category: str, other: str,
                     fields: Mapping[str, Any]) -> list[dict[str, str]]:
    """Comparing two fields of the event (`amount > customer.available_credit`): the other
    field must exist and be of the same category, and only plain comparisons apply."""
    if op not in ("eq", "ne", "lt", "lte", "gt", "gte"):
        return [{"path": path, "message": f"{op} cannot compare with another field"}]
    if other.startswith("old."):
        return [{"path": f"{path}.field", "message": "compare with a current field value"}]
    other_category, problems = _field(f"{path}.field", other, fields)
    if other_category is not None and other_category != category:
        problems.append({"path": f"{path}.field", "message":
                         f"cannot compare a {category} field with a {other_category} field"})
    if other_category in (BOOL, LIST) and op not in ("eq", "ne"):
        problems.append({"path": path, "message": f"{op} needs ordered values"})
    return problems


def _check_pattern(path: str, term: dict, trigger: str, fields: Mapping[str, Any]) -> list:
    problems: list[dict[str, str]] = []
    kind = term["pattern"]
    if trigger == "schedule":
        return [{"path": path, "message": "patterns over events need an event/record trigger"}]
    if kind in ("sequence", "absence") and trigger != "event":
        problems.append({"path": path, "message": f"{kind} needs an event trigger"})
    category, found = _field(f"{path}.key", term["key"], fields)
    problems.extend(found)
    if category is not None and category not in (STRING, DECIMAL):
        problems.append({"path": f"{path}.key",
                         "message": "a pattern key must be text or a number"})
    if kind == "sum":
        category, found = _field(f"{path}.field", term["field"], fields)
        problems.extend(found)
        if category is not None and category != DECIMAL:
            problems.append({"path": f"{path}.field", "message": "sum needs a numeric field"})
        problems.extend(_check_scalar(f"{path}.value", DECIMAL, "money", term["value"]))
    return problems


def _check_actions(
    rule: Mapping[str, Any], entities: Collection[str] | None, details: list
) -> None:
    context = {"entities": entities, "sync": rule.get("options", {}).get("sync", False)}
    for i, action in enumerate(rule["actions"]):
        path = f"actions[{i}]"
        schema = action_registry.action_schema(action["type"])
        if schema is None:
            details.append({"path": f"{path}.type",
                            "message": f"unknown action type {action['type']!r}"})
            continue
        errors = sorted(Draft202012Validator(schema).iter_errors(action), key=lambda e: e.path)
        for error in errors:
            sub = _json_path(error.absolute_path)
            details.append({"path": path if sub == "(rule)" else f"{path}.{sub}",
                            "message": error.message})
        for sub, message in action_registry.extra_action_checks(action, context):
            details.append({"path": f"{path}.{sub}", "message": message})


def schema_key(rule: Mapping[str, Any]) -> str:
    """Which entry of the platform's `schemas` map describes the data a rule reads:
    `"event:<type>"` for event triggers, else the entity key."""
    trigger = rule["trigger"]
    if trigger["type"] == "event":
        return f"event:{trigger.get('event_type')}"
    return rule_entity(rule) or ""


def trigger_applies(rule: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether an incoming event is one the rule's trigger listens to (before conditions).

    field_changed listens to record_updated events whose field differs between old and new.
    """
    trigger = rule["trigger"]
    kind = trigger["type"]
    if kind in ("record_created", "record_updated", "record_deleted"):
        return event.get("trigger") == kind and event.get("entity") == rule_entity(rule)
    if kind == "field_changed":
        return event.get("trigger") == "record_updated" and event.get("entity") == rule_entity(
            rule
        )
    if kind == "event":
        return event.get("trigger") == "event" and event.get("type") == trigger["event_type"]
    if kind == "schedule":
        return event.get("trigger") == "schedule" and event.get("rule") == rule["key"]
    if kind in ("process_started", "process_completed"):
        return event.get("trigger") == kind and event.get("process") == trigger["process"]
    if kind == "step_reached":
        return (event.get("trigger") == kind and event.get("process") == trigger["process"]
                and event.get("step") == trigger["step"])
    return False
