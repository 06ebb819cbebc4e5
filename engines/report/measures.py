"""Measures: the SQL aggregate parts of each measure and how to turn them into values.

Each measure is computed from one or more *parts* (plain SQL aggregates). ``avg`` is sent
as ``sum`` and ``count`` so that money averages are exact (integer sum, Decimal division,
half-up rounding) and so subtotals can be re-aggregated from grouped rows without reading
raw rows. Only ``count_distinct`` cannot be re-aggregated; callers then ask SQL again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from engines.report.dataset import Dataset, as_int
from engines.report.errors import ReportDefinitionError, detail
from engines.report.fields import FieldRef
from engines.report.filters import filters_clause

AGGREGATES = ("count", "count_distinct", "sum", "avg", "min", "max", "ratio")
RATIO_PLACES = 4
AGG_LABELS = {
    "count": "计数",
    "count_distinct": "去重计数",
    "sum": "合计",
    "avg": "平均",
    "min": "最小",
    "max": "最大",
    "ratio": "比率",
}
_COMBINERS: dict[str, Callable[[list], object]] = {
    "sum": lambda values: (
        sum(v for v in values if v is not None) if any(v is not None for v in values) else None
    ),
    "min": lambda values: min((v for v in values if v is not None), default=None),
    "max": lambda values: max((v for v in values if v is not None), default=None),
}


@dataclass
class Part:
    """One SQL aggregate; ``combine`` re-aggregates grouped values (None: not possible)."""

    label: str
    expression: ColumnElement
    combine: str | None


@dataclass
class Measure:
    """A compiled measure: its SQL parts and the conversion from parts to output values."""

    key: str
    label: str
    agg: str
    ref: FieldRef | None
    parts: list[Part] = field(default_factory=list)
    numerator: Measure | None = None
    denominator: Measure | None = None
    hidden: bool = False

    @property
    def decomposable(self) -> bool:
        if self.agg == "ratio":
            return self.numerator.decomposable and self.denominator.decomposable
        return all(part.combine for part in self.parts)

    @property
    def value_type(self) -> str:
        """Output type for column metadata: integer, decimal, money, date, datetime or text."""
        if self.agg in ("count", "count_distinct"):
            return "integer"
        if self.agg == "ratio":
            return "decimal"
        field_type = self.ref.type
        if field_type == "money":
            return "money"
        if field_type == "number" and self.ref.scale == 0 and self.agg != "avg":
            return "integer"
        if field_type in ("number", "percent"):
            return "decimal"
        return field_type if field_type in ("date", "datetime") else "text"

    def all_parts(self) -> list[Part]:
        if self.agg == "ratio":
            return self.numerator.all_parts() + self.denominator.all_parts()
        return self.parts

    def exact(self, values: Mapping[str, object]) -> object:
        """The exact value (int, Decimal, date ...) from part values keyed by part label."""
        if self.agg == "ratio":
            numerator = _as_decimal(self.numerator.exact(values))
            denominator = _as_decimal(self.denominator.exact(values))
            if numerator is None or not denominator:
                return None
            return (numerator / denominator).quantize(
                Decimal(1).scaleb(-RATIO_PLACES), rounding=ROUND_HALF_UP
            )
        first = values[self.parts[0].label]
        if self.agg in ("count", "count_distinct"):
            return as_int(first) or 0
        if self.agg == "avg":
            total, count = values[self.parts[0].label], as_int(values[self.parts[1].label])
            if not count or total is None:
                return None
            places = self.ref.scale if self.ref.type == "money" else max(self.ref.scale, 2)
            mean = _as_decimal(total) / count
            if self.ref.type == "money":
                mean = mean.scaleb(-self.ref.scale)
            return mean.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        if self.agg == "sum" and first is None:
            first = 0
        return self._from_column(first)

    def _from_column(self, value: object) -> object:
        if value is None:
            return None
        field_type = self.ref.type
        if field_type == "money":
            return Decimal(as_int(value)).scaleb(-self.ref.scale)
        if field_type == "number" and self.ref.scale == 0:
            return as_int(value)
        if field_type in ("number", "percent"):
            return _as_decimal(value).quantize(
                Decimal(1).scaleb(-self.ref.scale), rounding=ROUND_HALF_UP
            )
        return value

    def output(self, values: Mapping[str, object], zone) -> object:
        """The JSON-ready value: money/decimals as strings, never floats."""
        return to_json_value(self.exact(values), zone)


def _as_decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def to_json_value(value: object, zone) -> object:
    """Decimals → fixed-point strings, datetimes → local ISO strings, dates → ISO dates."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


class MeasureCompiler:
    """Builds :class:`Measure` objects (and their SQL parts) for one dataset."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._counter = 0

    def compile_all(self, specs: Sequence[Mapping]) -> list[Measure]:
        by_key: dict[str, Mapping] = {spec["key"]: spec for spec in specs}
        compiled: dict[str, Measure] = {}
        # Plain measures first, so a ratio reuses the SQL parts of the measures it divides.
        for plain_pass in (True, False):
            for index, spec in enumerate(specs):
                if (spec.get("agg") != "ratio") == plain_pass:
                    path = f"measures.{index}"
                    compiled[spec["key"]] = self._compile(spec, path, by_key, compiled)
        return [compiled[spec["key"]] for spec in specs]

    def _label(self) -> str:
        self._counter += 1
        return f"p{self._counter}"

    def _compile(self, spec, path, by_key, compiled, hidden=False) -> Measure:
        agg = spec.get("agg")
        key = spec.get("key", f"_{self._counter}")
        if agg == "ratio":
            measure = Measure(key, spec.get("label") or key, agg, None, hidden=hidden)
            measure.numerator = self._operand(
                spec.get("numerator"), f"{path}.numerator", by_key, compiled
            )
            measure.denominator = self._operand(
                spec.get("denominator"), f"{path}.denominator", by_key, compiled
            )
            return measure
        ref = None
        column: ColumnElement | None = None
        if spec.get("field"):
            ref = self.dataset.field(spec["field"], f"{path}.field")
            column = self.dataset.column(ref)
        elif agg not in ("count",):
            message = f"aggregate '{agg}' needs a field"
            raise ReportDefinitionError(message, [detail(f"{path}.field", message)])
        condition = filters_clause(self.dataset, spec.get("filters", []), f"{path}.filters")
        default_label = f"{ref.label}{AGG_LABELS[agg]}" if ref else AGG_LABELS.get(agg, key)
        label = spec.get("label") or default_label
        measure = Measure(key, label, agg, ref, hidden=hidden)
        measure.parts = self._parts(agg, column, condition, path)
        return measure

    def _operand(self, operand, path, by_key, compiled) -> Measure:
        if isinstance(operand, str):
            if operand in compiled:
                return compiled[operand]
            if operand in by_key:
                return self._compile(by_key[operand], path, by_key, compiled, hidden=True)
            message = f"ratio refers to unknown measure '{operand}'"
            raise ReportDefinitionError(message, [detail(path, message)])
        if isinstance(operand, Mapping) and operand.get("agg") not in (None, "ratio"):
            return self._compile({"key": path, **operand}, path, by_key, compiled, hidden=True)
        message = "ratio operands are measure keys or inline non-ratio measures"
        raise ReportDefinitionError(message, [detail(path, message)])

    def _parts(self, agg, column, condition, path) -> list[Part]:
        def when(expression):
            return expression if condition is None else sa.case((condition, expression))

        if agg == "count":
            target = when(sa.literal_column("1")) if column is None else when(column)
            if column is None and condition is None:
                return [Part(self._label(), sa.func.count(), "sum")]
            return [Part(self._label(), sa.func.count(target), "sum")]
        if agg == "count_distinct":
            return [Part(self._label(), sa.func.count(sa.distinct(when(column))), None)]
        if agg == "sum":
            return [Part(self._label(), sa.func.sum(when(column)), "sum")]
        if agg == "avg":
            return [
                Part(self._label(), sa.func.sum(when(column)), "sum"),
                Part(self._label(), sa.func.count(when(column)), "sum"),
            ]
        if agg in ("min", "max"):
            return [Part(self._label(), getattr(sa.func, agg)(when(column)), agg)]
        message = f"unknown aggregate '{agg}'"
        raise ReportDefinitionError(message, [detail(f"{path}.agg", message)])


def combine_parts(parts: Sequence[Part], rows: Sequence[Mapping[str, object]]) -> dict:
    """Re-aggregate grouped part values (used for subtotals and the top-N "others" row)."""
    combined = {}
    for part in parts:
        values = [row[part.label] for row in rows]
        combined[part.label] = _COMBINERS[part.combine](values)
    return combined


def order_expression(measure: Measure) -> ColumnElement:
    """A SQL expression that sorts like the measure's value (ratios as float, order only)."""
    if measure.agg == "ratio":
        numerator = order_expression(measure.numerator)
        denominator = order_expression(measure.denominator)
        return sa.cast(numerator, sa.Float()) / sa.func.nullif(denominator, 0)
    if measure.agg == "avg":
        total, count = (part.expression for part in measure.parts)
        return sa.cast(total, sa.Float()) / sa.func.nullif(count, 0)
    return measure.parts[0].expression
