"""KPI comparison, top-N with an exact "others" row, pivot subtotals, moving averages."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def local_day(row):
    return row["paid_at"].astimezone(SHANGHAI).date() if row["paid_at"] else None


def test_kpi_compares_with_previous_period_of_equal_length(db):
    report = {
        "key": "k",
        "name": "近30天",
        "entity": "payment",
        "filters": [
            {"field": "paid_at", "op": "eq", "value": {"relative": "last_30_days"}},
            {"field": "status", "op": "eq", "value": "approved"},
        ],
        "measures": [
            {"key": "total", "agg": "sum", "field": "amount"},
            {"key": "n", "agg": "count"},
            {"key": "mean", "agg": "avg", "field": "amount"},
        ],
        "chart": {"type": "kpi", "compare_previous_period": True},
    }
    result = db.run(report)
    current = (date(2024, 2, 15), date(2024, 3, 16))
    previous = (date(2024, 1, 16), date(2024, 2, 15))

    def pick(bounds):
        return [
            r
            for r in db.rows
            if r["status"] == "approved" and r["paid_at"] and bounds[0] <= local_day(r) < bounds[1]
        ]

    now_rows, before_rows = pick(current), pick(previous)
    assert previous[1] - previous[0] == current[1] - current[0]
    cards = {card["key"]: card for card in result["kpi"]}
    total, prior = sum(r["amount"] for r in now_rows), sum(r["amount"] for r in before_rows)
    assert cards["total"]["value"] == money(total)
    assert cards["total"]["previous"] == money(prior)
    assert cards["total"]["delta"] == str(Decimal(total - prior) / 100)
    pct = Fraction(total - prior, prior) * 100
    assert Decimal(cards["total"]["delta_pct"]) == round(
        Decimal(pct.numerator) / Decimal(pct.denominator), 2
    )
    assert cards["n"] == {
        "key": "n",
        "label": "计数",
        "type": "integer",
        "value": len(now_rows),
        "previous": len(before_rows),
        "delta": len(now_rows) - len(before_rows),
        "delta_pct": cards["n"]["delta_pct"],
    }
    assert result["period"] == {"field": "paid_at", "start": "2024-02-15", "end": "2024-03-16"}
    assert result["chart"]["type"] == "kpi" and len(result["chart"]["cards"]) == 3


def test_kpi_previous_zero_gives_null_percent(db):
    report = {
        "key": "k",
        "name": "k",
        "entity": "payment",
        "filters": [
            {"field": "biz_date", "op": "gte", "value": "2022-01-01"},
            {"field": "biz_date", "op": "lt", "value": "2022-02-01"},
        ],
        "measures": [{"key": "n", "agg": "count"}],
        "chart": {"type": "kpi", "compare_previous_period": True},
    }
    card = db.run(report)["kpi"][0]
    assert card == {
        "key": "n",
        "label": "计数",
        "type": "integer",
        "value": 0,
        "previous": 0,
        "delta": 0,
        "delta_pct": None,
    }


def test_top_n_with_exact_others_row(db):
    report = {
        "key": "t",
        "name": "t",
        "entity": "payment",
        "dimensions": [{"field": "customer"}],
        "measures": [
            {"key": "total", "agg": "sum", "field": "amount"},
            {"key": "days", "agg": "count_distinct", "field": "biz_date"},
        ],
        "top_n": {"n": 5, "others": True},
        "chart": {"type": "pie"},
    }
    rows = db.run(report)["rows"]
    totals, days = defaultdict(int), defaultdict(set)
    for r in db.rows:
        totals[r["customer"]] += r["amount"]
        days[r["customer"]].add(r["biz_date"])
    ranked = sorted(totals, key=lambda c: (-totals[c], c is None, c or 0))[:5]
    assert [row["customer"] for row in rows[:5]] == ranked
    assert [row["total"] for row in rows[:5]] == [money(totals[c]) for c in ranked]
    others = rows[5]
    assert others["_others"] is True and others["customer"] == "其他"
    rest = [r for r in db.rows if r["customer"] not in ranked]
    assert others["total"] == money(sum(r["amount"] for r in rest))
    # count_distinct of the rest is not the sum of per-customer counts:
    assert others["days"] == len({r["biz_date"] for r in rest if r["biz_date"]})
    assert len(rows) == 6


def test_top_n_with_series_dimension(db):
    report = {
        "key": "t",
        "name": "t",
        "entity": "payment",
        "dimensions": [{"field": "region"}, {"field": "status"}],
        "measures": [{"key": "n", "agg": "count"}],
        "top_n": {"n": 2},
        "chart": {"type": "bar", "stacked": True},
    }
    rows = db.run(report)["rows"]
    counts = defaultdict(int)
    for r in db.rows:
        counts[r["region"]] += 1
    top = sorted(counts, key=lambda k: (-counts[k], k))[:2]
    assert [row["region"] for row in rows if not row.get("_others")][:1] == top[:1]
    by_cell = defaultdict(int)
    for r in db.rows:
        by_cell[(r["region"] if r["region"] in top else "其他", r["status"])] += 1
    assert {(row["region"], row["status"]): row["n"] for row in rows} == dict(by_cell)


def test_pivot_subtotals_add_up(db):
    report = {
        "key": "p",
        "name": "p",
        "entity": "payment",
        "filters": [{"field": "paid_at", "op": "isnull", "value": False}],
        "dimensions": [
            {"field": "region"},
            {"field": "channel"},
            {"field": "paid_at", "bucket": "quarter"},
        ],
        "measures": [
            {"key": "n", "agg": "count"},
            {"key": "total", "agg": "sum", "field": "amount"},
            {"key": "mean", "agg": "avg", "field": "amount"},
        ],
        "pivot": {"rows": ["region", "channel"], "columns": ["paid_at"]},
        "chart": {"type": "pivot"},
    }
    pivot = db.run(report)["pivot"]
    rows = [r for r in db.rows if r["paid_at"]]
    columns = [tuple(c["key"]) for c in pivot["columns"]]
    assert columns[-1] == () and pivot["columns"][-1]["total"] is True
    grand = pivot["rows"][-1]
    assert grand["total"] is True
    assert grand["cells"][-1]["n"] == len(rows)
    assert grand["cells"][-1]["total"] == money(sum(r["amount"] for r in rows))
    for row in pivot["rows"]:
        cells = [cell for cell, col in zip(row["cells"], columns, strict=True) if col]
        row_total = row["cells"][-1]
        assert sum(cell["n"] for cell in cells if cell) == row_total["n"]
        assert sum(Decimal(cell["total"]) for cell in cells if cell) == Decimal(row_total["total"])
    region_rows = [r for r in pivot["rows"] if r.get("subtotal")]
    assert sorted(tuple(r["key"]) for r in region_rows) == sorted(
        (g,) for g in {r["region"] for r in rows}
    )
    for sub in region_rows:
        members = [r for r in rows if r["region"] == sub["key"][0]]
        total = sum(r["amount"] for r in members)
        assert sub["cells"][-1]["mean"] == str(
            (Decimal(total) / len(members) / 100).quantize(Decimal("0.01"), "ROUND_HALF_UP")
        )
        details = [r for r in pivot["rows"] if len(r["key"]) == 2 and r["key"][0] == sub["key"][0]]
        assert sum(r["cells"][-1]["n"] for r in details) == sub["cells"][-1]["n"]


def test_pivot_count_distinct_subtotals_come_from_sql(db):
    report = {
        "key": "p",
        "name": "p",
        "entity": "payment",
        "dimensions": [{"field": "region"}, {"field": "status"}],
        "measures": [{"key": "customers", "agg": "count_distinct", "field": "customer"}],
        "pivot": {"rows": ["region"], "columns": ["status"]},
        "chart": {"type": "pivot"},
    }
    pivot = db.run(report)["pivot"]
    for row in pivot["rows"]:
        region = row["key"][0] if row["key"] else None
        for cell, column in zip(row["cells"], pivot["columns"], strict=True):
            status = column["key"][0] if column["key"] else None
            members = [
                r
                for r in db.rows
                if (region is None or r["region"] == region)
                and (status is None or r["status"] == status)
            ]
            expected = len({r["customer"] for r in members if r["customer"] is not None})
            assert cell["customers"] == expected


def test_daily_trend_fills_gaps_and_moving_average(db):
    report = {
        "key": "d",
        "name": "日趋势",
        "entity": "payment",
        "filters": [{"field": "paid_at", "op": "eq", "value": {"relative": "last_30_days"}}],
        "dimensions": [{"field": "paid_at", "bucket": "day"}],
        "measures": [{"key": "n", "agg": "count"}],
        "chart": {"type": "line", "moving_average": 3},
    }
    result = db.run(report)
    days = [date(2024, 2, 15) + timedelta(days=i) for i in range(30)]
    counts = {d: sum(1 for r in db.rows if local_day(r) == d) for d in days}
    assert [row["paid_at"] for row in result["rows"]] == [d.isoformat() for d in days]
    assert [row["n"] for row in result["rows"]] == [counts[d] for d in days]
    averages = [row["n__ma"] for row in result["rows"]]
    assert averages[:2] == [None, None]
    for i in range(2, 30):
        window = sum(counts[d] for d in days[i - 2 : i + 1])
        assert Decimal(averages[i]) == (Decimal(window) / 3).quantize(
            Decimal("0.01"), "ROUND_HALF_UP"
        )
    names = [s["name"] for s in result["chart"]["series"]]
    assert len(names) == 2 and names[1].startswith("计数")
