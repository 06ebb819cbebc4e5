"""Parsing of decimal, date and date-time values shared by several field types.

Money and decimals never pass through float: JSON numbers arrive as ``Decimal`` (the platform
parses JSON with ``parse_float=Decimal``) or as decimal strings.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from engines.form.errors import FieldProblem

# [0-9], not \d: Python's \d also matches other scripts' digits, JSON Schema's does not
DECIMAL_RE = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")
DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
DATETIME_RE = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
MAX_DIGITS = 15  # integer digits allowed in money/decimal values (fits BIGINT minor units)


def decimal_pattern(scale: int, max_digits: int = MAX_DIGITS) -> str:
    frac = rf"(\.[0-9]{{1,{scale}}})?" if scale > 0 else ""
    return rf"^-?(0|[1-9][0-9]{{0,{max_digits - 1}}}){frac}$"


def to_decimal(value: object) -> Decimal:
    """A JSON number (int/Decimal) or a decimal string -> Decimal; anything else fails."""
    if isinstance(value, bool):
        raise FieldProblem("must be a number, not a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise FieldProblem("must be a finite number")
        return value
    if isinstance(value, float):  # only reachable from Python callers; JSON gives Decimal
        raise FieldProblem("must be a decimal string, not a binary float")
    if isinstance(value, str):
        text = value.strip()
        if not DECIMAL_RE.match(text):
            raise FieldProblem(f"{value!r} is not a decimal number")
        try:
            return Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the regex already guards
            raise FieldProblem(f"{value!r} is not a decimal number") from exc
    raise FieldProblem("must be a number or a decimal string")


def quantize(value: Decimal, scale: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def minor_units(value: Decimal, scale: int) -> int:
    """Exact conversion: refuses values with more fraction digits than the scale."""
    scaled = value.scaleb(scale)
    if scaled != scaled.to_integral_value():
        raise FieldProblem(f"has more than {scale} decimal places")
    return int(scaled)


def format_minor(minor: int, scale: int) -> str:
    """Integer minor units -> decimal string with exactly ``scale`` places."""
    if scale == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(scale + 1, "0")
    return f"{sign}{digits[:-scale]}.{digits[-scale:]}"


def parse_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not DATE_RE.match(value):
        raise FieldProblem("must be a date like 2026-11-20")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise FieldProblem(f"{value!r} is not a real date") from exc


def parse_datetime(value: object) -> dt.datetime:
    """ISO 8601 with an explicit offset -> aware UTC datetime. Naive times are refused:
    a finance platform cannot guess which time zone a client meant."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise FieldProblem("needs a time zone offset")
        return value.astimezone(dt.UTC)
    if not isinstance(value, str) or not DATETIME_RE.match(value):
        raise FieldProblem("must be a date-time with offset like 2026-11-20T10:01:02+08:00")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise FieldProblem(f"{value!r} is not a real date-time") from exc
    return parsed.astimezone(dt.UTC)


def is_date(value: object) -> bool:
    try:
        parse_date(value)
    except FieldProblem:
        return False
    return True


def is_datetime(value: object) -> bool:
    try:
        parse_datetime(value)
    except FieldProblem:
        return False
    return True


def datetime_to_json(value: dt.datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
