"""Logic, aggregate and arithmetic functions.

Aggregates (sum, count, avg, min, max) take any mix of scalars and subtable columns, as
spreadsheet users expect from SUM(A1, B2:B9); nulls are skipped, as in Excel.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, DecimalException
from typing import Any

from engines.form.formula import valuetypes as vt
from engines.form.formula.errors import FormulaEvaluationError
from engines.form.formula.registry import ArgInfo, ArgProblem, FunctionSpec, expect, fixed

D = vt.DECIMAL
ZERO = Decimal(0)
MAX_ROUND_DIGITS = 20
MAX_POWER_EXPONENT = 100


def as_int(value: Decimal, what: str, limit: int) -> int:
    """An integral Decimal as int, bounded so callers cannot ask for absurd work."""
    if value != value.to_integral_value():
        raise FormulaEvaluationError(f"{what} should be a whole number, got {value}")
    number = int(value)
    if abs(number) > limit:
        raise FormulaEvaluationError(f"{what} should be between -{limit} and {limit}")
    return number


# -- logic --------------------------------------------------------------------------------


def _if_rule(args: list[ArgInfo]) -> str:
    expect(args, 0, vt.BOOLEAN, what="a condition (true/false)")
    for index in (1, 2):
        if args[index].type not in vt.SCALAR_TYPES and args[index].type != vt.NULL:
            raise ArgProblem(f"argument {index + 1} should be a single value, got "
                             f"{vt.describe(args[index].type)}", index)
    result = vt.unify(args[1].type, args[2].type)
    if result is None:
        raise ArgProblem(f"both results of if() must have the same type, got "
                         f"{args[1].type} and {args[2].type}", 2)
    return result


def _if(values: Any, ctx: Any, cond: Any, then: Any, otherwise: Any) -> Any:
    # null counts as false, as in a form condition nobody has answered yet
    return then(values, ctx) if cond(values, ctx) is True else otherwise(values, ctx)


def _coalesce_rule(args: list[ArgInfo]) -> str:
    result = vt.NULL
    for index, arg in enumerate(args):
        if arg.type not in vt.SCALAR_TYPES and arg.type != vt.NULL:
            raise ArgProblem(f"argument {index + 1} should be a single value, got "
                             f"{vt.describe(arg.type)}", index)
        unified = vt.unify(result, arg.type)
        if unified is None:
            raise ArgProblem(f"coalesce() arguments must share one type: {result} and "
                             f"{arg.type}", index)
        result = unified
    return result


def _coalesce(values: Any, ctx: Any, *options: Any) -> Any:
    for option in options:
        value = option(values, ctx)
        if value is not None:
            return value
    return None


def _isempty(ctx: Any, value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, list | tuple) and not value)


# -- aggregates ---------------------------------------------------------------------------


def _aggregate_rule(*elements: str, name: str) -> Any:
    def rule(args: list[ArgInfo]) -> str:
        seen = vt.NULL
        for index, arg in enumerate(args):
            element = vt.column_element(arg.type) or arg.type
            if element not in elements and element != vt.NULL:
                allowed = " or ".join(elements)
                raise ArgProblem(f"{name}() takes {allowed} values or subtable columns, "
                                 f"got {vt.describe(arg.type)}", index)
            unified = vt.unify(seen, element)
            if unified is None:
                raise ArgProblem(f"{name}() cannot mix {seen} and {element}", index)
            seen = unified
        return seen if name in ("min", "max") and seen != vt.NULL else vt.NUMBER

    return rule


def _flatten(args: tuple[Any, ...]) -> list[Any]:
    items: list[Any] = []
    for arg in args:
        if isinstance(arg, list):
            items.extend(v for v in arg if v is not None)
        elif arg is not None:
            items.append(arg)
    return items


def _sum(ctx: Any, *args: Any) -> Decimal:
    total = ZERO
    for value in _flatten(args):
        total = D.add(total, value)
    return total


def _count_rule(args: list[ArgInfo]) -> str:
    type_ = args[0].type
    if type_ in (vt.ROWS, vt.LIST, vt.NULL) or vt.column_element(type_):
        return vt.NUMBER
    raise ArgProblem("count() takes a subtable, a subtable column or a multi-value field, "
                     f"got {vt.describe(type_)}", 0)


def _count(ctx: Any, value: Any) -> Decimal:
    if not value:
        return ZERO
    return Decimal(sum(1 for v in value if v is not None))


def _avg(ctx: Any, *args: Any) -> Decimal | None:
    items = _flatten(args)
    if not items:
        return None
    total = ZERO
    for value in items:
        total = D.add(total, value)
    return D.divide(total, Decimal(len(items)))


def _min(ctx: Any, *args: Any) -> Any:
    items = _flatten(args)
    return min(items) if items else None


def _max(ctx: Any, *args: Any) -> Any:
    items = _flatten(args)
    return max(items) if items else None


# -- arithmetic ---------------------------------------------------------------------------


def round_half_up(value: Decimal, digits: int) -> Decimal:
    """Round half away from zero (2.5 -> 3, -2.5 -> -3), the rule finance users expect;
    Python's round() and Decimal's default are half-even."""
    exponent = Decimal(1).scaleb(-digits)
    rounded = value.quantize(exponent, rounding=ROUND_HALF_UP, context=D)
    return rounded.quantize(Decimal(1), context=D) if digits < 0 else rounded


def _round(ctx: Any, value: Decimal | None, digits: Decimal | None = ZERO) -> Decimal | None:
    if value is None or digits is None:
        return None
    places = as_int(digits, "round() digits", MAX_ROUND_DIGITS)
    try:
        return round_half_up(value, places)
    except DecimalException:
        raise FormulaEvaluationError(f"cannot round {value} to {places} digits") from None


def _abs(ctx: Any, value: Decimal | None) -> Decimal | None:
    return None if value is None else D.abs(value)


def _mod(ctx: Any, a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """Remainder with the sign of the divisor, like Excel's MOD; mod(x, 0) is null."""
    if a is None or b is None or b == 0:
        return None
    remainder = D.remainder(a, b)
    if remainder != 0 and (remainder < 0) != (b < 0):
        remainder = D.add(remainder, b)
    return remainder


def _power(ctx: Any, base: Decimal | None, exponent: Decimal | None) -> Decimal | None:
    if base is None or exponent is None:
        return None
    n = as_int(exponent, "power() exponent", MAX_POWER_EXPONENT)
    if base == 0 and n < 0:
        return None  # same rule as division by zero
    return D.power(base, n)


_NUM = vt.NUMBER
SPECS = [
    FunctionSpec("if", 3, 3, _if_rule, _if, "if(condition, then, else): else when the "
                 "condition is false or null", lazy=True),
    FunctionSpec("coalesce", 1, None, _coalesce_rule, _coalesce,
                 "coalesce(a, b, ...): the first argument that is not null", lazy=True),
    FunctionSpec("isempty", 1, 1, lambda args: vt.BOOLEAN, _isempty,
                 "isempty(x): true for null, empty text and empty lists"),
    FunctionSpec("sum", 1, None, _aggregate_rule(_NUM, name="sum"), _sum,
                 "sum(items.amount, x, ...): total, nulls skipped; 0 when nothing"),
    FunctionSpec("count", 1, 1, _count_rule, _count,
                 "count(items): number of rows (of non-null cells for a column)"),
    FunctionSpec("avg", 1, None, _aggregate_rule(_NUM, name="avg"), _avg,
                 "avg(items.amount): mean of non-null values; null when none"),
    FunctionSpec("min", 1, None, _aggregate_rule(_NUM, vt.DATE, vt.DATETIME, name="min"),
                 _min, "min(...): smallest non-null number or date"),
    FunctionSpec("max", 1, None, _aggregate_rule(_NUM, vt.DATE, vt.DATETIME, name="max"),
                 _max, "max(...): largest non-null number or date"),
    FunctionSpec("round", 1, 2, fixed(_NUM, _NUM, _NUM), _round,
                 "round(x, digits=0): half-up (2.5 -> 3); negative digits round tens"),
    FunctionSpec("abs", 1, 1, fixed(_NUM, _NUM), _abs, "abs(x): absolute value"),
    FunctionSpec("mod", 2, 2, fixed(_NUM, _NUM, _NUM), _mod,
                 "mod(a, b): remainder with the sign of b; null when b is 0"),
    FunctionSpec("power", 2, 2, fixed(_NUM, _NUM, _NUM), _power,
                 f"power(x, n): x to a whole power n, |n| <= {MAX_POWER_EXPONENT}"),
]
