"""Type-check a syntax tree against the entity's field types and turn it into nested
Python closures. Every closure takes ``(values, ctx)``; nothing is ever passed to eval().

Null rules (SQL-like, so a blank never silently becomes 0 in a money formula):
arithmetic with null gives null, division by zero gives null (a form must still save when
a denominator is blank or 0; wrap in coalesce() to choose a fallback), ``=``/``!=`` treat
null as a value (null = null), ordering comparisons with null give null, and/or/not use
three-valued logic, and conditions treat null as false.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from decimal import Decimal, DecimalException
from typing import Any

from engines.form.formula import valuetypes as vt
from engines.form.formula.context import EvalContext
from engines.form.formula.errors import FormulaError, FormulaEvaluationError
from engines.form.formula.fn_date import shift
from engines.form.formula.fn_math import as_int
from engines.form.formula.fn_text import capped, to_text
from engines.form.formula.nodes import Binary, Call, FieldRef, Literal, Node, Unary
from engines.form.formula.registry import ArgInfo, ArgProblem, FunctionRegistry

Closure = Callable[[Mapping[str, Any], EvalContext], Any]
FieldTypes = Mapping[str, "str | Mapping[str, str]"]

D = vt.DECIMAL
_ORDERABLE = frozenset({vt.NUMBER, vt.TEXT, vt.DATE, vt.DATETIME})
_DATES = frozenset({vt.DATE, vt.DATETIME})


def locate(err: FormulaEvaluationError, position: int) -> FormulaEvaluationError:
    if err.position is None:
        err.position = position
    return err


def guarded(fn: Closure, position: int) -> Closure:
    """Give runtime failures from ``fn`` a position and a FormulaEvaluationError type."""

    def run(values: Mapping[str, Any], ctx: EvalContext) -> Any:
        try:
            return fn(values, ctx)
        except FormulaEvaluationError as err:
            raise locate(err, position) from None
        except (DecimalException, OverflowError) as err:
            raise FormulaEvaluationError(f"number out of range ({type(err).__name__})",
                                         position) from None

    return run


class Compiler:
    def __init__(self, field_types: FieldTypes, functions: FunctionRegistry):
        self.field_types = field_types
        self.functions = functions

    def compile(self, node: Node) -> tuple[Closure, str]:
        if isinstance(node, Literal):
            return self.literal(node)
        if isinstance(node, FieldRef):
            return self.field_ref(node)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node)

    # -- leaves ---------------------------------------------------------------------
    def literal(self, node: Literal) -> tuple[Closure, str]:
        value = node.value
        if value is None:
            type_ = vt.NULL
        elif isinstance(value, bool):
            type_ = vt.BOOLEAN
        elif isinstance(value, Decimal):
            type_ = vt.NUMBER
        else:
            type_ = vt.TEXT
        return (lambda values, ctx: value), type_

    def field_type(self, node: FieldRef) -> str:
        key = node.key
        if "." in key:
            table, column = key.split(".", 1)
            table_type = self.field_types.get(table)
            if isinstance(table_type, Mapping):
                raw = table_type.get(column)
                known = list(table_type)
            elif table_type is not None and vt.formula_type_of(table_type) == vt.ROWS:
                raw = self.field_types.get(key)
                known = [k.split(".", 1)[1] for k in self.field_types if k.startswith(table + ".")]
            elif table_type is None:
                raise FormulaError(f"unknown field {table!r}{self.hint(table, self.top())}",
                                   node.position)
            else:
                raise FormulaError(f"{table!r} is not a subtable, so '{key}' means nothing",
                                   node.position)
            if raw is None:
                raise FormulaError(
                    f"subtable {table!r} has no column {column!r}{self.hint(column, known)}",
                    node.position,
                )
            element = vt.formula_type_of(raw) if isinstance(raw, str) else None
            if element not in vt.SCALAR_TYPES:
                raise FormulaError(f"column '{key}' (type {raw}) cannot be used in formulas",
                                   node.position)
            return vt.column_type(element)
        raw = self.field_types.get(key)
        if raw is None:
            raise FormulaError(f"unknown field {key!r}{self.hint(key, self.top())}",
                               node.position)
        type_ = vt.ROWS if isinstance(raw, Mapping) else vt.formula_type_of(raw)
        if type_ is None:
            raise FormulaError(f"field {key!r} (type {raw}) cannot be used in formulas",
                               node.position)
        return type_

    def top(self) -> list[str]:
        return [k for k in self.field_types if "." not in k]

    @staticmethod
    def hint(name: str, candidates: list[str]) -> str:
        close = difflib.get_close_matches(name, candidates, n=1)
        return f"; did you mean {close[0]!r}?" if close else ""

    def field_ref(self, node: FieldRef) -> tuple[Closure, str]:
        type_ = self.field_type(node)
        reader = vt.value_reader(node.key, type_)
        position = node.position

        def read(values: Mapping[str, Any], ctx: EvalContext) -> Any:
            try:
                return reader(values)
            except FormulaEvaluationError as err:
                raise locate(err, position) from None

        return read, type_

    # -- operators ------------------------------------------------------------------
    def unary(self, node: Unary) -> tuple[Closure, str]:
        operand, type_ = self.compile(node.operand)
        if node.op == "not":
            self.require(type_, {vt.BOOLEAN}, "'not' needs a condition", node.position)

            def negate(values: Mapping[str, Any], ctx: EvalContext) -> Any:
                value = operand(values, ctx)
                return None if value is None else not value

            return negate, vt.BOOLEAN
        self.require(type_, {vt.NUMBER}, f"unary {node.op} needs a number", node.position)
        if node.op == "+":
            return operand, vt.NUMBER

        def minus(values: Mapping[str, Any], ctx: EvalContext) -> Any:
            value = operand(values, ctx)
            return None if value is None else D.minus(value)

        return minus, vt.NUMBER

    @staticmethod
    def require(type_: str, allowed: set[str] | frozenset[str], message: str,
                position: int) -> None:
        if type_ != vt.NULL and type_ not in allowed:
            raise FormulaError(f"{message}, got {vt.describe(type_)}", position)

    def binary(self, node: Binary) -> tuple[Closure, str]:
        left, left_type = self.compile(node.left)
        right, right_type = self.compile(node.right)
        op = node.op
        if op in ("and", "or"):
            for type_ in (left_type, right_type):
                self.require(type_, {vt.BOOLEAN}, f"'{op}' needs conditions on both sides",
                             node.position)
            return (_and if op == "and" else _or)(left, right), vt.BOOLEAN
        if op == "&":
            for type_ in (left_type, right_type):
                self.require(type_, vt.SCALAR_TYPES, "& joins single values", node.position)
            return guarded(_concat(left, right), node.position), vt.TEXT
        if op in ("=", "!=", "<", "<=", ">", ">="):
            return self.comparison(node, left, left_type, right, right_type)
        return self.arithmetic(node, left, left_type, right, right_type)

    def comparison(self, node: Binary, left: Closure, left_type: str, right: Closure,
                   right_type: str) -> tuple[Closure, str]:
        op = node.op
        allowed = vt.SCALAR_TYPES if op in ("=", "!=") else _ORDERABLE
        for type_ in (left_type, right_type):
            self.require(type_, allowed, f"{op} cannot compare these", node.position)
        if vt.unify(left_type, right_type) is None:
            raise FormulaError(f"cannot compare {left_type} with {right_type}", node.position)
        return _COMPARE[op](left, right), vt.BOOLEAN

    def arithmetic(self, node: Binary, left: Closure, left_type: str, right: Closure,
                   right_type: str) -> tuple[Closure, str]:
        op = node.op
        numeric = {left_type, right_type} <= {vt.NUMBER, vt.NULL}
        if numeric:
            return guarded(_ARITHMETIC[op](left, right), node.position), vt.NUMBER
        if op in ("+", "-") and left_type in _DATES and right_type in (vt.NUMBER, vt.NULL):
            return guarded(_shift_days(left, right, op == "-"), node.position), left_type
        if op == "+" and right_type in _DATES and left_type in (vt.NUMBER, vt.NULL):
            return guarded(_shift_days(right, left, False), node.position), right_type
        hint = "; join text with &" if vt.TEXT in (left_type, right_type) else ""
        if left_type in _DATES and right_type in _DATES:
            hint = "; use datediff(start, end, 'day')"
        raise FormulaError(
            f"{op} needs numbers, got {vt.describe(left_type)} and "
            f"{vt.describe(right_type)}{hint}",
            node.position,
        )

    # -- calls ----------------------------------------------------------------------
    def call(self, node: Call) -> tuple[Closure, str]:
        spec = self.functions.get(node.name)
        if spec is None:
            raise FormulaError(
                f"unknown function {node.name!r}{self.hint(node.name, self.functions.names())}",
                node.position,
            )
        count = len(node.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            raise FormulaError(f"{spec.name}() takes {spec.arity_text()}, got {count}",
                               node.position)
        compiled = [self.compile(arg) for arg in node.args]
        try:
            result_type = spec.check([ArgInfo(t, a) for (_, t), a in zip(compiled, node.args,
                                                                          strict=True)])
        except ArgProblem as problem:
            position = node.position if problem.index is None else node.args[problem.index].position
            raise FormulaError(f"{spec.name}(): {problem.message}", position) from None
        closures = [c for c, _ in compiled]
        impl = spec.impl
        if spec.lazy:
            run: Closure = lambda values, ctx: impl(values, ctx, *closures)  # noqa: E731
        elif count == 0:
            run = lambda values, ctx: impl(ctx)  # noqa: E731
        elif count == 1:
            (a,) = closures
            run = lambda values, ctx: impl(ctx, a(values, ctx))  # noqa: E731
        elif count == 2:
            a, b = closures
            run = lambda values, ctx: impl(ctx, a(values, ctx), b(values, ctx))  # noqa: E731
        else:
            run = lambda values, ctx: impl(ctx, *[c(values, ctx) for c in closures])  # noqa: E731
        return guarded(run, node.position), result_type


# -- closure builders (module level so each returns a small, fast function) ---------------


def _and(left: Closure, right: Closure) -> Closure:
    def run(values: Mapping[str, Any], ctx: EvalContext) -> Any:
        a = left(values, ctx)
        if a is False:
            return False
        b = right(values, ctx)
        if b is False:
            return False
        return None if a is None or b is None else True

    return run


def _or(left: Closure, right: Closure) -> Closure:
    def run(values: Mapping[str, Any], ctx: EvalContext) -> Any:
        a = left(values, ctx)
        if a is True:
            return True
        b = right(values, ctx)
        if b is True:
            return True
        return None if a is None or b is None else False

    return run


def _concat(left: Closure, right: Closure) -> Closure:
    def run(values: Mapping[str, Any], ctx: EvalContext) -> str:
        return capped(to_text(left(values, ctx), ctx) + to_text(right(values, ctx), ctx))

    return run


def _null_safe(operation: Callable[[Any, Any], Any]) -> Callable[[Closure, Closure], Closure]:
    def build(left: Closure, right: Closure) -> Closure:
        def run(values: Mapping[str, Any], ctx: EvalContext) -> Any:
            a = left(values, ctx)
            if a is None:
                return None
            b = right(values, ctx)
            if b is None:
                return None
            return operation(a, b)

        return run

    return build


def _divide(a: Decimal, b: Decimal) -> Decimal | None:
    return None if b == 0 else D.divide(a, b)


def _equality(negate: bool) -> Callable[[Closure, Closure], Closure]:
    def build(left: Closure, right: Closure) -> Closure:
        def run(values: Mapping[str, Any], ctx: EvalContext) -> bool:
            return (left(values, ctx) == right(values, ctx)) is not negate

        return run

    return build


def _shift_days(moment: Closure, days: Closure, backwards: bool) -> Closure:
    def run(values: Mapping[str, Any], ctx: EvalContext) -> Any:
        value, amount = moment(values, ctx), days(values, ctx)
        if value is None or amount is None:
            return None
        count = as_int(amount, "days added to a date", 10_000_000)
        return shift(ctx, value, -count if backwards else count, "day")

    return run


_ARITHMETIC = {
    "+": _null_safe(D.add),
    "-": _null_safe(D.subtract),
    "*": _null_safe(D.multiply),
    "/": _null_safe(_divide),
}
_COMPARE = {
    "=": _equality(False),
    "!=": _equality(True),
    "<": _null_safe(lambda a, b: a < b),
    "<=": _null_safe(lambda a, b: a <= b),
    ">": _null_safe(lambda a, b: a > b),
    ">=": _null_safe(lambda a, b: a >= b),
}
