"""Compile a validated rule into a durable_rules ruleset made only of shapes proven correct
on durable_rules 2.0.28 (see ENGINE-NOTES.md):

* one ruleset per rule version, one engine rule per OR-branch (DNF): no `$or`, no nested
  groups. Events are consumed by the first engine rule that fires, so a rule fires at most
  once per event, which is also the de-duplication we want;
* every term reads its own precomputed feature `t<i>` (never a user field name, so `id`,
  `sid`, `label` or `$x` cannot collide) and compares it with an int64 integer or, for
  text equality only, an ASCII-JSON-escaped string: no floats, no exponents, no 2 vs 2.0,
  no string `<`/`>`;
* decimals become scaled integers (floor for < and >=, ceil for <= and >, exact-or-sentinel
  for = and !=), dates day ordinals, datetimes epoch microseconds;
* operators the engine cannot do safely (in, contains, empty, changed, sequence, absence,
  and comparisons with constants beyond +-2**62 once scaled) are evaluated in Python
  before posting and reach the engine as a 1/0 feature;
* every `$and` ends with the always-true `_k == 1` term (the out-of-bounds guard);
* no joins and no facts: windows are kept by the caller (windows.py) and posted as values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engines.rule.conditions import iter_terms, to_dnf
from engines.rule.errors import RuleDefinitionError
from engines.rule.model import validate_rule
from engines.rule.values import (
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    category_of,
    epoch_microseconds,
    parse_value,
)

INT_LIMIT = 2**62
"""Encoded integers stay within +-2**62 so the engine's int64 arithmetic is exact."""
ENGINE_OPS = {"eq": None, "ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}
PYTHON_OPS = {"in", "not_in", "contains", "is_empty", "is_not_empty", "changed",
              "changed_from", "changed_to"}


@dataclass(frozen=True)
class FieldRef:
    """The right side of a comparison is another field of the same event's data."""

    name: str


@dataclass(frozen=True)
class TermPlan:
    """How one leaf of the condition reaches the engine as feature `t<index>`.

    mode: "value" (engine compares an encoded value), "flag" (Python decides, engine
    checks 1), "count"/"sum" (window aggregate compared by the engine), "sequence" and
    "absence" (flags computed from window state).
    """

    index: int
    path: str
    mode: str
    term: dict[str, Any]
    category: str | None = None
    source: str = "data"
    field: str | None = None
    op: str | None = None
    scale: int = 0
    rounding: str = "exact"
    relative_offset: int | None = None
    constant: Any = None

    @property
    def feature(self) -> str:
        return f"t{self.index}"


@dataclass
class CompiledRule:
    key: str
    version: int
    name: str
    rule: dict[str, Any]
    fields: Mapping[str, Any]
    terms: list[TermPlan]
    branches: list[list[int]]
    ruleset: dict[str, Any]
    priority: int = 0
    windows: list[TermPlan] = field(default_factory=list)
    absence: TermPlan | None = None

    def branch_paths(self, branch: int) -> tuple[str, ...]:
        return tuple(self.terms[i].path for i in self.branches[branch])


def _scaled(value: Decimal) -> tuple[int, int]:
    """An exact decimal as (integer, scale) with value == integer / 10**scale."""
    exponent = value.as_tuple().exponent
    scale = max(0, -int(exponent)) if isinstance(exponent, int) else 0
    return int(value.scaleb(scale)), scale


def encode_string(value: str) -> str:
    """Injective ASCII form of a string: no NUL, no non-ASCII bytes reach the C engine."""
    return json.dumps(value, ensure_ascii=True)


def _engine_constant(category: str, raw: Any) -> tuple[Any, int]:
    value = parse_value(category, raw)
    if category == DECIMAL:
        return _scaled(value)
    if category == DATE:
        return value.toordinal(), 0
    if category == DATETIME:
        return epoch_microseconds(value), 0
    if category == BOOL:
        return int(value), 0
    return encode_string(value), 0


def _plan_term(index: int, path: str, term: dict[str, Any], fields: Mapping[str, Any]) -> TermPlan:
    if "pattern" in term:
        kind = term["pattern"]
        if kind == "count":
            return TermPlan(index, path, "count", term, op=term["op"], constant=term["n"])
        if kind == "sum":
            constant, scale = _scaled(parse_value(DECIMAL, term["value"]))
            return TermPlan(index, path, "sum", term, category=DECIMAL, op=term["op"],
                            scale=scale, rounding=_rounding(term["op"]), constant=constant)
        return TermPlan(index, path, kind, term)
    name, op = term["field"], term["op"]
    source = "data"
    if name.startswith("old."):
        name, source = name[4:], "old"
    category = category_of(fields[name])
    if op in PYTHON_OPS:
        constant: Any = None
        if op in ("in", "not_in"):
            constant = frozenset(parse_value(category, v) for v in term["value"])
        elif op in ("changed_from", "changed_to"):
            constant = parse_value(category, term["value"])
        elif op == "contains":
            constant = term["value"]
        return TermPlan(index, path, "flag", term, category, source, name, op, constant=constant)
    raw = term["value"]
    if isinstance(raw, dict) and "field" in raw:
        # two fields of one event: decided in Python, the engine sees a 1/0 flag
        return TermPlan(index, path, "flag", term, category, source, name, op,
                        constant=FieldRef(raw["field"]))
    if isinstance(raw, dict):
        return TermPlan(index, path, "value", term, category, source, name, op,
                        relative_offset=int(raw.get("offset_days", 0)),
                        constant=int(raw.get("offset_days", 0)))
    constant, scale = _engine_constant(category, raw)
    if isinstance(constant, int) and abs(constant) >= INT_LIMIT:
        # beyond exact int64 range once scaled: decided in Python, posted as a flag
        return TermPlan(index, path, "flag", term, category, source, name, op,
                        constant=parse_value(category, raw))
    rounding = _rounding(op) if category == DECIMAL else "exact"
    return TermPlan(index, path, "value", term, category, source, name, op, scale, rounding,
                    constant=constant)


def _rounding(op: str) -> str:
    return {"lt": "floor", "gte": "floor", "lte": "ceil", "gt": "ceil"}.get(op, "exact")


def _engine_term(plan: TermPlan) -> dict[str, Any]:
    if plan.mode in ("flag", "sequence", "absence"):
        return {plan.feature: 1}
    operator = ENGINE_OPS[plan.op or "eq"]
    if operator is None:
        return {plan.feature: plan.constant}
    return {operator: {plan.feature: plan.constant}}


def ruleset_name(rule: Mapping[str, Any], fields: Mapping[str, Any]) -> str:
    """A versioned, content-addressed ruleset name: durable_rules cannot replace a ruleset,
    so a changed rule is registered under a new name."""
    digest = hashlib.sha256(
        json.dumps([rule, fields], sort_keys=True, default=str).encode()
    ).hexdigest()[:16]
    return f"r_{rule['key']}_v{rule.get('version', 1)}_{digest}"


def compile_rule(
    rule: Mapping[str, Any],
    fields: Mapping[str, Any],
    entities: Collection[str] | None = None,
) -> CompiledRule:
    """Validate and compile one rule; anything that cannot be compiled safely raises
    RuleDefinitionError (call it at save time)."""
    validate_rule(rule, fields, entities)
    rule = json.loads(json.dumps(rule))
    condition = rule.get("condition")
    plans: dict[str, TermPlan] = {}
    details: list[dict[str, str]] = []
    for path, term, _ in iter_terms(condition):
        plans[path] = _plan_term(len(plans), path, term, fields)
    try:
        dnf = to_dnf(condition)
    except ValueError as exc:
        details.append({"path": "condition", "message": str(exc)})
        dnf = []
    if details:
        raise RuleDefinitionError("the rule cannot be compiled safely", details)
    name = ruleset_name(rule, fields)
    branches = [sorted({plans[p].index for p in branch}) for branch in dnf]
    terms = sorted(plans.values(), key=lambda p: p.index)
    engine_rules = {}
    for b, branch in enumerate(branches):
        conjunction = [_engine_term(terms[i]) for i in branch] + [{"_k": 1}]
        engine_rules[f"b{b}"] = {"all": [{"m": {"$and": conjunction}}], "run": f"{name}|{b}"}
    return CompiledRule(
        key=rule["key"],
        version=int(rule.get("version", 1)),
        name=name,
        rule=rule,
        fields=fields,
        terms=terms,
        branches=branches,
        ruleset={name: engine_rules},
        priority=int(rule.get("options", {}).get("priority", 0)),
        windows=[t for t in terms if t.mode in ("count", "sum", "sequence")],
        absence=next((t for t in terms if t.mode == "absence"), None),
    )


__all__ = ["CompiledRule", "FieldRef", "TermPlan", "compile_rule", "encode_string", "ruleset_name"]
