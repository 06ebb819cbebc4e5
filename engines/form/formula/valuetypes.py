"""Static types of formula values, how entity field types map onto them, and the checks
that turn a record's raw values into the shapes the evaluator relies on.

Types are plain strings so they serialize and print well: ``number``, ``text``,
``boolean``, ``date``, ``datetime``, ``null`` (only the literal ``null``), ``list``
(multiselect/attachment values), ``rows`` (a subtable) and ``column:<type>`` (one column of
a subtable, e.g. ``items.amount`` is ``column:number``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any

from engines.form.formula.errors import FormulaEvaluationError

NUMBER, TEXT, BOOLEAN, DATE, DATETIME = "number", "text", "boolean", "date", "datetime"
NULL, LIST, ROWS = "null", "list", "rows"
SCALAR_TYPES = frozenset({NUMBER, TEXT, BOOLEAN, DATE, DATETIME})
COLUMN_PREFIX = "column:"

#: every number operation goes through this context (never the thread's current one), so
#: results do not depend on who called decimal.getcontext().prec = ... elsewhere
DECIMAL = Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

#: longest text a formula may produce; stops ``concat`` doubling its way to gigabytes
MAX_TEXT_LENGTH = 10_000

# Entity field type -> formula type. "formula" fields are resolved by the entity compiler
# (to the result type of their own formula); card_number is "text" because the record
# stores the token (see cards.py), never the card number.
FIELD_TYPE_TO_FORMULA_TYPE: dict[str, str] = {
    "text": TEXT, "textarea": TEXT, "select": TEXT, "email": TEXT, "phone": TEXT, "url": TEXT,
    "auto_number": TEXT, "user": TEXT, "card_number": TEXT,
    "number": NUMBER, "money": NUMBER, "percent": NUMBER, "relation": NUMBER,
    "date": DATE, "datetime": DATETIME, "boolean": BOOLEAN,
    "multiselect": LIST, "attachment": LIST, "subtable": ROWS,
}


def formula_type_of(field_type: str) -> str | None:
    """The formula type for an entity field type (or a formula type given directly)."""
    if field_type in SCALAR_TYPES:
        return field_type
    return FIELD_TYPE_TO_FORMULA_TYPE.get(field_type)


def column_type(element: str) -> str:
    return COLUMN_PREFIX + element


def column_element(type_: str) -> str | None:
    """``number`` for ``column:number``; None for anything that is not a column."""
    return type_[len(COLUMN_PREFIX):] if type_.startswith(COLUMN_PREFIX) else None


def unify(a: str, b: str) -> str | None:
    """The type both values can have (null fits anything); None when they conflict."""
    if a == b:
        return a
    if a == NULL:
        return b
    if b == NULL:
        return a
    return None


def describe(type_: str) -> str:
    element = column_element(type_)
    if element:
        return f"a subtable column of {element}"
    return {ROWS: "a subtable", LIST: "a list", NULL: "null"}.get(type_, type_)


# -- runtime checks of record values ------------------------------------------------------


def _bad(key: str, expected: str, value: Any) -> FormulaEvaluationError:
    hint = " (pass Decimal: money in major units, never float)" if isinstance(value, float) else ""
    return FormulaEvaluationError(
        f"field {key!r} should hold {expected}, got {type(value).__name__}{hint}"
    )


def _number(key: str, value: Any) -> Any:
    if type(value) is Decimal:
        if value.is_finite():
            return value
        raise FormulaEvaluationError(f"field {key!r} holds {value}, not a finite number")
    if value is None:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise _bad(key, "a Decimal", value)


def _text(key: str, value: Any) -> Any:
    if value is None or type(value) is str:
        return value
    if isinstance(value, int) and not isinstance(value, bool):  # user / id values
        return str(value)
    if isinstance(value, str):
        return str(value)
    raise _bad(key, "text", value)


def _boolean(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    raise _bad(key, "a boolean", value)


def _date(key: str, value: Any) -> Any:
    if value is None or type(value) is dt.date:
        return value
    raise _bad(key, "a datetime.date", value)


def _datetime(key: str, value: Any) -> Any:
    if value is None:
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise FormulaEvaluationError(
                f"field {key!r} holds a naive datetime; pass an aware one (UTC)"
            )
        return value
    raise _bad(key, "an aware datetime", value)


def _sequence(key: str, value: Any) -> Any:
    if value is None or isinstance(value, list | tuple):
        return value
    raise _bad(key, "a list", value)


_SCALAR_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    NUMBER: _number, TEXT: _text, BOOLEAN: _boolean, DATE: _date, DATETIME: _datetime,
    LIST: _sequence, ROWS: _sequence,
}


def value_reader(key: str, type_: str) -> Callable[[Any], Any]:
    """A function that takes a record's ``values`` mapping and returns the checked value.

    For ``items.amount`` it returns the list of that column across the subtable's rows.
    """
    element = column_element(type_)
    if element is None:
        check = _SCALAR_CHECKS[type_]

        def read(values: Any) -> Any:
            return check(key, values.get(key))

        return read
    table, column = key.split(".", 1)
    check_cell = _SCALAR_CHECKS[element]

    def read_column(values: Any) -> Any:
        rows = values.get(table)
        if not rows:
            return []
        try:
            return [check_cell(key, row.get(column)) for row in rows]
        except AttributeError:
            raise FormulaEvaluationError(
                f"subtable {table!r} should hold a list of rows (dicts)"
            ) from None

    return read_column
