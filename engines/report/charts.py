"""ECharts options for pie, bar, line and area reports, produced with pyecharts.

Values go into the options as they are in the data (integers or decimal strings): ECharts
parses numeric strings, so money never passes through a float here. Options never name a
script host; the UI serves echarts.js itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal

from pyecharts import options as opts
from pyecharts.charts import Bar, Line, Pie
from pyecharts.charts.chart import Chart

EMPTY_TEXT = "暂无数据"
NULL_LABEL = "（空）"
TOTAL_LABEL = "合计"
ZOOM_THRESHOLD = 30  # categories shown at once before a dataZoom slider appears
LABEL_THRESHOLD = 20  # beyond this many points per series, value labels are noise
MAX_PIE_SLICES = 20
ADDITIVE_AGGS = ("count", "sum")


def _init() -> opts.InitOpts:
    return opts.InitOpts(js_host="", width="100%", height="100%")


def _name(value: object) -> str:
    return NULL_LABEL if value is None else str(value)


def _dump(chart: Chart) -> dict:
    return json.loads(chart.dump_options())


def _split(result: Mapping) -> tuple[list[dict], list[dict], list[dict]]:
    dims = [c for c in result["columns"] if c["role"] == "dimension"]
    measures = [c for c in result["columns"] if c["role"] == "measure"]
    averages = [c for c in result["columns"] if c["role"] == "moving_average"]
    return dims, measures, averages


def empty_options(report: Mapping) -> dict:
    """A chart with nothing to draw: a centred "no data" title, no axes, no series."""
    title = opts.TitleOpts(
        title=EMPTY_TEXT, subtitle=report.get("name") or "", pos_left="center", pos_top="middle"
    )
    return _dump(Bar(init_opts=_init()).set_global_opts(title_opts=title))


def _global_opts(report: Mapping, points: int, axis: bool) -> dict:
    settings: dict = {
        "title_opts": opts.TitleOpts(title=report.get("name") or ""),
        "tooltip_opts": opts.TooltipOpts(trigger="axis" if axis else "item"),
        "legend_opts": opts.LegendOpts(type_="scroll", pos_top="bottom"),
    }
    if axis and points > ZOOM_THRESHOLD:
        # Show the first ZOOM_THRESHOLD categories (by index); the slider reaches the rest.
        window = {"start_value": 0, "end_value": ZOOM_THRESHOLD - 1}
        settings["datazoom_opts"] = [
            opts.DataZoomOpts(type_="slider", range_start=None, range_end=None, **window),
            opts.DataZoomOpts(type_="inside", range_start=None, range_end=None, **window),
        ]
    return settings


def _series_table(result: Mapping) -> tuple[list[str], list[tuple[str, list, str | None]]]:
    """Categories and ``(series name, values, moving-average-of)`` for cartesian charts.

    One dimension: one series per measure. Two: the second dimension's values become the
    series of the first measure (e.g. amount by day, split by channel).
    """
    dims, measures, averages = _split(result)
    rows = result["rows"]
    if not dims:
        return [TOTAL_LABEL], [(m["label"], [rows[0][m["key"]]], None) for m in measures]
    first = dims[0]["key"]
    categories = list(dict.fromkeys(_name(row[first]) for row in rows))
    if len(dims) == 1:
        series = [(m["label"], [row[m["key"]] for row in rows], None) for m in measures]
        series += [(a["label"], [row.get(a["key"]) for row in rows], a["of"]) for a in averages]
        return categories, series
    second, measure = dims[1]["key"], measures[0]
    position = {name: index for index, name in enumerate(categories)}
    grouped: dict[str, list] = {}
    ma_grouped: dict[str, list] = {}
    for row in rows:
        name = _name(row[second])
        grouped.setdefault(name, [None] * len(categories))[position[_name(row[first])]] = row[
            measure["key"]
        ]
        for average in averages[:1]:
            ma_grouped.setdefault(name, [None] * len(categories))[position[_name(row[first])]] = (
                row.get(average["key"])
            )
    series = [(name, values, None) for name, values in grouped.items()]
    series += [
        (f"{name}（移动平均）", values, measure["key"]) for name, values in ma_grouped.items()
    ]
    return categories, series


def cartesian_options(report: Mapping, result: Mapping) -> dict:
    """Bar (grouped or stacked), line and area charts, with moving-average lines."""
    if not result["rows"]:
        return empty_options(report)
    settings = report.get("chart", {})
    kind = settings.get("type", "bar")
    stacked = bool(settings.get("stacked"))
    categories, series = _series_table(result)
    show_labels = len(categories) <= LABEL_THRESHOLD and len(series) <= 4
    label = opts.LabelOpts(is_show=show_labels and not stacked)
    chart: Bar | Line = Bar(init_opts=_init()) if kind == "bar" else Line(init_opts=_init())
    chart.add_xaxis(categories)
    for name, values, average_of in series:
        if average_of is not None:
            continue
        if kind == "bar":
            chart.add_yaxis(name, values, stack="total" if stacked else None, label_opts=label)
        else:
            area = opts.AreaStyleOpts(opacity=0.3) if kind == "area" else None
            chart.add_yaxis(
                name,
                values,
                stack="total" if stacked else None,
                label_opts=label,
                areastyle_opts=area,
                is_symbol_show=len(categories) <= 60,
            )
    options = _dump(chart.set_global_opts(**_global_opts(report, len(categories), axis=True)))
    averages = [(name, values) for name, values, average_of in series if average_of is not None]
    if averages:
        options["series"] += _dump_average_series(categories, averages)
        options["legend"][0]["data"] += [name for name, _ in averages]
    return options


def _dump_average_series(categories: Sequence[str], averages) -> list[dict]:
    """Moving averages as dashed lines; built separately so stacking never includes them."""
    line = Line(init_opts=_init()).add_xaxis(list(categories))
    for name, values in averages:
        line.add_yaxis(
            name,
            values,
            is_symbol_show=False,
            is_smooth=True,
            label_opts=opts.LabelOpts(is_show=False),
            linestyle_opts=opts.LineStyleOpts(type_="dashed", width=2),
        )
    return _dump(line)["series"]


def pie_options(report: Mapping, result: Mapping) -> dict:
    """A pie of the first measure by the first dimension; a long tail folds into 其他."""
    dims, measures, _ = _split(result)
    rows = result["rows"]
    if not rows or not dims or not measures:
        return empty_options(report)
    dim, measure = dims[0]["key"], measures[0]
    pairs = [(_name(row[dim]), row[measure["key"]]) for row in rows]
    if len(pairs) > MAX_PIE_SLICES and measure.get("agg") in ADDITIVE_AGGS:
        head, tail = pairs[: MAX_PIE_SLICES - 1], pairs[MAX_PIE_SLICES - 1 :]
        total = sum(Decimal(str(value)) for _, value in tail if value is not None)
        folded = int(total) if measure["type"] == "integer" else format(total, "f")
        pairs = head + [("其他", folded)]
    chart = Pie(init_opts=_init()).add(
        measure["label"],
        pairs,
        radius=["35%", "65%"] if report["chart"].get("donut") else None,
        label_opts=opts.LabelOpts(formatter="{b}: {d}%"),
    )
    settings = _global_opts(report, len(pairs), axis=False)
    return _dump(chart.set_global_opts(**settings))
