"""All formulas of one entity together: formula fields, ``visible_if`` and ``required_if``.

Dependency model (what must be known before what):
- a formula field's value needs the values of the fields it reads;
- a condition needs the values of the fields it reads;
- a field with ``visible_if`` has value null while hidden (a hidden field is not filled
  in, so formulas must not see what it held before it was hidden), so its value needs its
  own ``visible_if``. Hence "a is visible if b > 0" with "b = a + 1" is a cycle, and so is
  a field whose visibility depends on itself: nobody could ever make it visible.
Subtable rows are self-contained: their formulas read the row's columns only and are
computed before anything at the top level, which sees the finished rows.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engines.form.formula import valuetypes as vt
from engines.form.formula.context import DEFAULT_CONTEXT, EvalContext
from engines.form.formula.errors import FormulaCycleError, FormulaError
from engines.form.formula.formula import CompiledFormula, compile_tree
from engines.form.formula.functions import DEFAULT_FUNCTIONS
from engines.form.formula.nodes import Node, field_references
from engines.form.formula.parser import parse
from engines.form.formula.registry import FunctionRegistry

#: the setting of a "formula" field that holds its expression
FORMULA_SETTING = "formula"
CONDITIONS = ("visible_if", "required_if")


@dataclass(frozen=True, slots=True)
class EvalStep:
    """One thing to compute: ``kind`` is "formula", "visible_if" or "required_if"."""

    kind: str
    field: str

    @property
    def label(self) -> str:
        return self.field if self.kind == "formula" else f"{self.field}.{self.kind}"


@dataclass
class FormOutcome:
    """``values``: the record with formula results filled in, hidden fields set to null
    and subtable rows completed; ``hidden``/``required``: fields whose visible_if is not
    true / whose required_if is true; ``rows``: the same per row of each subtable that
    has row formulas or conditions."""

    values: dict[str, Any]
    hidden: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)
    rows: dict[str, list[FormOutcome]] = field(default_factory=dict)


@dataclass
class EntityFormulas:
    order: list[EvalStep]
    compiled: dict[EvalStep, CompiledFormula]
    result_types: dict[str, str]  # formula field key -> result type
    subtables: dict[str, EntityFormulas]

    def evaluate(self, values: Mapping[str, Any], ctx: EvalContext | None = None) -> FormOutcome:
        """Compute every formula and condition for one record, in dependency order."""
        ctx = ctx or DEFAULT_CONTEXT
        outcome = FormOutcome(dict(values))
        working = outcome.values
        for key, sub in self.subtables.items():
            if not sub.order and not sub.subtables:
                continue  # nothing computed in these rows
            rows = [sub.evaluate(row, ctx) for row in (working.get(key) or [])]
            outcome.rows[key] = rows
            working[key] = [row.values for row in rows]
        for step in self.order:
            formula = self.compiled[step]
            if step.kind == "formula":
                working[step.field] = (
                    None if step.field in outcome.hidden else formula.evaluate(working, ctx)
                )
            elif step.kind == "visible_if":
                if not formula.is_true(working, ctx):
                    outcome.hidden.add(step.field)
                    working[step.field] = None
            elif formula.is_true(working, ctx):
                outcome.required.add(step.field)
        return outcome


def check_formula_graph(fields: Sequence[Mapping[str, Any]]) -> list[EvalStep]:
    """Check every formula and condition of an entity (syntax, names, types, cycles) and
    return the order to evaluate them in. Raises FormulaError (with ``path`` such as
    ``fields[3].formula``) or FormulaCycleError (naming the fields in the loop)."""
    return compile_entity_formulas(fields).order


def compile_entity_formulas(
    fields: Sequence[Mapping[str, Any]],
    *,
    functions: FunctionRegistry = DEFAULT_FUNCTIONS,
    path_prefix: str = "",
) -> EntityFormulas:
    """Compile all formulas of an entity's field list, ready to ``evaluate`` records."""
    live = [(i, f) for i, f in enumerate(fields) if not f.get("removed")]
    paths = {f["key"]: f"{path_prefix}fields[{i}]" for i, f in live}
    subtables = {
        f["key"]: compile_entity_formulas(f.get("fields") or [], functions=functions,
                                          path_prefix=paths[f["key"]] + ".")
        for _, f in live if f.get("type") == "subtable"
    }
    trees: dict[EvalStep, tuple[str, Node, str]] = {}
    for _, f in live:
        sources = [("formula", f.get(FORMULA_SETTING))] if f.get("type") == "formula" else []
        sources += [(kind, f.get(kind)) for kind in CONDITIONS if f.get(kind)]
        for kind, text in sources:
            path = f"{paths[f['key']]}.{kind}"
            if not isinstance(text, str) or not text.strip():
                raise FormulaError(f"field {f['key']!r} needs a {kind} expression",
                                   path=path)
            try:
                trees[EvalStep(kind, f["key"])] = (text, parse(text), path)
            except FormulaError as err:
                raise err.at(path) from None
    order = _topological_order([f for _, f in live], trees)
    field_types: dict[str, Any] = {}
    for _, f in live:
        if f.get("type") == "subtable":
            sub_fields = [s for s in f.get("fields") or [] if not s.get("removed")]
            field_types[f["key"]] = {
                s["key"]: subtables[f["key"]].result_types.get(s["key"], s.get("type"))
                for s in sub_fields
            }
        elif f.get("type") != "formula":
            field_types[f["key"]] = f.get("type")
    compiled: dict[EvalStep, CompiledFormula] = {}
    result_types: dict[str, str] = {}
    for step in order:
        text, tree, path = trees[step]
        try:
            formula = compile_tree(text, tree, field_types, functions)
        except FormulaError as err:
            raise err.at(path) from None
        if step.kind == "formula":
            result_types[step.field] = formula.result_type
            field_types[step.field] = formula.result_type
        elif formula.result_type not in (vt.BOOLEAN, vt.NULL):
            raise FormulaError(
                f"{step.kind} must be a condition (true/false), not {formula.result_type}",
                0, source=text, path=path,
            )
        compiled[step] = formula
    return EntityFormulas(order, compiled, result_types, subtables)


def _topological_order(
    fields: list[Mapping[str, Any]], trees: Mapping[EvalStep, tuple[str, Node, str]]
) -> list[EvalStep]:
    """Kahn's algorithm; ties go to the earlier field so the order is stable."""
    rank = {f["key"]: i for i, f in enumerate(fields)}
    kinds = {"visible_if": 0, "formula": 1, "required_if": 2}

    def sort_key(step: EvalStep) -> tuple[int, int]:
        return rank[step.field], kinds[step.kind]

    # The step that produces each field's value, when the value is computed or cleared.
    producer: dict[str, EvalStep] = {}
    for step in trees:
        if step.kind == "formula" or (step.kind == "visible_if" and step.field not in producer):
            producer[step.field] = step
    needs: dict[EvalStep, set[EvalStep]] = {step: set() for step in trees}
    for step, (_, tree, _) in trees.items():
        for key in {k.split(".", 1)[0] for k in field_references(tree)}:
            if key in producer:
                needs[step].add(producer[key])
        if step.kind == "formula" and EvalStep("visible_if", step.field) in trees:
            needs[step].add(EvalStep("visible_if", step.field))
    users: dict[EvalStep, list[EvalStep]] = {step: [] for step in trees}
    for step, deps in needs.items():
        for dep in deps:
            users[dep].append(step)
    waiting = {step: len(deps) for step, deps in needs.items()}
    ready = [(sort_key(s), s) for s, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[EvalStep] = []
    while ready:
        _, step = heapq.heappop(ready)
        order.append(step)
        for user in users[step]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (sort_key(user), user))
    if len(order) < len(trees):
        stuck = sorted((s for s in trees if waiting[s] > 0), key=sort_key)
        raise FormulaCycleError(_find_cycle(stuck[0], needs, waiting, sort_key))
    return order


def _find_cycle(start: EvalStep, needs: Mapping[EvalStep, set[EvalStep]],
                waiting: Mapping[EvalStep, int],
                sort_key: Callable[[EvalStep], tuple[int, int]]) -> list[str]:
    """Follow unfinished dependencies from ``start`` until a step repeats; report the loop
    in dependency order starting from its earliest-declared field."""
    path: list[EvalStep] = []
    seen: dict[EvalStep, int] = {}
    step = start
    while step not in seen:
        seen[step] = len(path)
        path.append(step)
        step = min((d for d in needs[step] if waiting[d] > 0), key=sort_key)
    loop = path[seen[step]:]
    loop.reverse()  # dependency order: each step is needed by the next
    first = loop.index(min(loop, key=sort_key))
    return [s.label for s in loop[first:] + loop[:first]]
