"""The approval-node designer's node types: one explicit registry with settings schemas.

Why a registry: the browser designer builds its property panels from ``node_types()``
(the platform serves it at a ``/types`` endpoint) and the compiler dispatches on the same
table, so a node type exists in exactly one place. Each type publishes a JSON Schema of
its ``settings``; ``designer_schema()`` assembles the schema of a whole definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .model import ASSIGNMENT_KINDS, COUNTERSIGN_MODES

ASSIGNEE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind"],
    "additionalProperties": False,
    "properties": {
        "kind": {"enum": list(ASSIGNMENT_KINDS)},
        "value": {"type": "string", "minLength": 1},
    },
}
DURATION = {
    "type": "string",
    "pattern": r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$",
}
TIMEOUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["after", "action"],
    "additionalProperties": False,
    "properties": {
        "after": DURATION,
        "action": {"enum": ["remind", "escalate", "auto_approve", "auto_reject"]},
        "escalate_to": ASSIGNEE_SCHEMA,
    },
    "if": {"properties": {"action": {"const": "escalate"}}},
    "then": {"required": ["escalate_to"]},
}
FIELD_PERMISSIONS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["key"],
        "additionalProperties": False,
        "properties": {
            "key": {"type": "string"},
            "access": {"enum": ["read", "edit", "hidden"]},
            "required": {"type": "boolean"},
        },
    },
}
NODE_LIST = {"type": "array", "items": {"$ref": "#/$defs/node"}}
BRANCH = {
    "type": "object",
    "required": ["nodes"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "condition": {"type": "string", "minLength": 1},
        "default": {"type": "boolean"},
        "nodes": NODE_LIST,
    },
}


@dataclass(frozen=True)
class NodeType:
    """A designer node type: its name, label, settings schema and compiler."""

    type: str
    label: str
    settings_schema: dict[str, Any]
    compile: Callable[..., Any] | None = None

    def describe(self) -> dict[str, Any]:
        return {"type": self.type, "label": self.label, "settings_schema": self.settings_schema}


NODE_TYPES: dict[str, NodeType] = {}


def register(node_type: NodeType) -> NodeType:
    """Add a node type; the name must be new (no silent replacement)."""
    if node_type.type in NODE_TYPES:
        raise ValueError(f"node type '{node_type.type}' is already registered")
    NODE_TYPES[node_type.type] = node_type
    return node_type


def _settings(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": properties,
    }


SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "start": ("发起 Start", _settings({"field_permissions": FIELD_PERMISSIONS})),
    "approver": (
        "审批人 Approver",
        _settings(
            {
                "assignee": ASSIGNEE_SCHEMA,
                "timeout": TIMEOUT_SCHEMA,
                "field_permissions": FIELD_PERMISSIONS,
            },
            ("assignee",),
        ),
    ),  # fmt: skip
    "countersign": (
        "会签 Countersign",
        {
            **_settings(
                {
                    "assignee": ASSIGNEE_SCHEMA,
                    "mode": {"enum": list(COUNTERSIGN_MODES)},
                    "n": {"type": "integer", "minimum": 1},
                    "pct": {"type": "integer", "minimum": 1, "maximum": 100},
                    "timeout": TIMEOUT_SCHEMA,
                    "field_permissions": FIELD_PERMISSIONS,
                },
                ("assignee", "mode"),
            ),
            "allOf": [
                {"if": {"properties": {"mode": {"const": "n_of_m"}}}, "then": {"required": ["n"]}},
                {
                    "if": {"properties": {"mode": {"const": "percentage"}}},
                    "then": {"required": ["pct"]},
                },
            ],
        },
    ),  # fmt: skip
    "cc": (
        "抄送 CC",
        _settings({"to": {"type": "array", "minItems": 1, "items": ASSIGNEE_SCHEMA}}, ("to",)),
    ),
    "condition": (
        "条件分支 Condition",
        _settings({"branches": {"type": "array", "minItems": 2, "items": BRANCH}}, ("branches",)),
    ),
    "parallel": (
        "并行分支 Parallel",
        _settings({"branches": {"type": "array", "minItems": 2, "items": BRANCH}}, ("branches",)),
    ),
    "auto_action": (
        "自动动作 Auto action",
        _settings(
            {
                "action": {"type": "string", "pattern": r"^[a-z][a-z0-9_.]*$"},
                "params": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            ("action",),
        ),
    ),  # fmt: skip
    "end": ("结束 End", _settings({})),
}


def designer_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a designer definition ``{"key", "name", "nodes"}``."""
    node_schema = {
        "type": "object",
        "required": ["id", "type"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "maxLength": 64,
                   "pattern": r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*$"},
            "type": {"enum": list(NODE_TYPES)},
            "name": {"type": "string", "maxLength": 200},
            "settings": {"type": "object"},
        },
        # if/then per type (not oneOf) so an error points into the node's own settings
        "allOf": [
            {"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
             "then": {"properties": {"settings": node_type.settings_schema}}}
            for name, node_type in NODE_TYPES.items()
        ],
    }  # fmt: skip
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://loom.dev/schema/flow-designer.json",
        "type": "object",
        "required": ["key", "nodes"],
        "additionalProperties": False,
        "properties": {
            "key": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,63}$"},
            "name": {"type": "string", "maxLength": 200},
            "nodes": {**NODE_LIST, "minItems": 1},
        },
        "$defs": {"node": node_schema},
    }


def node_types() -> list[dict[str, Any]]:
    """Registered node types with their settings schemas, for the designer's panels."""
    return [node_type.describe() for node_type in NODE_TYPES.values()]
