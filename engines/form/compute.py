"""Formulas and conditions applied to a record on every write.

Stored values (money in minor units, subtable rows in canonical JSON) are turned into the
formula language's values (exact Decimals in major units), the entity's formulas run in
dependency order, and the results come back as stored values: formula columns filled,
fields hidden by ``visible_if`` cleared, fields made mandatory by ``required_if`` checked.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from engines.form.definition import live_fields
from engines.form.errors import Problem, RecordInvalid
from engines.form.formula import EvalContext, compile_entity_formulas
from engines.form.formula.errors import FormulaEvaluationError
from engines.form.types.values import quantize

NUMERIC_CHILDREN = ("number", "money", "percent")


def _to_formula_value(fdef: dict[str, Any], value: Any) -> Any:
    if value is None:
        return None
    kind = fdef["type"]
    if kind == "money":
        return Decimal(int(value)).scaleb(-int(fdef.get("scale", 2)))
    if kind in ("number", "percent", "relation") and not isinstance(value, list):
        return Decimal(value) if not isinstance(value, Decimal) else value
    if kind == "subtable":
        children = {c["key"]: c for c in fdef.get("fields", [])}
        return [{k: _child_value(children.get(k), v) for k, v in row.items()} for row in value]
    if kind == "datetime" and isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _child_value(child: dict[str, Any] | None, value: Any) -> Any:
    if child is None or value is None:
        return value
    if child["type"] in NUMERIC_CHILDREN:
        return Decimal(str(value))
    if child["type"] == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if child["type"] == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def _to_stored(fdef: dict[str, Any], value: Any) -> Any:
    if value is None:
        return None
    if fdef.get("result_type", "number") == "number" and isinstance(value, Decimal):
        return quantize(value, int(fdef.get("scale", 2)))
    return value


class FormulaRunner:
    """Compiled once per entity version; ``apply`` runs per record."""

    def __init__(self, definition: dict[str, Any]):
        self.fields = {f["key"]: f for f in live_fields(definition)}
        self.compiled = compile_entity_formulas(list(definition["fields"]))
        self.active = bool(self.compiled.order) or any(
            s.order for s in self.compiled.subtables.values())
        # only the fields some formula or condition reads are converted per record
        read: set[str] = set()
        for formula in self.compiled.compiled.values():
            read.update(formula.references)
        self.inputs = {k: f for k, f in self.fields.items()
                       if k in read or k in self.compiled.subtables}

    def apply(self, stored: dict[str, Any], ctx: EvalContext | None = None) -> dict[str, Any]:
        """``stored``: the whole record's stored values (after the write). Returns the
        stored values to write on top: formula results and cleared hidden fields."""
        if not self.active:
            return {}
        values = {k: _to_formula_value(f, stored.get(k)) for k, f in self.inputs.items()}
        try:
            outcome = self.compiled.evaluate(values, ctx)
        except FormulaEvaluationError as exc:
            raise RecordInvalid(f"a formula could not be computed: {exc}",
                                [Problem(getattr(exc, "path", "") or "", str(exc))]) from None
        updates: dict[str, Any] = {}
        for step in self.compiled.order:
            if step.kind == "formula":
                updates[step.field] = _to_stored(self.fields[step.field],
                                                 outcome.values.get(step.field))
        for key in outcome.hidden:
            if self.fields[key]["type"] != "formula" and stored.get(key) is not None:
                updates[key] = None
        missing = [Problem(key, "is required") for key in sorted(outcome.required)
                   if key not in outcome.hidden and stored.get(key) in (None, "", [])]
        if missing:
            raise RecordInvalid(f"{missing[0].path}: is required"
                                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                                missing)
        return updates
