"""The field-type contract and the registry every other part of Loom reads.

A field type knows, for one field definition: its settings schema (the designer builds the
property panel from it), its JSON Schema fragment (published, and the reference the fast
validator is tested against), its SQL columns, how to parse a JSON value into the stored
value (the fast validator), how to turn a stored value back into JSON, and how to read a
filter value from a query string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import sqlalchemy as sa

from engines.form.errors import FieldProblem

Parser = Callable[[Any], Any]

# Filter operators, by the shape of the stored value.
ORDERED_OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "isnull"})
TEXT_OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "isnull"})
EQUALITY_OPS = frozenset({"eq", "ne", "in", "isnull"})

COMMON_SETTINGS: dict[str, Any] = {
    "key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
    "label": {"type": "string", "maxLength": 200},
    "type": {"type": "string"},
    "required": {"type": "boolean"},
    "unique": {"type": "boolean"},
    "indexed": {"type": "boolean"},
    "default": {},
    "help": {"type": "string", "maxLength": 1000},
    "placeholder": {"type": "string", "maxLength": 200},
    "read_only": {"type": "boolean"},
    "visible_if": {"type": "string", "maxLength": 2000},
    "required_if": {"type": "string", "maxLength": 2000},
    "permissions": {
        "type": "object",
        "additionalProperties": {"enum": ["hidden", "read_only"]},
    },
    "removed": {"type": "boolean"},
    "width": {"type": "integer", "minimum": 1, "maximum": 3},
}


class FieldType:
    """One kind of field. Subclasses set ``name`` and override what differs."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    settings: ClassVar[dict[str, Any]] = {}
    filter_ops: ClassVar[frozenset[str]] = EQUALITY_OPS
    sortable: ClassVar[bool] = True
    #: computed by the platform (formula, auto_number): clients may not write it
    computed: ClassVar[bool] = False

    # -- definition -----------------------------------------------------------------
    def settings_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {**COMMON_SETTINGS, **self.settings},
            "required": ["key", "type"],
            "additionalProperties": False,
        }

    def check_definition(self, field: dict[str, Any]) -> list[str]:
        """Problems beyond the settings schema (cross-setting rules). Empty when fine."""
        return []

    # -- storage --------------------------------------------------------------------
    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        raise NotImplementedError

    def columns(self, field: dict[str, Any]) -> list[sa.Column]:
        return [sa.Column(field["key"], self.column_type(field), nullable=True)]

    # -- validation -----------------------------------------------------------------
    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def parser(self, field: dict[str, Any]) -> Parser:
        """A function JSON value -> stored value that raises FieldProblem. None passes
        through (required-ness is checked by the validator)."""
        raise NotImplementedError

    def bind(self, field: dict[str, Any], context: Mapping[str, Any]) -> Parser:
        """The parser for one validator; types that need secrets or clocks override."""
        return self.parser(field)

    def store(self, field: dict[str, Any], parsed: Any) -> dict[str, Any]:
        """Parsed value -> {column: value}; multi-column types override."""
        return {field["key"]: parsed}

    # -- output ---------------------------------------------------------------------
    def to_json(self, field: dict[str, Any], value: Any) -> Any:
        return value

    def row_to_json(self, field: dict[str, Any], row: Any) -> Any:
        """Read this field from a result row (a mapping); multi-column types override."""
        return self.to_json(field, row[field["key"]]) if row[field["key"]] is not None else None

    # -- filters --------------------------------------------------------------------
    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        """Turn a query-string value into something comparable with the column."""
        return self.parser(field)(raw)

    def output_columns(self, field: dict[str, Any]) -> list[str]:
        return [field["key"]]


def nullable(fragment: dict[str, Any]) -> dict[str, Any]:
    """The same fragment, also accepting null (an empty optional field)."""
    result = dict(fragment)
    kinds = result.get("type")
    if kinds is None:
        return {"anyOf": [fragment, {"type": "null"}]}
    result["type"] = [*(kinds if isinstance(kinds, list) else [kinds]), "null"]
    if "enum" in result:
        result["enum"] = [*result["enum"], None]
    return result


_REGISTRY: dict[str, FieldType] = {}


def register(cls: type[FieldType]) -> type[FieldType]:
    """Class decorator: add a field type to the registry under its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY:
        raise ValueError(f"field type {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def field_type(name: str) -> FieldType:
    return _REGISTRY[name]


def has_field_type(name: str) -> bool:
    return name in _REGISTRY


def field_types() -> dict[str, FieldType]:
    return dict(_REGISTRY)


def problem(message: str) -> FieldProblem:
    return FieldProblem(message)
