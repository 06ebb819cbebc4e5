"""Running a report: plan it, run the runner for its chart type, add the chart options.

definition → :class:`~engines.report.plan.ReportPlan` → grouped / KPI / pivot runner
(GROUP BY in the database) → ``{"columns", "rows", ...}`` → chart options or UI structure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from engines.report.dataset import TableResolver
from engines.report.grouped import run_grouped
from engines.report.kpi import run_kpi
from engines.report.periods import ReportClock
from engines.report.pivot import run_pivot
from engines.report.plan import plan_report
from engines.report.registry import build_chart


def run_report(
    connection: Connection,
    entity_def: Mapping,
    table: sa.Table,
    report: Mapping,
    *,
    where: ColumnElement | None = None,
    clock: ReportClock | None = None,
    tables: TableResolver | None = None,
    extra_filters: Sequence[Mapping] = (),
) -> dict:
    """Run a report: ``{"columns", "rows", "chart", ...}`` (plus ``kpi`` or ``pivot``).

    ``where`` is the caller's row-level permission clause on ``table``; it is ANDed into
    every query, so aggregates only ever see permitted rows. ``extra_filters`` are
    dashboard-wide filters in the report filter shape.
    """
    plan = plan_report(
        connection.dialect.name,
        entity_def,
        table,
        report,
        where=where,
        clock=clock,
        tables=tables,
        extra_filters=extra_filters,
    )
    chart_type = plan.chart.get("type", "table")
    if chart_type == "kpi":
        result = run_kpi(connection, plan)
    elif chart_type == "pivot":
        result = run_pivot(connection, plan)
    else:
        result = run_grouped(connection, plan)
    result["chart"] = build_chart(report, result)
    return result
