"""Field types that hold one plain value in one column."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from engines.form.checks import CHECKS, identifier_problem
from engines.form.errors import FieldProblem
from engines.form.types.base import (
    EQUALITY_OPS,
    ORDERED_OPS,
    TEXT_OPS,
    FieldType,
    Parser,
    register,
)
from engines.form.types.values import (
    DATE_RE,
    DATETIME_RE,
    MAX_DIGITS,
    datetime_to_json,
    decimal_pattern,
    format_minor,
    minor_units,
    parse_date,
    parse_datetime,
    quantize,
    to_decimal,
)

MAX_PATTERN = 500


def _bounds_check(field: dict[str, Any], value: Any, shown: str) -> None:
    low, high = field.get("min"), field.get("max")
    if low is not None and value < _comparable(field, low):
        raise FieldProblem(f"must be at least {low} (got {shown})")
    if high is not None and value > _comparable(field, high):
        raise FieldProblem(f"must be at most {high} (got {shown})")


def _comparable(field: dict[str, Any], bound: Any) -> Any:
    kind = field["type"]
    if kind == "money":
        return minor_units(to_decimal(str(bound)), field.get("scale", 2))
    if kind in ("date",):
        return parse_date(bound)
    if kind == "datetime":
        return parse_datetime(bound)
    return to_decimal(bound) if not isinstance(bound, int) else bound


# --- text family -------------------------------------------------------------------------
class _String(FieldType):
    filter_ops = TEXT_OPS
    default_max = 255
    json_format: str | None = None
    builtin_pattern: str | None = None
    settings = {
        "min_length": {"type": "integer", "minimum": 0},
        "max_length": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "pattern": {"type": "string", "maxLength": MAX_PATTERN},
        "check": {"enum": sorted(CHECKS)},  # an identifier's check digit (engines/form/checks)
    }

    def max_length(self, field: dict[str, Any]) -> int:
        return int(field.get("max_length") or self.default_max)

    def check_definition(self, field: dict[str, Any]) -> list[str]:
        if "pattern" in field:
            try:
                re.compile(field["pattern"])
            except re.error as exc:
                return [f"pattern is not a valid regular expression: {exc}"]
        return []

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        size = self.max_length(field)
        return sa.String(size) if size <= 4000 else sa.Text()

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_length(field)}
        shortest = max(int(field.get("min_length") or 0), 1 if field.get("required") else 0)
        if shortest:
            schema["minLength"] = shortest
        pattern = field.get("pattern") or self.builtin_pattern
        if pattern:
            schema["pattern"] = pattern
        if field.get("check"):
            schema["x-check"] = field["check"]
        return schema

    def parser(self, field: dict[str, Any]) -> Parser:
        longest = self.max_length(field)
        shortest = max(int(field.get("min_length") or 0), 1 if field.get("required") else 0)
        pattern_text = field.get("pattern") or self.builtin_pattern
        pattern = re.compile(pattern_text) if pattern_text else None
        what = self.label or "text"
        check = field.get("check")

        def parse(value: Any) -> str:
            if not isinstance(value, str):
                raise FieldProblem("must be a string")
            if len(value) > longest:
                raise FieldProblem(f"is longer than {longest} characters")
            if len(value) < shortest:
                raise FieldProblem(f"is shorter than {shortest} characters")
            if pattern is not None and not pattern.search(value):
                raise FieldProblem(f"is not a valid {what}")
            if check is not None and (problem := identifier_problem(check, value)):
                raise FieldProblem(problem)
            return value

        return parse


@register
class Text(_String):
    name = "text"
    label = "text"


@register
class TextArea(_String):
    name = "textarea"
    label = "text"
    default_max = 65_535
    sortable = False


@register
class Email(_String):
    name = "email"
    label = "e-mail address"
    builtin_pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


@register
class Phone(_String):
    name = "phone"
    label = "phone number"
    default_max = 32
    builtin_pattern = r"^\+?[0-9][0-9 ()-]{2,30}$"


@register
class Url(_String):
    name = "url"
    label = "http(s) URL"
    default_max = 2048
    builtin_pattern = r"^https?://[^\s/$.?#][^\s]*$"


@register
class User(_String):
    """A user by username; the platform checks the user exists."""

    name = "user"
    label = "username"
    default_max = 64
    filter_ops = EQUALITY_OPS


# --- choices ------------------------------------------------------------------------------
def option_values(field: dict[str, Any]) -> list[str]:
    return [o["value"] if isinstance(o, dict) else o for o in field.get("options", [])]


OPTIONS_SETTING = {
    "type": "array",
    "minItems": 1,
    "items": {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": 200},
            {
                "type": "object",
                "properties": {
                    "value": {"type": "string", "minLength": 1, "maxLength": 200},
                    "label": {"type": "string"},
                    "color": {"type": "string"},
                },
                "required": ["value"],
            },
        ]
    },
}


@register
class Select(FieldType):
    name = "select"
    settings = {"options": OPTIONS_SETTING}

    def check_definition(self, field: dict[str, Any]) -> list[str]:
        values = option_values(field)
        if not values:
            return ["options: a select needs at least one option"]
        if len(set(values)) != len(values):
            return ["options: values must be unique"]
        return []

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.String(max(64, max(len(v) for v in option_values(field))))

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "enum": option_values(field)}

    def parser(self, field: dict[str, Any]) -> Parser:
        allowed = frozenset(option_values(field))
        shown = ", ".join(option_values(field)[:10])

        def parse(value: Any) -> str:
            if not isinstance(value, str) or value not in allowed:
                raise FieldProblem(f"must be one of: {shown}")
            return value

        return parse


@register
class MultiSelect(FieldType):
    name = "multiselect"
    settings = {"options": OPTIONS_SETTING, "max_items": {"type": "integer", "minimum": 1}}
    filter_ops = frozenset({"contains", "isnull"})
    sortable = False

    check_definition = Select.check_definition

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.JSON(none_as_null=True)

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "array",
            "items": {"type": "string", "enum": option_values(field)},
            "uniqueItems": True,
        }
        if field.get("max_items"):
            schema["maxItems"] = field["max_items"]
        return schema

    def parser(self, field: dict[str, Any]) -> Parser:
        one = Select().parser(field)
        limit = field.get("max_items")

        def parse(value: Any) -> list[str]:
            if not isinstance(value, list):
                raise FieldProblem("must be a list of options")
            picked = [one(v) for v in value]
            if len(set(picked)) != len(picked):
                raise FieldProblem("lists an option twice")
            if limit and len(picked) > limit:
                raise FieldProblem(f"allows at most {limit} options")
            return picked

        return parse

    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        return Select().parser(field)(raw)


@register
class Boolean(FieldType):
    name = "boolean"

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.Boolean()

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        return {"type": "boolean"}

    def parser(self, field: dict[str, Any]) -> Parser:
        def parse(value: Any) -> bool:
            if not isinstance(value, bool):
                raise FieldProblem("must be true or false")
            return value

        return parse

    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise FieldProblem("must be true or false")


# --- numbers --------------------------------------------------------------------------------
NUMBER_BOUNDS = {"min": {"type": ["number", "string"]}, "max": {"type": ["number", "string"]}}


@register
class Number(FieldType):
    """scale 0: whole numbers in BIGINT. scale > 0: NUMERIC, decimal strings in JSON."""

    name = "number"
    filter_ops = ORDERED_OPS
    settings = {"scale": {"type": "integer", "minimum": 0, "maximum": 8}, **NUMBER_BOUNDS}

    def scale(self, field: dict[str, Any]) -> int:
        return int(field.get("scale", 0))

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        scale = self.scale(field)
        return sa.BigInteger() if scale == 0 else sa.Numeric(MAX_DIGITS + scale, scale)

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        scale = self.scale(field)
        if scale == 0:
            schema: dict[str, Any] = {
                "type": "integer",
                "minimum": -(10**MAX_DIGITS) + 1,
                "maximum": 10**MAX_DIGITS - 1,
            }
            if field.get("min") is not None:
                schema["minimum"] = max(schema["minimum"], int(field["min"]))
            if field.get("max") is not None:
                schema["maximum"] = min(schema["maximum"], int(field["max"]))
            return schema
        return _decimal_schema(field, scale, allow_number=True)

    def parser(self, field: dict[str, Any]) -> Parser:
        scale = self.scale(field)
        limit = 10**MAX_DIGITS

        if scale == 0:

            def parse_int(value: Any) -> int:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise FieldProblem("must be a whole number")
                if not -limit < value < limit:
                    raise FieldProblem(f"must have at most {MAX_DIGITS} digits")
                _bounds_check(field, value, str(value))
                return value

            return parse_int

        read, bounds = _decimal_reader(scale), _bounds(field)

        def parse_dec(value: Any) -> Decimal:
            number = read(value)
            if bounds is not None:
                bounds(number, str(value))
            return number

        return parse_dec

    def to_json(self, field: dict[str, Any], value: Any) -> Any:
        scale = self.scale(field)
        if scale == 0:
            return int(value)
        return str(quantize(Decimal(value), scale))

    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        if self.scale(field) == 0:
            number = to_decimal(raw)
            if number != number.to_integral_value():
                raise FieldProblem("must be a whole number")
            return int(number)
        return to_decimal(raw)


def _decimal_reader(scale: int) -> Callable[[Any], Decimal]:
    """A per-field reader of decimal input. Strings (the common case) take one precompiled
    regex, which already bounds the digits and the decimal places; JSON numbers take the
    careful path."""
    pattern = re.compile(decimal_pattern(scale))
    message = f"must be a decimal with at most {MAX_DIGITS} digits and {scale} decimal places"

    def read(value: Any) -> Decimal:
        if isinstance(value, str):
            if pattern.match(value) is None:
                raise FieldProblem(message)
            return Decimal(value)
        return _checked_decimal(value, scale)

    return read


def _bounds(field: dict[str, Any]) -> Callable[[Any, str], None] | None:
    """The min/max check of a field, or None when it has no bounds (most fields)."""
    if field.get("min") is None and field.get("max") is None:
        return None
    return lambda value, shown: _bounds_check(field, value, shown)


def _checked_decimal(value: Any, scale: int) -> Decimal:
    if isinstance(value, str) and not re.match(decimal_pattern(scale), value):
        raise FieldProblem(
            f"must be a decimal with at most {MAX_DIGITS} digits and {scale} decimal places"
        )
    number = to_decimal(value)
    if abs(number) >= Decimal(10) ** MAX_DIGITS:
        raise FieldProblem(f"must have at most {MAX_DIGITS} digits before the point")
    if number != quantize(number, scale):
        raise FieldProblem(f"has more than {scale} decimal places")
    return number


def _add_bounds(schema: dict[str, Any], field: dict[str, Any]) -> None:
    """Bounds on decimal strings and dates are not expressible in JSON Schema; they go in
    ``x-minimum``/``x-maximum``, which Loom's reference validator understands."""
    schema["x-loom-type"] = field["type"]
    if field.get("min") is not None:
        schema["x-minimum"] = str(field["min"])
    if field.get("max") is not None:
        schema["x-maximum"] = str(field["max"])


def _decimal_schema(field: dict[str, Any], scale: int, allow_number: bool) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": ["string", "number"] if allow_number else ["string", "integer"],
        "pattern": decimal_pattern(scale),
        "x-scale": scale,
    }
    _add_bounds(schema, field)
    return schema


@register
class Money(FieldType):
    """Integer minor units in storage; a decimal string in JSON."""

    name = "money"
    filter_ops = ORDERED_OPS
    settings = {
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "scale": {"type": "integer", "minimum": 0, "maximum": 4},
        **NUMBER_BOUNDS,
    }

    def scale(self, field: dict[str, Any]) -> int:
        return int(field.get("scale", 2))

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.BigInteger()

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        schema = _decimal_schema(field, self.scale(field), allow_number=False)
        schema["x-money-currency"] = field.get("currency", "CNY")
        return schema

    def parser(self, field: dict[str, Any]) -> Parser:
        scale = self.scale(field)

        read, bounds = _decimal_reader(scale), _bounds(field)

        def parse(value: Any) -> int:
            if isinstance(value, Decimal):
                raise FieldProblem("money must be a decimal string like \"1234.50\"")
            amount = minor_units(read(value), scale)
            if bounds is not None:
                bounds(amount, str(value))
            return amount

        return parse

    def to_json(self, field: dict[str, Any], value: Any) -> Any:
        return format_minor(int(value), self.scale(field))

    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        return minor_units(to_decimal(raw), self.scale(field))


@register
class Percent(Number):
    """A percentage as a decimal (12.5 means 12.5 %), kept exact."""

    name = "percent"
    settings = {"scale": {"type": "integer", "minimum": 0, "maximum": 6}, **NUMBER_BOUNDS}

    def scale(self, field: dict[str, Any]) -> int:
        return int(field.get("scale", 2))

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.Numeric(MAX_DIGITS + self.scale(field), self.scale(field))

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        return _decimal_schema(field, self.scale(field), allow_number=True)

    def parser(self, field: dict[str, Any]) -> Parser:
        scale = self.scale(field)

        read, bounds = _decimal_reader(scale), _bounds(field)

        def parse(value: Any) -> Decimal:
            number = read(value)
            if bounds is not None:
                bounds(number, str(value))
            return number

        return parse

    def to_json(self, field: dict[str, Any], value: Any) -> Any:
        return str(quantize(Decimal(value), self.scale(field)))

    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        return to_decimal(raw)


# --- dates ----------------------------------------------------------------------------------
@register
class Date(FieldType):
    name = "date"
    filter_ops = ORDERED_OPS
    settings = {"min": {"type": "string", "format": "date"}, "max": {"type": "string"}}

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.Date()

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "pattern": DATE_RE.pattern, "format": "date"}
        _add_bounds(schema, field)
        return schema

    def parser(self, field: dict[str, Any]) -> Parser:
        def parse(value: Any) -> Any:
            day = parse_date(value)
            _bounds_check(field, day, str(value))
            return day

        return parse

    def to_json(self, field: dict[str, Any], value: Any) -> Any:
        return value.isoformat()


@register
class DateTime(FieldType):
    """Time-zone aware; stored in UTC; JSON uses ISO 8601 with ``Z``."""

    name = "datetime"
    filter_ops = ORDERED_OPS
    settings = {"min": {"type": "string"}, "max": {"type": "string"}}

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.DateTime(timezone=True)

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "string",
            "pattern": DATETIME_RE.pattern,
            "format": "date-time",
        }
        _add_bounds(schema, field)
        return schema

    def parser(self, field: dict[str, Any]) -> Parser:
        def parse(value: Any) -> Any:
            moment = parse_datetime(value)
            _bounds_check(field, moment, str(value))
            return moment

        return parse

    def to_json(self, field: dict[str, Any], value: Any) -> Any:
        return datetime_to_json(value)
