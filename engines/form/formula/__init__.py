"""A small, safe expression language for form formulas and conditions.

Text is tokenized, parsed into a syntax tree, type-checked against the entity's field
types and compiled into Python closures; no user text ever reaches eval(). See
``compiler.py`` for the null rules and ``entity.py`` for dependency order and cycles.
"""

from engines.form.formula.context import DEFAULT_CONTEXT, EvalContext
from engines.form.formula.entity import (
    EntityFormulas,
    EvalStep,
    FormOutcome,
    check_formula_graph,
    compile_entity_formulas,
)
from engines.form.formula.errors import FormulaCycleError, FormulaError, FormulaEvaluationError
from engines.form.formula.formula import CompiledFormula, compile_formula, parse_references
from engines.form.formula.functions import DEFAULT_FUNCTIONS
from engines.form.formula.registry import ArgInfo, ArgProblem, FunctionRegistry, FunctionSpec
from engines.form.formula.valuetypes import FIELD_TYPE_TO_FORMULA_TYPE, formula_type_of

__all__ = [
    "DEFAULT_CONTEXT",
    "DEFAULT_FUNCTIONS",
    "FIELD_TYPE_TO_FORMULA_TYPE",
    "ArgInfo",
    "ArgProblem",
    "CompiledFormula",
    "EntityFormulas",
    "EvalContext",
    "EvalStep",
    "FormOutcome",
    "FormulaCycleError",
    "FormulaError",
    "FormulaEvaluationError",
    "FunctionRegistry",
    "FunctionSpec",
    "check_formula_graph",
    "compile_entity_formulas",
    "compile_formula",
    "formula_type_of",
    "parse_references",
]
