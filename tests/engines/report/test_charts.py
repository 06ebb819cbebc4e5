"""Chart options: pyecharts output for each type, empty data, one point, 10,000 categories."""

from __future__ import annotations

import json

import pytest

from engines.report import build_chart, chart_types


def report(chart, dimensions, measures=None, **extra):
    return {
        "key": "r",
        "name": "报表",
        "entity": "payment",
        "dimensions": dimensions,
        "measures": measures or [{"key": "n", "agg": "count"}],
        "chart": chart,
        **extra,
    }


def assert_no_urls(options):
    text = json.dumps(options, ensure_ascii=False)
    assert "http" not in text and "//" not in text and "cdn" not in text.lower()


def test_stacked_bar_has_one_series_per_second_dimension(sqlite_db):
    options = sqlite_db.run(
        report({"type": "bar", "stacked": True}, [{"field": "region"}, {"field": "status"}])
    )["chart"]
    assert options["xAxis"][0]["data"] == ["华东", "华北", "华南", "西南"]
    assert sorted(s["name"] for s in options["series"]) == ["approved", "pending", "rejected"]
    assert {s["stack"] for s in options["series"]} == {"total"}
    assert all(s["type"] == "bar" for s in options["series"])
    assert_no_urls(options)


def test_grouped_bar_and_measures_as_series(sqlite_db):
    measures = [{"key": "n", "agg": "count"}, {"key": "t", "agg": "sum", "field": "amount"}]
    result = sqlite_db.run(report({"type": "bar"}, [{"field": "region"}], measures))
    options = result["chart"]
    assert [s["name"] for s in options["series"]] == ["计数", "金额合计"]
    assert all("stack" not in s for s in options["series"])
    # money stays a decimal string (ECharts parses numeric strings), never a float
    assert options["series"][1]["data"] == [row["t"] for row in result["rows"]]
    assert all(isinstance(v, str) for v in options["series"][1]["data"])


def test_area_with_moving_average(sqlite_db):
    spec = report(
        {"type": "area", "moving_average": True},
        [{"field": "paid_at", "bucket": "month"}],
        filters=[{"field": "paid_at", "op": "eq", "value": {"relative": "this_year"}}],
    )
    options = sqlite_db.run(spec)["chart"]
    main, average = options["series"]
    assert main["type"] == "line" and "areaStyle" in main
    assert average["lineStyle"]["type"] == "dashed" and "stack" not in average
    assert "7" in average["name"]
    assert_no_urls(options)


def test_pie(sqlite_db):
    options = sqlite_db.run(report({"type": "pie"}, [{"field": "channel"}]))["chart"]
    data = options["series"][0]["data"]
    counts = [d["value"] for d in data]
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == len(sqlite_db.rows)
    assert "（空）" in [d["name"] for d in data]


def test_empty_data_gives_no_data_title(sqlite_db):
    nothing = [{"field": "amount", "op": "lt", "value": "0"}]
    for chart in ({"type": "bar"}, {"type": "line"}, {"type": "pie"}):
        dims = [{"field": "paid_at", "bucket": "day"}]
        options = sqlite_db.run(report(chart, dims, filters=nothing))["chart"]
        assert options["title"][0]["text"] == "暂无数据"
        assert not options.get("series")
    table = sqlite_db.run(report({"type": "table"}, [{"field": "channel"}], filters=nothing))
    assert table["chart"]["empty"] is True and table["rows"] == []


def test_single_point(sqlite_db):
    spec = report(
        {"type": "line", "moving_average": 7},
        [{"field": "paid_at", "bucket": "day"}],
        filters=[{"field": "paid_at", "op": "eq", "value": {"relative": "today"}}],
    )
    result = sqlite_db.run(spec)
    assert len(result["rows"]) == 1
    options = result["chart"]
    assert options["xAxis"][0]["data"] == ["2024-03-15"]
    assert options["series"][1]["data"] == [["2024-03-15", None]]
    assert "dataZoom" not in options


@pytest.mark.parametrize("kind", ["bar", "line", "pie"])
def test_ten_thousand_categories(kind):
    spec = report({"type": kind}, [{"field": "customer"}])
    result = {
        "columns": [
            {"key": "customer", "label": "客户", "role": "dimension", "type": "relation"},
            {"key": "n", "label": "计数", "role": "measure", "type": "integer", "agg": "count"},
        ],
        "rows": [{"customer": i, "n": 10_000 - i} for i in range(10_000)],
    }
    options = build_chart(spec, result)
    assert_no_urls(options)
    if kind == "pie":
        data = options["series"][0]["data"]
        assert len(data) == 20 and data[-1]["name"] == "其他"
        assert sum(d["value"] for d in data) == sum(r["n"] for r in result["rows"])
        assert options["legend"][0]["type"] == "scroll"
    else:
        assert len(options["xAxis"][0]["data"]) == 10_000
        zoom = options["dataZoom"]
        assert zoom[0]["type"] == "slider" and zoom[1]["type"] == "inside"
        assert (zoom[0]["startValue"], zoom[0]["endValue"]) == (0, 29)
        assert "start" not in zoom[0] and "end" not in zoom[0]
        assert options["series"][0]["label"]["show"] is False


def test_kpi_table_and_pivot_structures(sqlite_db):
    kpi = sqlite_db.run(report({"type": "kpi"}, []))["chart"]
    assert kpi == {
        "type": "kpi",
        "title": "报表",
        "cards": [{"key": "n", "label": "计数", "type": "integer", "value": len(sqlite_db.rows)}],
    }
    table = sqlite_db.run(report({"type": "table", "page_size": 20}, [{"field": "status"}]))
    assert table["chart"]["page_size"] == 20 and table["chart"]["columns"] == table["columns"]
    pivot = sqlite_db.run(
        report({"type": "pivot"}, [{"field": "status"}], pivot={"rows": ["status"], "columns": []})
    )["chart"]
    assert pivot["type"] == "pivot" and pivot["rows"][-1]["total"] is True


def test_chart_type_registry_lists_settings_schemas():
    types = {t["name"]: t for t in chart_types()}
    assert set(types) == {"kpi", "pie", "bar", "line", "area", "table", "pivot"}
    assert "moving_average" in types["line"]["settings_schema"]["properties"]
    assert "compare_previous_period" in types["kpi"]["settings_schema"]["properties"]
