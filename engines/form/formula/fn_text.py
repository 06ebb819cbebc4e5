"""Text functions, and the one rule for turning any value into text (used by ``&`` too).

Nulls: concat and ``&`` read null as empty text and len(null) is 0, as spreadsheets do;
the other text functions return null for null so isempty() keeps working on the result.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from engines.form.formula import valuetypes as vt
from engines.form.formula.context import EvalContext
from engines.form.formula.errors import FormulaEvaluationError
from engines.form.formula.fn_math import as_int
from engines.form.formula.registry import ArgInfo, ArgProblem, FunctionSpec, fixed


def to_text(value: Any, ctx: EvalContext) -> str:
    """Numbers in plain notation keeping their scale ("12.50"), dates ISO, datetimes as
    local "YYYY-MM-DD HH:MM:SS", booleans "true"/"false", null as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.copy_abs() if value.is_zero() else value, "f")  # no "-0"
    if isinstance(value, dt.datetime):
        return ctx.local(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise FormulaEvaluationError(f"cannot turn {type(value).__name__} into text")


def capped(text: str) -> str:
    if len(text) > vt.MAX_TEXT_LENGTH:
        raise FormulaEvaluationError(
            f"text result is too long ({len(text)} characters, at most {vt.MAX_TEXT_LENGTH})"
        )
    return text


def _scalars_rule(args: list[ArgInfo]) -> str:
    for index, arg in enumerate(args):
        if arg.type not in vt.SCALAR_TYPES and arg.type != vt.NULL:
            raise ArgProblem(f"argument {index + 1} should be a single value, got "
                             f"{vt.describe(arg.type)}", index)
    return vt.TEXT


def _concat(ctx: EvalContext, *values: Any) -> str:
    return capped("".join(to_text(v, ctx) for v in values))


def _text(ctx: EvalContext, value: Any) -> str | None:
    return None if value is None else to_text(value, ctx)


def _len(ctx: EvalContext, value: str | None) -> Decimal:
    return Decimal(0 if value is None else len(value))


def _upper(ctx: EvalContext, value: str | None) -> str | None:
    return None if value is None else capped(value.upper())  # "ß".upper() grows


def _lower(ctx: EvalContext, value: str | None) -> str | None:
    return None if value is None else value.lower()


def _trim(ctx: EvalContext, value: str | None) -> str | None:
    return None if value is None else value.strip()


def _left(ctx: EvalContext, value: str | None, count: Decimal | None) -> str | None:
    if value is None or count is None:
        return None
    n = as_int(count, "left() count", vt.MAX_TEXT_LENGTH)
    if n < 0:
        raise FormulaEvaluationError("left() count should not be negative")
    return value[:n]


def _right(ctx: EvalContext, value: str | None, count: Decimal | None) -> str | None:
    if value is None or count is None:
        return None
    n = as_int(count, "right() count", vt.MAX_TEXT_LENGTH)
    if n < 0:
        raise FormulaEvaluationError("right() count should not be negative")
    return value[len(value) - n:] if n else ""


def _contains(ctx: EvalContext, value: str | None, part: str | None) -> bool | None:
    if value is None or part is None:
        return None
    return part in value


_T, _N = vt.TEXT, vt.NUMBER
SPECS = [
    FunctionSpec("concat", 1, None, _scalars_rule, _concat,
                 "concat(a, b, ...): join values as text; null counts as empty"),
    FunctionSpec("text", 1, 1, _scalars_rule, _text, "text(x): x written as text"),
    FunctionSpec("len", 1, 1, fixed(_N, _T), _len, "len(s): number of characters; 0 for null"),
    FunctionSpec("upper", 1, 1, fixed(_T, _T), _upper, "upper(s): upper case"),
    FunctionSpec("lower", 1, 1, fixed(_T, _T), _lower, "lower(s): lower case"),
    FunctionSpec("trim", 1, 1, fixed(_T, _T), _trim, "trim(s): without surrounding spaces"),
    FunctionSpec("left", 2, 2, fixed(_T, _T, _N), _left, "left(s, n): the first n characters"),
    FunctionSpec("right", 2, 2, fixed(_T, _T, _N), _right, "right(s, n): the last n characters"),
    FunctionSpec("contains", 2, 2, fixed(vt.BOOLEAN, _T, _T), _contains,
                 "contains(s, part): whether part occurs in s"),
]
