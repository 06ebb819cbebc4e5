"""The chart-type registry: name → settings JSON Schema and option builder.

The designer builds its chart property panel from :func:`chart_types`; the report
definition schema takes its ``chart`` variants from here, so adding a chart type is one
``register`` call below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from engines.report import cards, charts
from engines.report.errors import ReportDefinitionError, detail

OptionsBuilder = Callable[[Mapping, Mapping], dict]


@dataclass(frozen=True)
class ChartType:
    """A chart type: its settings schema, dimension limits and option builder."""

    name: str
    label: str
    settings_schema: dict
    build: OptionsBuilder
    min_dimensions: int = 0
    max_dimensions: int | None = None


_CHART_TYPES: dict[str, ChartType] = {}


def register(chart_type: ChartType) -> ChartType:
    """Add a chart type; registering a name twice is a programming error."""
    if chart_type.name in _CHART_TYPES:
        raise ValueError(f"chart type '{chart_type.name}' is already registered")
    _CHART_TYPES[chart_type.name] = chart_type
    return chart_type


def get_chart_type(name: str) -> ChartType:
    if name not in _CHART_TYPES:
        message = f"unknown chart type '{name}'"
        raise ReportDefinitionError(message, [detail("chart.type", message)])
    return _CHART_TYPES[name]


def chart_types() -> list[dict]:
    """Public description of every chart type (for a ``/types`` endpoint)."""
    return [
        {
            "name": t.name,
            "label": t.label,
            "settings_schema": t.settings_schema,
            "min_dimensions": t.min_dimensions,
            "max_dimensions": t.max_dimensions,
        }
        for t in _CHART_TYPES.values()
    ]


def chart_settings_schemas() -> dict[str, dict]:
    return {name: chart_type.settings_schema for name, chart_type in _CHART_TYPES.items()}


def build_chart(report: Mapping, result: Mapping) -> dict:
    """Chart options (ECharts) or a UI structure for the report's chart type."""
    chart_type = get_chart_type((report.get("chart") or {}).get("type", "table"))
    return chart_type.build(report, result)


def _settings(name: str, extra: dict | None = None) -> dict:
    return {
        "type": "object",
        "properties": {"type": {"const": name}, "title": {"type": "string"}, **(extra or {})},
        "required": ["type"],
        "additionalProperties": False,
    }


_STACKED = {"stacked": {"type": "boolean", "default": False}}
_TIME_SERIES = {
    **_STACKED,
    "moving_average": {
        "oneOf": [{"type": "boolean"}, {"type": "integer", "minimum": 2, "maximum": 365}],
        "description": "true (7 points) or the window size",
    },
    "fill_gaps": {"type": "boolean", "default": True},
}

register(
    ChartType(
        "kpi",
        "指标卡",
        _settings("kpi", {"compare_previous_period": {"type": "boolean", "default": False}}),
        cards.kpi_card,
        max_dimensions=0,
    )
)
register(
    ChartType(
        "pie",
        "饼图",
        _settings("pie", {"donut": {"type": "boolean"}}),
        charts.pie_options,
        min_dimensions=1,
        max_dimensions=1,
    )
)
register(
    ChartType(
        "bar", "柱状图", _settings("bar", _STACKED), charts.cartesian_options, max_dimensions=2
    )
)
register(
    ChartType(
        "line",
        "折线图",
        _settings("line", _TIME_SERIES),
        charts.cartesian_options,
        min_dimensions=1,
        max_dimensions=2,
    )
)
register(
    ChartType(
        "area",
        "面积图",
        _settings("area", _TIME_SERIES),
        charts.cartesian_options,
        min_dimensions=1,
        max_dimensions=2,
    )
)
register(
    ChartType(
        "table",
        "明细表",
        _settings("table", {"page_size": {"type": "integer", "minimum": 1, "maximum": 500}}),
        cards.table_view,
    )
)
register(ChartType("pivot", "透视表", _settings("pivot"), cards.pivot_view, min_dimensions=1))
