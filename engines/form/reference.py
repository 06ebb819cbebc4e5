"""The reference validator: plain jsonschema over the published record schema, extended
with Loom's ``x-`` keywords (bounds and scale of decimal strings, date bounds, card check
digit). Slow, obviously right; the fast validator is tested against it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import jsonschema
from jsonschema import validators

from engines.form.definition import record_schema
from engines.form.errors import FieldProblem
from engines.form.types.values import (
    is_date,
    is_datetime,
    parse_date,
    parse_datetime,
    quantize,
    to_decimal,
)


def _as_comparable(kind: str, value: Any) -> Any:
    if kind == "date":
        return parse_date(value)
    if kind == "datetime":
        return parse_datetime(value)
    return to_decimal(value)


def _bound(op: str):
    def check(validator: Any, bound: str, instance: Any, schema: dict[str, Any]) -> Iterator[
            jsonschema.ValidationError]:
        kind = schema.get("x-loom-type", "number")
        try:
            value = _as_comparable(kind, instance)
            limit = _as_comparable(kind, bound)
        except FieldProblem:
            return  # type/pattern keywords report the malformed value
        if kind == "money":
            value, limit = Decimal(value), Decimal(limit)
        if (op == "min" and value < limit) or (op == "max" and value > limit):
            yield jsonschema.ValidationError(f"{instance!r} is out of bounds ({op} {bound})")

    return check


def _scale(validator: Any, scale: int, instance: Any, schema: dict[str, Any]) -> Iterator[
        jsonschema.ValidationError]:
    if isinstance(instance, bool) or not isinstance(instance, int | Decimal):
        return  # strings are held by the pattern
    value = Decimal(instance)
    if value != quantize(value, scale):
        yield jsonschema.ValidationError(f"{instance!r} has more than {scale} decimal places")
    elif abs(value) >= Decimal(10) ** 15:
        yield jsonschema.ValidationError(f"{instance!r} has too many digits")


def _card(validator: Any, kind: str, instance: Any, schema: dict[str, Any]) -> Iterator[
        jsonschema.ValidationError]:
    if kind != "card_number" or not isinstance(instance, str):
        return
    from engines.form import cards

    try:
        pan = cards.normalize_pan(instance)
    except ValueError as exc:
        yield jsonschema.ValidationError(str(exc))
        return
    if not cards.luhn_valid(pan):
        yield jsonschema.ValidationError("check digit")


def _check(validator: Any, check: str, instance: Any, schema: dict[str, Any]) -> Iterator[
        jsonschema.ValidationError]:
    from engines.form.checks import identifier_problem

    if isinstance(instance, str) and (problem := identifier_problem(check, instance)):
        yield jsonschema.ValidationError(f"{instance!r} {problem}")


FORMATS = jsonschema.FormatChecker(formats=())
# a format constrains strings only; other types are the "type" keyword's business
FORMATS.checks("date")(lambda value: not isinstance(value, str) or is_date(value))
FORMATS.checks("date-time")(lambda value: not isinstance(value, str) or is_datetime(value))

LoomValidator = validators.extend(
    jsonschema.Draft202012Validator,
    {"x-minimum": _bound("min"), "x-maximum": _bound("max"), "x-scale": _scale,
     "x-loom-type": _card, "x-check": _check},
)


def reference_validator(definition: dict[str, Any], *, for_update: bool = False) -> Any:
    return LoomValidator(record_schema(definition, for_update=for_update),
                         format_checker=FORMATS)
