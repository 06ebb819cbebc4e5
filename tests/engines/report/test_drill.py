"""Drill-down filters select exactly the records behind a cell (checked in plain Python)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from engines.report import DrillDownError, drill_filters

PAYMENT_TYPES = {
    "amount": "money",
    "channel": "text",
    "status": "text",
    "paid_at": "datetime",
    "biz_date": "date",
    "region": "text",
    "refunded": "boolean",
}


def parse(field, text):
    kind = PAYMENT_TYPES[field]
    if kind == "money":
        return int(Decimal(text) * 100)
    if kind == "datetime":
        return datetime.fromisoformat(text)
    if kind == "date":
        return date.fromisoformat(text)
    if kind == "boolean":
        return text == "true"
    return text


def matches(row, filters):
    """The record API's filter semantics, written out independently of the engine."""
    for key, text in filters.items():
        field, _, op = key.partition("__")
        value = row[field]
        if op == "isnull":
            if (value is None) != (text == "true"):
                return False
            continue
        if value is None:
            return False
        if op == "in":
            if value not in {parse(field, item) for item in text.split(",")}:
                return False
            continue
        target = parse(field, text)
        ok = {
            "": value == target,
            "ne": value != target,
            "gt": value > target,
            "gte": value >= target,
            "lt": value < target,
            "lte": value <= target,
        }[op]
        if not ok:
            return False
    return True


@pytest.mark.parametrize("bucket", ["day", "week", "month", "quarter", "year"])
def test_drill_matches_each_cell(db, bucket):
    entity = db.tables["payment"][0]
    report = {
        "key": "d",
        "name": "d",
        "entity": "payment",
        "filters": [
            {"field": "status", "op": "in", "value": ["approved", "pending"]},
            {"field": "amount", "op": "gte", "value": "5.00"},
            {"field": "paid_at", "op": "eq", "value": {"relative": "this_year"}},
        ],
        "dimensions": [{"field": "paid_at", "bucket": bucket}, {"field": "channel"}],
        "measures": [
            {"key": "n", "agg": "count"},
            {"key": "total", "agg": "sum", "field": "amount"},
        ],
        "chart": {"type": "bar"},
    }
    result = db.run(report)
    assert result["rows"]
    for row in result["rows"]:
        filters = drill_filters(report, row, entity, clock=db.clock)
        selected = [r for r in db.rows if matches(r, filters)]
        assert len(selected) == row["n"], (row, filters)
        total = sum(r["amount"] for r in selected)
        assert f"{total // 100}.{total % 100:02d}" == row["total"]


def test_drill_null_category_and_measure_filters(db):
    entity = db.tables["payment"][0]
    report = {
        "key": "d",
        "name": "d",
        "entity": "payment",
        "dimensions": [{"field": "channel"}, {"field": "biz_date", "bucket": "month"}],
        "measures": [
            {
                "key": "refunds",
                "agg": "count",
                "filters": [{"field": "refunded", "op": "eq", "value": True}],
            }
        ],
        "chart": {"type": "table"},
    }
    rows = db.run(report)["rows"]
    null_rows = [row for row in rows if row["channel"] is None]
    assert null_rows
    for row in rows:
        filters = drill_filters(report, row, entity, clock=db.clock, measure="refunds")
        assert sum(1 for r in db.rows if matches(r, filters)) == row["refunds"]
    assert drill_filters(report, null_rows[0], entity)["channel__isnull"] == "true"


def test_others_row_cannot_be_drilled():
    with pytest.raises(DrillDownError):
        drill_filters({"dimensions": [{"field": "channel"}]}, {"channel": "其他", "_others": True})


def test_relative_filters_become_concrete(sqlite_db):
    report = {
        "filters": [{"field": "paid_at", "op": "eq", "value": {"relative": "this_month"}}],
        "dimensions": [{"field": "paid_at", "bucket": "week"}],
    }
    entity = {"key": "payment", "fields": [{"key": "paid_at", "type": "datetime"}]}
    got = drill_filters(report, {"paid_at": "2024-W09"}, entity, clock=sqlite_db.clock)
    # week 9 of 2024 is 02-26..03-03; intersected with March
    assert got == {
        "paid_at__gte": "2024-03-01T00:00:00+08:00",
        "paid_at__lt": "2024-03-04T00:00:00+08:00",
    }
