"""Grouped reports (bar, line, area, pie, table): sorting, top-N with "others", gap
filling and moving averages on top of one GROUP BY query.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from engines.report.errors import ReportDefinitionError, detail
from engines.report.measures import Part, to_json_value
from engines.report.periods import bucket_labels_between
from engines.report.plan import ReportPlan, order_clauses
from engines.report.query import AggregateQuery, GroupRow
from engines.report.series import (
    DEFAULT_MOVING_AVERAGE_WINDOW,
    average_places,
    fill_time_gaps,
    moving_average,
)

OTHERS_LABEL = "其他"


def run_grouped(connection: Connection, plan: ReportPlan) -> dict:
    """Bar, line, area, pie and table reports: grouped rows, top-N, gaps, moving average."""
    query = plan.query()
    top_n = plan.report.get("top_n")
    if top_n and plan.dimensions:
        rows = _top_n_rows(connection, plan, query, top_n)
    else:
        rows = query.fetch(
            connection,
            plan.dimensions,
            order_by=order_clauses(plan, query),
            limit=plan.report.get("limit"),
        )
    chart = plan.chart
    time_series = chart.get("type") in ("line", "area") and len(plan.dimensions) == 1
    first = plan.dimensions[0] if plan.dimensions else None
    if (
        time_series
        and first.bucket
        and plan.period
        and plan.period.field == first.ref.path
        and chart.get("fill_gaps", True)
        and not plan.report.get("sort")
        and not top_n
    ):
        labels = bucket_labels_between(plan.period.start, plan.period.end, first.bucket)
        rows = fill_time_gaps(rows, labels)
    output = [plan.output_row(row) for row in rows]
    columns = plan.columns()
    window = chart.get("moving_average")
    if window and chart.get("type") in ("line", "area"):
        window = DEFAULT_MOVING_AVERAGE_WINDOW if window is True else int(window)
        _add_moving_averages(plan, rows, output, columns, window)
    return {"columns": columns, "rows": output}


def _add_moving_averages(plan, rows, output, columns, window) -> None:
    """``<measure>__ma`` columns, computed per series (rows sharing the non-first dims)."""
    zone = plan.dataset.clock.zone
    for measure in plan.visible_measures:
        if measure.value_type not in ("integer", "decimal", "money"):
            continue
        key = f"{measure.key}__ma"
        columns.append(
            {
                "key": key,
                "label": f"{measure.label}（{window}期移动平均）",
                "role": "moving_average",
                "type": "decimal",
                "of": measure.key,
            }
        )
        series: dict[tuple, list[int]] = {}
        for index, row in enumerate(rows):
            series.setdefault(row.dims[1:], []).append(index)
        for indexes in series.values():
            values = [measure.exact(rows[i].parts) for i in indexes]
            averages = moving_average(values, window, average_places(measure))
            for i, average in zip(indexes, averages, strict=True):
                output[i][key] = to_json_value(average, zone)


def in_values(expression: ColumnElement, values: Sequence[object]) -> ColumnElement:
    """``expression IN values`` that also matches NULL when None is among the values."""
    present = [value for value in values if value is not None]
    clause = expression.in_(present) if present else sa.false()
    return sa.or_(clause, expression.is_(None)) if None in values else clause


def not_in_values(expression: ColumnElement, values: Sequence[object]) -> ColumnElement:
    """The exact complement of :func:`in_values` (SQL's NOT IN never matches NULL)."""
    present = [value for value in values if value is not None]
    clause = expression.not_in(present) if present else sa.true()
    if None in values:
        return sa.and_(clause, expression.is_not(None))
    return sa.or_(clause, expression.is_(None))


def _top_n_rows(connection, plan: ReportPlan, query: AggregateQuery, top_n) -> list[GroupRow]:
    """The N largest categories of the first dimension, plus an exact "others" row.

    "Others" is a second aggregate over the complement (not a sum of the remaining groups),
    so count_distinct and averages are right too.
    """
    n = int(top_n["n"])
    first, rest = plan.dimensions[0], plan.dimensions[1:]
    measures = {measure.key: measure for measure in plan.measures}
    rank_key = top_n.get("by") or plan.visible_measures[0].key
    if rank_key not in measures:
        message = f"top_n.by refers to unknown measure '{rank_key}'"
        raise ReportDefinitionError(message, [detail("top_n.by", message)])
    rank_measure = measures[rank_key]
    ranking = [query.measure_order(rank_measure, True), *query.default_order([first])]
    if not rest:
        rows = query.fetch(connection, [first], order_by=ranking, limit=n)
        top_raw = [row.raw[0] for row in rows]
    else:
        ranked = query.fetch(
            connection, [first], order_by=ranking, limit=n, parts=rank_measure.all_parts()
        )
        top_raw = [row.raw[0] for row in ranked]
        position = {row.raw[0]: index for index, row in enumerate(ranked)}
        rows = query.fetch(
            connection,
            plan.dimensions,
            where=[in_values(first.expression, top_raw)],
            order_by=query.default_order(plan.dimensions),
        )
        rows.sort(key=lambda row: position[row.raw[0]])
    if top_n.get("others", True) and len(top_raw) == n:
        counter = Part("_n", sa.func.count(), "sum")
        others = query.fetch(
            connection,
            rest,
            where=[not_in_values(first.expression, top_raw)],
            order_by=query.default_order(rest),
            parts=[*query.parts, counter],
        )
        label = top_n.get("label", OTHERS_LABEL)
        for row in others:
            if row.parts["_n"]:
                rows.append(GroupRow((label, *row.dims), row.parts, (None, *row.raw), others=True))
    return rows
