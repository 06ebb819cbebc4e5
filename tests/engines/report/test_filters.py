"""Filters (record-API operators), relative dates, permission clauses and relation joins."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engines.report import ReportClock

SHANGHAI = ZoneInfo("Asia/Shanghai")


def count_report(filters, dimensions=()):
    return {
        "key": "c",
        "name": "c",
        "entity": "payment",
        "filters": filters,
        "dimensions": list(dimensions),
        "measures": [{"key": "n", "agg": "count"}],
        "chart": {"type": "table"},
    }


def local_day(row):
    return row["paid_at"].astimezone(SHANGHAI).date() if row["paid_at"] else None


CASES = [
    ({"field": "channel", "op": "eq", "value": "alipay"}, lambda r: r["channel"] == "alipay"),
    ({"field": "channel", "op": "ne", "value": "alipay"}, lambda r: r["channel"] != "alipay"),
    ({"field": "amount", "op": "gt", "value": "30.00"}, lambda r: r["amount"] > 3000),
    ({"field": "amount", "op": "gte", "value": "30.5"}, lambda r: r["amount"] >= 3050),
    ({"field": "amount", "op": "lt", "value": 12}, lambda r: r["amount"] < 1200),
    ({"field": "amount", "op": "lte", "value": "12.34"}, lambda r: r["amount"] <= 1234),
    (
        {"field": "channel", "op": "in", "value": ["wechat", "stripe"]},
        lambda r: r["channel"] in ("wechat", "stripe"),
    ),
    ({"field": "region", "op": "contains", "value": "华"}, lambda r: "华" in r["region"]),
    ({"field": "status", "op": "contains", "value": "PROV"}, lambda r: "prov" in r["status"]),
    ({"field": "channel", "op": "isnull", "value": True}, lambda r: r["channel"] is None),
    ({"field": "fee", "op": "isnull", "value": False}, lambda r: r["fee"] is not None),
    ({"field": "refunded", "op": "eq", "value": True}, lambda r: r["refunded"]),
    ({"field": "qty", "op": "in", "value": [1, "2"]}, lambda r: r["qty"] in (1, 2)),
    (
        {"field": "biz_date", "op": "gte", "value": "2024-01-01"},
        lambda r: r["biz_date"] is not None and r["biz_date"] >= date(2024, 1, 1),
    ),
    (
        {"field": "paid_at", "op": "eq", "value": "2024-03-14"},
        lambda r: local_day(r) == date(2024, 3, 14),
    ),
    (
        {"field": "paid_at", "op": "gte", "value": "2024-03-15T00:00:00+08:00"},
        lambda r: r["paid_at"] is not None and local_day(r) >= date(2024, 3, 15),
    ),
    (
        {"field": "paid_at", "op": "lt", "value": "2024-01-01T00:00:00"},
        lambda r: r["paid_at"] is not None and local_day(r) < date(2024, 1, 1),
    ),
    ({"field": "customer.level", "op": "eq", "value": "A"}, "level A"),
]


@pytest.mark.parametrize(
    ("spec", "predicate"), CASES, ids=[c[0]["op"] + ":" + c[0]["field"] for c in CASES]
)
def test_filter_operators(db, spec, predicate):
    if predicate == "level A":
        levels = {c["id"]: c["level"] for c in db.customers}
        predicate = lambda r: levels.get(r["customer"]) == "A"  # noqa: E731
    expected = sum(1 for row in db.rows if predicate(row))
    assert db.run(count_report([spec]))["rows"] == [{"n": expected}]


RELATIVE = {
    # NOW is Friday 2024-03-15 10:00 in Shanghai.
    "today": (date(2024, 3, 15), date(2024, 3, 16)),
    "last_30_days": (date(2024, 2, 15), date(2024, 3, 16)),
    "this_month": (date(2024, 3, 1), date(2024, 4, 1)),
    "last_month": (date(2024, 2, 1), date(2024, 3, 1)),
    "this_year": (date(2024, 1, 1), date(2025, 1, 1)),
    "this_week": (date(2024, 3, 11), date(2024, 3, 18)),
}


@pytest.mark.parametrize("name", sorted(RELATIVE))
def test_relative_dates_with_fixed_clock(db, name):
    start, end = RELATIVE[name]
    expected = sum(1 for r in db.rows if r["paid_at"] and start <= local_day(r) < end)
    report = count_report([{"field": "paid_at", "op": "eq", "value": {"relative": name}}])
    assert db.run(report)["rows"] == [{"n": expected}]
    on_date = sum(1 for r in db.rows if r["biz_date"] and start <= r["biz_date"] < end)
    report = count_report([{"field": "biz_date", "op": "eq", "value": {"relative": name}}])
    assert db.run(report)["rows"] == [{"n": on_date}]


def test_today_follows_the_clock_timezone(db):
    # At 2024-03-15 07:30 in Shanghai it is still 03-14 23:30 UTC: "today" must be local.
    clock = ReportClock(now=datetime(2024, 3, 14, 23, 30, tzinfo=ZoneInfo("UTC")))
    report = count_report([{"field": "paid_at", "op": "eq", "value": {"relative": "today"}}])
    expected = sum(1 for r in db.rows if local_day(r) == date(2024, 3, 15))
    assert db.run(report, clock=clock)["rows"] == [{"n": expected}]
    utc_clock = ReportClock(timezone="UTC", now=datetime(2024, 3, 14, 23, 30))
    expected_utc = sum(
        1 for r in db.rows if r["paid_at"] and r["paid_at"].date() == date(2024, 3, 14)
    )
    assert db.run(report, clock=utc_clock)["rows"] == [{"n": expected_utc}]


def test_permission_clause_filters_aggregates(db):
    report = count_report([], dimensions=[{"field": "channel"}])
    report["measures"].append({"key": "total", "agg": "sum", "field": "amount"})
    result = db.run(report, where=db.payment.c.created_by == "u2")
    mine = [r for r in db.rows if r["created_by"] == "u2"]
    expected = Counter(r["channel"] for r in mine)
    assert {row["channel"]: row["n"] for row in result["rows"]} == dict(expected)
    assert sum(row["n"] for row in result["rows"]) == len(mine) < len(db.rows)
    total = sum(r["amount"] for r in mine)
    kpi = dict(report, chart={"type": "kpi"}, dimensions=[])
    card = db.run(kpi, where=db.payment.c.created_by == "u2")["kpi"][1]
    assert card["value"] == f"{total // 100}.{total % 100:02d}"


def test_relation_dimension_joins_target(db):
    report = count_report([], dimensions=[{"field": "customer.level"}])
    levels = {c["id"]: c["level"] for c in db.customers}
    expected = Counter(levels.get(r["customer"]) for r in db.rows)
    rows = db.run(report)["rows"]
    assert {row["customer.level"]: row["n"] for row in rows} == dict(expected)
    assert [row["customer.level"] for row in rows] == ["A", "B", "C", None]


def test_dashboard_filters_are_anded(db):
    report = count_report([{"field": "channel", "op": "eq", "value": "alipay"}])
    extra = [{"field": "region", "op": "eq", "value": "华东"}]
    expected = sum(1 for r in db.rows if r["channel"] == "alipay" and r["region"] == "华东")
    assert db.run(report, extra_filters=extra)["rows"] == [{"n": expected}]


def test_thirty_day_window_boundaries():
    from engines.report.periods import relative_date_range

    clock = ReportClock(now=datetime(2024, 3, 1, 0, 5, tzinfo=SHANGHAI))
    start, end = relative_date_range("last_30_days", clock)
    assert (end - start) == timedelta(days=30) and end == date(2024, 3, 2)
    assert relative_date_range("last_month", clock) == (date(2024, 2, 1), date(2024, 3, 1))
