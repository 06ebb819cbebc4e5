"""Registry of rule action types: each maps a type name to a JSON Schema of its settings.

The platform executes actions; this engine only checks their shape at save time, and the
designer builds its property panels from `action_types()`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

_KEY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
_FIELD_VALUES = {"type": "object", "propertyNames": _KEY}

_ACTION_SCHEMAS: dict[str, dict[str, Any]] = {}
_EXTRA_CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[tuple[str, str]]]] = {}


def register_action(
    type_name: str,
    settings_schema: dict[str, Any],
    extra_check: Callable[[dict[str, Any], dict[str, Any]], list[tuple[str, str]]] | None = None,
) -> None:
    """Add an action type. `extra_check(action, context)` returns (sub-path, message) pairs
    for checks a schema cannot express (known entities, URL schemes, sync-only actions)."""
    schema = {
        "type": "object",
        "required": ["type", *settings_schema.get("required", [])],
        "properties": {"type": {"const": type_name}, **settings_schema.get("properties", {})},
        "additionalProperties": False,
    }
    _ACTION_SCHEMAS[type_name] = schema
    if extra_check is not None:
        _EXTRA_CHECKS[type_name] = extra_check


def action_types() -> dict[str, dict[str, Any]]:
    """Every registered action type with its JSON Schema (copies)."""
    return copy.deepcopy(_ACTION_SCHEMAS)


def action_schema(type_name: str) -> dict[str, Any] | None:
    return _ACTION_SCHEMAS.get(type_name)


def extra_action_checks(action: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
    check = _EXTRA_CHECKS.get(action.get("type", ""))
    return check(action, context) if check else []


def _entity_exists(entity_field: str) -> Callable[[dict[str, Any], dict[str, Any]], list]:
    def check(action: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
        known = context.get("entities")
        target = action.get(entity_field)
        if known is not None and target is not None and target not in known:
            return [(entity_field, f"target entity {target!r} does not exist")]
        return []

    return check


def _check_webhook(action: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
    url = str(action.get("url", ""))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [("url", f"webhook URL must be http:// or https:// with a host, got {url!r}")]
    return []


def _check_block(action: dict[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
    if not context.get("sync"):
        return [("type", "block is only allowed in sync rules (options.sync = true)")]
    return []


register_action("set_fields", {"required": ["values"], "properties": {"values": _FIELD_VALUES}})
register_action(
    "create_record",
    {"required": ["entity", "values"], "properties": {"entity": _KEY, "values": _FIELD_VALUES}},
    _entity_exists("entity"),
)
register_action(
    "update_record",
    {
        "required": ["entity", "values"],
        "properties": {
            "entity": _KEY,
            "record": {"type": "string", "minLength": 1},
            "values": _FIELD_VALUES,
        },
    },
    _entity_exists("entity"),
)
register_action(
    "start_process",
    {"required": ["process"], "properties": {"process": _KEY, "data": {"type": "object"}}},
)
register_action(
    "create_task",
    {
        "required": ["title", "assignee"],
        "properties": {
            "title": {"type": "string", "minLength": 1},
            "assignee": {"type": "string", "minLength": 1},
            "due_in_days": {"type": "integer", "minimum": 0},
        },
    },
)
register_action(
    "notify",
    {
        "required": ["to", "message"],
        "properties": {
            "to": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            "message": {"type": "string", "minLength": 1},
            "channel": {"enum": ["inbox", "email"]},
        },
    },
)
register_action(
    "webhook",
    {
        "required": ["url"],
        "properties": {
            "url": {"type": "string", "minLength": 1},
            "method": {"enum": ["POST", "PUT", "PATCH"]},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "body": {"type": "object"},
        },
    },
    _check_webhook,
)
register_action(
    "post_event",
    {
        "required": ["event_type"],
        "properties": {"event_type": _KEY, "data": {"type": "object"}},
    },
)
register_action(
    "run_reconciliation",
    {"required": ["config"], "properties": {"config": _KEY}},
)
register_action(
    "block",
    {"required": ["message"], "properties": {"message": {"type": "string", "minLength": 1}}},
    _check_block,
)
