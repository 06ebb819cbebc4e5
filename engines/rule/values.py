"""Field types -> value categories, and parsing of raw JSON values into exact Python values.

Shared by the reference evaluator and the engine encoder so that both read the same input
the same way; what they do with the parsed values is independent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

DECIMAL, DATE, DATETIME, BOOL, STRING, LIST = (
    "decimal", "date", "datetime", "bool", "string", "list",
)

CATEGORY_BY_FIELD_TYPE = {
    "number": DECIMAL, "money": DECIMAL, "percent": DECIMAL, "relation": DECIMAL,
    "date": DATE, "datetime": DATETIME, "boolean": BOOL,
    "text": STRING, "textarea": STRING, "select": STRING, "user": STRING,
    "email": STRING, "phone": STRING, "url": STRING, "auto_number": STRING,
    "card_number": STRING, "multiselect": LIST,
}
"""Field types usable in conditions. subtable, attachment and formula are not (yet)."""

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)


def field_type_of(field_def: Any) -> str:
    """Accept either `"money"` or `{"type": "money", ...}` as a field description."""
    if isinstance(field_def, dict):
        return str(field_def.get("type", ""))
    return str(field_def)


def category_of(field_def: Any) -> str | None:
    """The comparison category of a field, or None when conditions cannot use it."""
    return CATEGORY_BY_FIELD_TYPE.get(field_type_of(field_def))


def parse_decimal(raw: Any, *, allow_float: bool = True) -> Decimal:
    """Exact decimal from int / decimal string / Decimal; floats only through their repr."""
    if isinstance(raw, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(raw, int | Decimal):
        value = Decimal(raw)
    elif isinstance(raw, float):
        if not allow_float:
            raise ValueError("floats are not accepted here (use a decimal string)")
        value = Decimal(repr(raw))
    elif isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation as exc:
            raise ValueError(f"{raw!r} is not a decimal number") from exc
    else:
        raise ValueError(f"{raw!r} is not a number")
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a finite number")
    return value


def parse_date(raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        raise ValueError("a datetime is not a date")
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, str):
        return dt.date.fromisoformat(raw)
    raise ValueError(f"{raw!r} is not an ISO date")


def parse_datetime(raw: Any) -> dt.datetime:
    """Aware datetime; a naive value is taken as UTC (the platform stores UTC)."""
    if isinstance(raw, str):
        raw = dt.datetime.fromisoformat(raw)
    if not isinstance(raw, dt.datetime):
        raise ValueError(f"{raw!r} is not an ISO datetime")
    return raw if raw.tzinfo is not None else raw.replace(tzinfo=UTC)


def parse_value(category: str, raw: Any) -> Any:
    """Parse one raw value of a category; None stays None (an empty field)."""
    if raw is None:
        return None
    if category == DECIMAL:
        return parse_decimal(raw)
    if category == DATE:
        return parse_date(raw)
    if category == DATETIME:
        return parse_datetime(raw)
    if category == BOOL:
        if not isinstance(raw, bool):
            raise ValueError(f"{raw!r} is not a boolean")
        return raw
    if category == STRING:
        if not isinstance(raw, str):
            raise ValueError(f"{raw!r} is not a string")
        return raw
    if category == LIST:
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise ValueError(f"{raw!r} is not a list of strings")
        return list(raw)
    raise ValueError(f"unknown category {category!r}")


def timestamp_ms(raw: Any) -> int:
    """Event time (epoch seconds as int, float or decimal string) in whole milliseconds."""
    return int(parse_decimal(raw) * 1000)


def local_date(moment_ms: int, tz: dt.tzinfo) -> dt.date:
    """The calendar date of an epoch-milliseconds instant in a timezone."""
    return (EPOCH + dt.timedelta(milliseconds=moment_ms)).astimezone(tz).date()


def epoch_microseconds(value: dt.datetime) -> int:
    return (value - EPOCH) // dt.timedelta(microseconds=1)
