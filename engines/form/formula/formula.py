"""The public entry point for one formula: text + field types -> a checked, compiled
formula that can be evaluated many times."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engines.form.formula import valuetypes as vt
from engines.form.formula.compiler import Closure, Compiler, FieldTypes
from engines.form.formula.context import DEFAULT_CONTEXT, EvalContext
from engines.form.formula.errors import FormulaError, FormulaEvaluationError
from engines.form.formula.functions import DEFAULT_FUNCTIONS
from engines.form.formula.nodes import Node, field_references
from engines.form.formula.parser import parse
from engines.form.formula.registry import FunctionRegistry


@dataclass(frozen=True)
class CompiledFormula:
    """``references``: top-level field keys the formula reads (``items`` for
    ``sum(items.amount)``); ``columns``: subtable columns it reads (``items.amount``);
    ``result_type``: number, text, boolean, date, datetime (or null for the bare literal)."""

    source: str
    references: tuple[str, ...]
    columns: tuple[str, ...]
    result_type: str
    _run: Closure = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, Any], ctx: EvalContext | None = None) -> Any:
        """The formula's value for one record; raises FormulaEvaluationError (with the
        position of the failing part) on bad input values or overflow."""
        try:
            return self._run(values, ctx or DEFAULT_CONTEXT)
        except FormulaEvaluationError as err:
            err.source = self.source
            raise

    def is_true(self, values: Mapping[str, Any], ctx: EvalContext | None = None) -> bool:
        """Evaluate as a condition: only true is true (null, an unanswered condition, is
        false)."""
        return self.evaluate(values, ctx) is True


def parse_references(text: str) -> list[str]:
    """Top-level field keys a formula mentions, without type-checking (for dependency
    analysis before the types of formula fields are known)."""
    return _top_level(field_references(parse(text)))


def compile_formula(
    text: str,
    field_types: FieldTypes,
    *,
    functions: FunctionRegistry = DEFAULT_FUNCTIONS,
) -> CompiledFormula:
    """Parse, type-check and compile ``text``.

    ``field_types`` maps field keys to entity field types ("money", "date", ...) or formula
    types ("number", ...). Subtable columns are given as ``"items.amount": "money"`` next to
    ``"items": "subtable"``, or as ``"items": {"amount": "money", ...}``.
    """
    tree = parse(text)
    return compile_tree(text, tree, field_types, functions)


def compile_tree(text: str, tree: Node, field_types: FieldTypes,
                 functions: FunctionRegistry = DEFAULT_FUNCTIONS) -> CompiledFormula:
    try:
        run, result_type = Compiler(field_types, functions).compile(tree)
        if result_type not in vt.SCALAR_TYPES and result_type != vt.NULL:
            raise FormulaError(
                f"a formula must give a single value, not {vt.describe(result_type)} "
                "(try sum(), count() or another aggregate)",
                tree.position,
            )
    except FormulaError as err:
        err.source = text
        raise
    keys = field_references(tree)
    columns = tuple(k for k in keys if "." in k)
    return CompiledFormula(text, tuple(_top_level(keys)), columns, result_type, run)


def _top_level(keys: list[str]) -> list[str]:
    return list(dict.fromkeys(k.split(".", 1)[0] for k in keys))
