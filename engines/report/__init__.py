"""Report engine: report definitions → one grouped SQL query → rows and chart options.

Pure: takes entity definitions, SQLAlchemy tables and a connection; never imports Flask
or app_platform. The platform calls :func:`validate_report` when a report is saved,
:func:`run_report` to serve data and chart options, and :func:`drill_filters` when a
user clicks into a chart.
"""

from engines.report.drill import drill_filters
from engines.report.engine import run_report
from engines.report.errors import (
    DrillDownError,
    ReportDefinitionError,
    ReportError,
    ReportExecutionError,
)
from engines.report.periods import DEFAULT_TIMEZONE, ReportClock
from engines.report.plan import plan_report
from engines.report.registry import ChartType, build_chart, chart_types, register
from engines.report.schema import report_definition_schema
from engines.report.validation import validate_report

__all__ = [
    "DEFAULT_TIMEZONE",
    "ChartType",
    "DrillDownError",
    "ReportClock",
    "ReportDefinitionError",
    "ReportError",
    "ReportExecutionError",
    "build_chart",
    "chart_types",
    "drill_filters",
    "plan_report",
    "register",
    "report_definition_schema",
    "run_report",
    "validate_report",
]
