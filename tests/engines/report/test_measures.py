"""Every measure and every time bucket, on SQLite and PostgreSQL, against plain Python."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from math import floor
from zoneinfo import ZoneInfo

import pytest

SHANGHAI = ZoneInfo("Asia/Shanghai")


def money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def half_up(value: Fraction, places: int) -> str:
    scaled = floor(value * 10**places + Fraction(1, 2))
    text = f"{abs(scaled):0{places + 1}d}"
    sign = "-" if scaled < 0 else ""
    return f"{sign}{text[:-places]}.{text[-places:]}"


def label(day, bucket: str) -> str:
    if bucket == "day":
        return day.isoformat()
    if bucket == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if bucket == "month":
        return f"{day.year}-{day.month:02d}"
    if bucket == "quarter":
        return f"{day.year}-Q{(day.month + 2) // 3}"
    return str(day.year)


ALL_MEASURES = [
    {"key": "n", "agg": "count"},
    {"key": "customers", "agg": "count_distinct", "field": "customer"},
    {"key": "total", "agg": "sum", "field": "amount"},
    {"key": "mean", "agg": "avg", "field": "amount"},
    {"key": "low", "agg": "min", "field": "amount"},
    {"key": "high", "agg": "max", "field": "amount"},
    {"key": "fees", "agg": "sum", "field": "fee"},
    {"key": "fee_rate", "agg": "ratio", "numerator": "fees", "denominator": "total"},
    {
        "key": "approved",
        "agg": "count",
        "filters": [{"field": "status", "op": "eq", "value": "approved"}],
    },
    {"key": "approval_rate", "agg": "ratio", "numerator": "approved", "denominator": "n"},
    {"key": "first_paid", "agg": "min", "field": "paid_at"},
    {"key": "last_day", "agg": "max", "field": "biz_date"},
    {"key": "qty_sum", "agg": "sum", "field": "qty"},
    {"key": "qty_avg", "agg": "avg", "field": "qty"},
]


def expected_for(rows: list[dict]) -> dict:
    """The measures above, computed from the generated rows with exact fractions."""
    amounts = [r["amount"] for r in rows]
    fees = [r["fee"] for r in rows if r["fee"] is not None]
    approved = sum(1 for r in rows if r["status"] == "approved")
    paid = [r["paid_at"] for r in rows if r["paid_at"] is not None]
    return {
        "n": len(rows),
        "customers": len({r["customer"] for r in rows if r["customer"] is not None}),
        "total": money(sum(amounts)),
        "mean": half_up(Fraction(sum(amounts), 100 * len(amounts)), 2),
        "low": money(min(amounts)),
        "high": money(max(amounts)),
        "fees": money(sum(fees)),
        "fee_rate": half_up(Fraction(sum(fees), sum(amounts)), 4),
        "approved": approved,
        "approval_rate": half_up(Fraction(approved, len(rows)), 4),
        "first_paid": min(paid).astimezone(SHANGHAI).isoformat() if paid else None,
        "last_day": max(r["biz_date"] for r in rows if r["biz_date"]).isoformat(),
        "qty_sum": sum(r["qty"] for r in rows),
        "qty_avg": half_up(Fraction(sum(r["qty"] for r in rows), len(rows)), 2),
    }


def test_every_measure_grouped_by_channel(db):
    report = {
        "key": "all",
        "name": "全部指标",
        "entity": "payment",
        "dimensions": [{"field": "channel"}],
        "measures": ALL_MEASURES,
        "chart": {"type": "table"},
    }
    result = db.run(report)
    groups = defaultdict(list)
    for row in db.rows:
        groups[row["channel"]].append(row)
    order = sorted(k for k in groups if k is not None) + [None]
    assert [row["channel"] for row in result["rows"]] == order
    for row in result["rows"]:
        expected = {"channel": row["channel"], **expected_for(groups[row["channel"]])}
        assert row == expected
    types = {c["key"]: c["type"] for c in result["columns"]}
    assert types["total"] == "money" and types["n"] == "integer"
    assert types["qty_sum"] == "integer" and types["approval_rate"] == "decimal"


def test_totals_without_dimensions(db):
    report = {
        "key": "all",
        "name": "合计",
        "entity": "payment",
        "measures": ALL_MEASURES,
        "chart": {"type": "table"},
    }
    assert db.run(report)["rows"] == [expected_for(db.rows)]


def test_ratio_with_zero_denominator_is_null(db):
    report = {
        "key": "r",
        "name": "r",
        "entity": "payment",
        "dimensions": [{"field": "status"}],
        "measures": [
            {
                "key": "refunds",
                "agg": "count",
                "filters": [{"field": "refunded", "op": "eq", "value": True}],
            },
            {
                "key": "rejected",
                "agg": "count",
                "filters": [{"field": "status", "op": "eq", "value": "rejected"}],
            },
            {"key": "share", "agg": "ratio", "numerator": "refunds", "denominator": "rejected"},
        ],
        "chart": {"type": "table"},
    }
    rows = {row["status"]: row for row in db.run(report)["rows"]}
    assert rows["approved"]["share"] is None
    rejected = [r for r in db.rows if r["status"] == "rejected"]
    refunds = sum(1 for r in rejected if r["refunded"])
    assert rows["rejected"]["share"] == half_up(Fraction(refunds, len(rejected)), 4)


@pytest.mark.parametrize("bucket", ["day", "week", "month", "quarter", "year"])
@pytest.mark.parametrize("field", ["paid_at", "biz_date"])
def test_time_buckets(db, field, bucket):
    report = {
        "key": "b",
        "name": "b",
        "entity": "payment",
        "dimensions": [{"field": field, "bucket": bucket}],
        "measures": [
            {"key": "n", "agg": "count"},
            {"key": "total", "agg": "sum", "field": "amount"},
        ],
        "chart": {"type": "table"},
    }
    result = db.run(report)
    expected: dict = defaultdict(lambda: [0, 0])
    for row in db.rows:
        value = row[field]
        if value is None:
            key = None
        else:
            day = value.astimezone(SHANGHAI).date() if field == "paid_at" else value
            key = label(day, bucket)
        expected[key][0] += 1
        expected[key][1] += row["amount"]
    got = {row[field]: [row["n"], row["total"]] for row in result["rows"]}
    assert got == {key: [n, money(total)] for key, (n, total) in expected.items()}
    labels = [row[field] for row in result["rows"]]
    assert labels == sorted(k for k in expected if k is not None) + (
        [None] if None in expected else []
    )


def test_bucket_edges_use_report_timezone(db):
    report = {
        "key": "b",
        "name": "b",
        "entity": "payment",
        "dimensions": [{"field": "paid_at", "bucket": "week"}],
        "measures": [{"key": "n", "agg": "count"}],
        "filters": [{"field": "paid_at", "op": "lt", "value": "2023-01-02"}],
        "chart": {"type": "table"},
    }
    rows = db.run(report)["rows"]
    # 2022-12-31T17:00Z is Sunday 2023-01-01 01:00 in Shanghai: ISO week 2022-W52.
    assert rows[0]["paid_at"] == "2022-W52"
