"""JSON Schema (draft 2020-12) of a rule definition; the shape only, no field knowledge."""

from __future__ import annotations

from typing import Any

KEY_PATTERN = "^[a-z][a-z0-9_]{0,62}$"
FIELD_OPS = [
    "eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "is_empty",
    "is_not_empty", "changed", "changed_from", "changed_to",
]
COMPARE_OPS = ["eq", "ne", "lt", "lte", "gt", "gte"]
TRIGGER_TYPES = [
    "record_created", "record_updated", "record_deleted", "field_changed", "event",
    "schedule", "process_started", "process_completed", "step_reached",
]
_key = {"type": "string", "pattern": KEY_PATTERN}
_scalar = {"type": ["string", "integer", "number", "boolean"]}
_relative = {
    "type": "object",
    "required": ["relative"],
    "properties": {
        "relative": {"const": "today"},
        "offset_days": {"type": "integer", "minimum": -36600, "maximum": 36600},
    },
    "additionalProperties": False,
}
_window = {"type": "integer", "minimum": 1, "maximum": 31 * 86400}
_FIELD_NAME = "^(old\\.)?[a-z][a-z0-9_]{0,62}(\\.[a-z][a-z0-9_]{0,62})?$"
"""A field of the record, its old value (`old.x`), or a related record's (`customer.x`)."""
_field_ref = {
    "type": "object",
    "required": ["field"],
    "properties": {"field": {"type": "string", "pattern": _FIELD_NAME}},
    "additionalProperties": False,
}

RULE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["key", "name", "trigger", "actions"],
    "additionalProperties": False,
    "properties": {
        "key": _key,
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "version": {"type": "integer", "minimum": 1},
        "entity": _key,
        "trigger": {
            "type": "object",
            "required": ["type"],
            "additionalProperties": False,
            "properties": {
                "type": {"enum": TRIGGER_TYPES},
                "entity": _key,
                "field": _key,
                "event_type": _key,
                "cron": {"type": "string", "minLength": 1},
                "timezone": {"type": "string", "minLength": 1},
                "process": _key,
                "step": {"type": "string", "minLength": 1},
            },
        },
        "condition": {"$ref": "#/$defs/condition"},
        "actions": {"type": "array", "items": {"$ref": "#/$defs/action"}},
        "options": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "priority": {"type": "integer", "minimum": -1000, "maximum": 1000},
                "sync": {"type": "boolean"},
                "max_fires_per_record_per_day": {"type": "integer", "minimum": 1},
            },
        },
    },
    "$defs": {
        "action": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"type": "string"}},
        },
        "condition": {
            "oneOf": [
                {"$ref": "#/$defs/all"}, {"$ref": "#/$defs/any"},
                {"$ref": "#/$defs/compare"}, {"$ref": "#/$defs/pattern"},
            ]
        },
        "all": {
            "type": "object", "required": ["all"], "additionalProperties": False,
            "properties": {"all": {"type": "array", "items": {"$ref": "#/$defs/condition"}}},
        },
        "any": {
            "type": "object", "required": ["any"], "additionalProperties": False,
            "properties": {
                "any": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/condition"}}
            },
        },
        "compare": {
            "type": "object",
            "required": ["field", "op"],
            "additionalProperties": False,
            "properties": {
                "field": {"type": "string", "pattern": _FIELD_NAME},
                "op": {"enum": FIELD_OPS},
                "value": {
                    "oneOf": [
                        _scalar,
                        _relative,
                        _field_ref,
                        {"type": "array", "minItems": 1, "maxItems": 500, "items": _scalar},
                    ]
                },
            },
        },
        "pattern": {
            "type": "object",
            "required": ["pattern", "key"],
            "additionalProperties": False,
            "properties": {
                "pattern": {"enum": ["count", "sum", "sequence", "absence"]},
                "key": _key,
                "window_s": _window,
                "within_s": _window,
                "op": {"enum": COMPARE_OPS},
                "n": {"type": "integer", "minimum": 0},
                "field": _key,
                "value": {"type": ["string", "integer"]},
                "first": _key,
                "then": _key,
            },
            "allOf": [
                {"if": {"properties": {"pattern": {"const": "count"}}},
                 "then": {"required": ["window_s", "op", "n"]}},
                {"if": {"properties": {"pattern": {"const": "sum"}}},
                 "then": {"required": ["window_s", "op", "field", "value"]}},
                {"if": {"properties": {"pattern": {"const": "sequence"}}},
                 "then": {"required": ["first", "within_s"]}},
                {"if": {"properties": {"pattern": {"const": "absence"}}},
                 "then": {"required": ["then", "within_s"]}},
            ],
        },
    },
}
