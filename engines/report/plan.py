"""Compiling a report definition into a :class:`ReportPlan` (dataset, dimensions, measures,
filters, permission clause) that the grouped, KPI and pivot runners share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from engines.report.dataset import Dataset, TableResolver
from engines.report.errors import ReportDefinitionError, detail
from engines.report.filters import Period, filters_clause, report_period
from engines.report.measures import Measure, MeasureCompiler
from engines.report.periods import ReportClock
from engines.report.query import AggregateQuery, Dimension, GroupRow, compile_dimensions


@dataclass
class ReportPlan:
    """Everything compiled from a definition, ready to query."""

    report: Mapping
    dataset: Dataset
    dimensions: list[Dimension]
    measures: list[Measure]
    filters: list[Mapping]
    permission: ColumnElement | None
    period: Period | None

    def where_for(self, filters: Sequence[Mapping]) -> list[ColumnElement]:
        """WHERE clauses for these filters, always with the caller's permission clause."""
        clauses = [filters_clause(self.dataset, filters), self.permission]
        return [clause for clause in clauses if clause is not None]

    @property
    def chart(self) -> Mapping:
        return self.report.get("chart") or {"type": "table"}

    @property
    def visible_measures(self) -> list[Measure]:
        return [measure for measure in self.measures if not measure.hidden]

    def query(self, where: Sequence[ColumnElement] | None = None) -> AggregateQuery:
        clauses = self.where_for(self.filters) if where is None else where
        return AggregateQuery(self.dataset, self.measures, clauses)

    def dimension(self, key: str, path: str) -> Dimension:
        for dim in self.dimensions:
            if dim.key == key:
                return dim
        message = f"unknown dimension '{key}'"
        raise ReportDefinitionError(message, [detail(path, message)])

    def columns(self) -> list[dict]:
        """Column metadata for the UI: dimensions first, then visible measures."""
        columns = [
            {
                "key": d.key,
                "label": d.label,
                "role": "dimension",
                "type": d.value_type,
                **({"bucket": d.bucket} if d.bucket else {}),
            }
            for d in self.dimensions
        ]
        columns += [
            {"key": m.key, "label": m.label, "role": "measure", "type": m.value_type, "agg": m.agg}
            for m in self.visible_measures
        ]
        return columns

    def output_row(self, row: GroupRow) -> dict:
        zone = self.dataset.clock.zone
        out = {dim.key: value for dim, value in zip(self.dimensions, row.dims, strict=False)}
        for measure in self.visible_measures:
            out[measure.key] = measure.output(row.parts, zone)
        if row.others:
            out["_others"] = True
        return out


def plan_report(
    dialect: str,
    entity_def: Mapping,
    table: sa.Table,
    report: Mapping,
    *,
    where: ColumnElement | None = None,
    clock: ReportClock | None = None,
    tables: TableResolver | None = None,
    extra_filters: Sequence[Mapping] = (),
) -> ReportPlan:
    """Compile a definition against a table; raises ReportDefinitionError on bad references."""
    clock = clock or ReportClock()
    dataset = Dataset(entity_def, table, dialect, clock, tables)
    dimensions = compile_dimensions(dataset, report.get("dimensions", []))
    measures = MeasureCompiler(dataset).compile_all(report.get("measures", []))
    filters = [*report.get("filters", []), *extra_filters]
    field_types = {
        spec["field"]: dataset.field(spec["field"], f"filters.{index}.field").type
        for index, spec in enumerate(filters)
    }
    period = report_period(filters, field_types, clock)
    plan = ReportPlan(report, dataset, dimensions, measures, filters, where, period)
    plan.where_for(filters)  # compile now so bad filter values fail before any query runs
    return plan


def order_clauses(plan: ReportPlan, query: AggregateQuery) -> list[ColumnElement]:
    """ORDER BY from ``sort`` (``"-total"`` or ``{"key","dir"}``), then dimensions ascending."""
    clauses = []
    sort = list(plan.report.get("sort", []))
    if not sort and plan.chart.get("type") == "pie" and plan.visible_measures:
        sort = [f"-{plan.visible_measures[0].key}"]
    measures = {measure.key: measure for measure in plan.measures}
    for index, item in enumerate(sort):
        key, descending = _sort_item(item)
        dims = [dim for dim in plan.dimensions if dim.key == key]
        if key in measures:
            clauses.append(query.measure_order(measures[key], descending))
        elif dims:
            dim = dims[0]
            expression = plan.dataset.sortable(dim.expression, None if dim.bucket else dim.ref)
            clauses.append((expression.desc() if descending else expression.asc()).nulls_last())
        else:
            message = f"sort key '{key}' is neither a dimension nor a measure"
            raise ReportDefinitionError(message, [detail(f"sort.{index}", message)])
    return clauses + query.default_order(plan.dimensions)


def _sort_item(item: str | Mapping) -> tuple[str, bool]:
    if isinstance(item, str):
        return item.lstrip("-"), item.startswith("-")
    return item["key"], item.get("dir", "asc") == "desc"
