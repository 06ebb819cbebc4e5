"""The report and dashboard API: versioned definitions validated at save, data computed in
the database for the caller's rows only, "needs fixing" instead of a 500 when the entity
or a field went away, CSV export, drill-down into the record list, dashboards.

Expected values are computed here from the Python copy of the records, never taken from
a previous run of the code under test.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest

APP = {"key": "sales", "name": "收单"}
CHANNELS = ["alipay", "wechat", "unionpay"]
REGIONS = ["华东", "华北"]
PAYMENT = {
    "key": "payment",
    "label": "支付流水",
    "fields": [
        {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"},
        {"key": "channel", "label": "渠道", "type": "select", "options": CHANNELS},
        {"key": "region", "label": "区域", "type": "select", "options": REGIONS},
        {"key": "paid_at", "label": "支付时间", "type": "datetime"},
        {"key": "note", "label": "备注", "type": "text", "permissions": {"member": "hidden"}},
    ],
}
CREATORS = ["member", "member", "member2", "admin"]


def _records() -> list[dict[str, Any]]:
    """24 payments; times near local midnight so a UTC-day bucket would be wrong. Only
    the admin writes the note (members cannot see it, so cannot write it either)."""
    rows = []
    for i in range(24):
        hour = [0, 7, 23, 16][i % 4]
        row = {
            "amount": f"{(i * 137) % 1000}.{(i * 7) % 100:02d}",
            "channel": CHANNELS[i % 3],
            "region": REGIONS[(i // 3) % 2] if i < 21 else None,
            "paid_at": f"2024-03-{1 + i % 10:02d}T{hour:02d}:30:00+08:00",
        }
        if CREATORS[i % 4] == "admin":
            row["note"] = f"n{i % 5}"
        rows.append(row)
    return rows


RECORDS = _records()
PIE = {"key": "by_channel", "name": "渠道占比", "entity": "payment",
       "dimensions": [{"field": "channel"}],
       "measures": [{"key": "total", "agg": "sum", "field": "amount"},
                    {"key": "n", "agg": "count"}],
       "chart": {"type": "pie"}}
TREND = {"key": "trend", "name": "每日趋势", "entity": "payment",
         "dimensions": [{"field": "paid_at", "bucket": "day", "key": "day"}],
         "measures": [{"key": "total", "agg": "sum", "field": "amount"}],
         "chart": {"type": "line"}}


def _money(text: str | None) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def _sums(rows: list[dict], key: str) -> dict[Any, Decimal]:
    totals: dict[Any, Decimal] = defaultdict(Decimal)
    for row in rows:
        totals[row[key]] += _money(row["amount"])
    return dict(totals)


@pytest.fixture
def sales(admin: Any, login: Any) -> Any:
    """App 'sales' with 24 payments created by member, member2 and admin."""
    assert admin.post("/apps", APP).status_code == 201
    response = admin.post("/apps/sales/entities", PAYMENT)
    assert response.status_code == 201, response.get_json()
    for index, record in enumerate(RECORDS):
        api = login(CREATORS[index % 4])
        response = api.post("/apps/sales/entities/payment/records", record)
        assert response.status_code == 201, response.get_json()
    return admin


def _save(api: Any, report: dict) -> dict:
    response = api.post("/apps/sales/reports", report)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _data(api: Any, key: str, query: str = "") -> Any:
    return api.get(f"/apps/sales/reports/{key}/data{query}")


def _publish_permissions(admin: Any, permissions: dict) -> None:
    current = admin.get("/apps/sales/entities/payment").get_json()
    body = {**PAYMENT, "permissions": permissions, "version": current["version"]}
    response = admin.put("/apps/sales/entities/payment", body)
    assert response.status_code == 200, response.get_json()


# ------------------------------------------------------------------ definitions


def test_report_versions_and_locking(sales: Any) -> None:
    created = _save(sales, PIE)
    assert created["version"] == 1 and created["created_by"] == "admin"
    assert sales.post("/apps/sales/reports", PIE).status_code == 409
    renamed = {**PIE, "name": "渠道金额", "version": 1}
    response = sales.put("/apps/sales/reports/by_channel", renamed)
    assert response.status_code == 200 and response.get_json()["version"] == 2
    stale = sales.put("/apps/sales/reports/by_channel", renamed)  # still says version 1
    assert stale.status_code == 409
    assert sales.get("/apps/sales/reports/by_channel").get_json()["name"] == "渠道金额"
    old = sales.get("/apps/sales/reports/by_channel?version=1").get_json()
    assert old["name"] == "渠道占比" and old["version"] == 1
    listing = sales.get("/apps/sales/reports").get_json()
    assert [(i["key"], i["version"]) for i in listing["items"]] == [("by_channel", 2)]
    assert sales.put("/apps/sales/reports/nope", {**PIE, "key": "nope"}).status_code == 404
    moved = sales.put("/apps/sales/reports/by_channel", {**PIE, "key": "other"})
    assert moved.status_code == 422 and moved.get_json()["error"]["details"][0]["path"] == "key"


def test_save_refuses_definitions_that_break_the_entity(sales: Any) -> None:
    bad_sum = {**PIE, "measures": [{"key": "total", "agg": "sum", "field": "channel"}]}
    response = sales.post("/apps/sales/reports", bad_sum)
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert details[0]["path"] == "measures.0.field" and "channel" in details[0]["message"]
    unknown = {**PIE, "dimensions": [{"field": "colour"}]}
    details = sales.post("/apps/sales/reports", unknown).get_json()["error"]["details"]
    assert details == [{"path": "dimensions.0.field",
                        "message": "unknown field 'colour' in entity 'payment'"}]
    no_entity = sales.post("/apps/sales/reports", {**PIE, "entity": "refund"})
    assert no_entity.status_code == 422
    assert no_entity.get_json()["error"]["details"][0]["path"] == "entity"
    assert sales.post("/apps/sales/reports", {"key": "x"}).status_code == 422
    assert sales.get("/apps/sales/reports").get_json()["total"] == 0  # nothing half-saved


def test_permissions_on_definitions(sales: Any, login: Any) -> None:
    _save(sales, PIE)
    member, outsider = login("member"), login("outsider")
    assert member.post("/apps/sales/reports", {**PIE, "key": "mine"}).status_code == 403
    assert member.put("/apps/sales/reports/by_channel", PIE).status_code == 403
    assert member.post("/apps/sales/reports/preview", PIE).status_code == 403
    assert member.get("/apps/sales/reports/by_channel").status_code == 200
    for path in ("/apps/sales/reports", "/apps/sales/reports/by_channel",
                 "/apps/sales/reports/by_channel/data", "/apps/sales/reports/by_channel/chart",
                 "/apps/sales/dashboards"):
        assert outsider.get(path).status_code == 403, path
    assert login("designer").post("/apps/sales/reports", {**PIE, "key": "d"}).status_code == 201


# ------------------------------------------------------------------ data


def test_pie_values_equal_independent_sums(sales: Any) -> None:
    _save(sales, PIE)
    body = _data(sales, "by_channel").get_json()
    assert [c["key"] for c in body["columns"]] == ["channel", "total", "n"]
    expected = _sums(RECORDS, "channel")
    counts = Counter(r["channel"] for r in RECORDS)
    got = {row["channel"]: (Decimal(row["total"]), row["n"]) for row in body["rows"]}
    assert got == {ch: (expected[ch], counts[ch]) for ch in CHANNELS}
    # the pie sorts by its measure, largest slice first
    assert [row["channel"] for row in body["rows"]] == sorted(
        CHANNELS, key=lambda ch: -expected[ch])
    chart = sales.get("/apps/sales/reports/by_channel/chart").get_json()
    slices = {item["name"]: Decimal(str(item["value"])) for item in chart["series"][0]["data"]}
    assert slices == expected


def test_trend_buckets_by_local_day_and_filters_apply(sales: Any) -> None:
    _save(sales, TREND)
    rows = _data(sales, "trend").get_json()["rows"]
    by_day: dict[str, Decimal] = defaultdict(Decimal)
    for record in RECORDS:
        by_day[record["paid_at"][:10]] += _money(record["amount"])
    assert {row["day"]: Decimal(row["total"]) for row in rows} == by_day
    assert [row["day"] for row in rows] == sorted(by_day)
    query = "?paid_at__gte=2024-03-03&paid_at__lte=2024-03-05&channel=wechat"
    filtered = _data(sales, "trend", query).get_json()["rows"]
    wanted: dict[str, Decimal] = defaultdict(Decimal)
    for record in RECORDS:
        if "2024-03-03" <= record["paid_at"][:10] <= "2024-03-05" \
                and record["channel"] == "wechat":
            wanted[record["paid_at"][:10]] += _money(record["amount"])
    assert {row["day"]: Decimal(row["total"]) for row in filtered} == wanted
    bad = _data(sales, "trend", "?colour=red")
    assert bad.status_code == 400
    assert bad.get_json()["error"]["details"][0]["path"] == "colour"


def test_kpi_compares_with_previous_period(sales: Any) -> None:
    kpi = {"key": "total", "name": "交易总额", "entity": "payment",
           "filters": [{"field": "paid_at", "op": "gte", "value": "2024-03-06"},
                       {"field": "paid_at", "op": "lt", "value": "2024-03-11"}],
           "measures": [{"key": "amount", "agg": "sum", "field": "amount"}],
           "chart": {"type": "kpi", "compare_previous_period": True}}
    _save(sales, kpi)
    card = _data(sales, "total").get_json()["kpi"][0]
    current = sum((_money(r["amount"]) for r in RECORDS if r["paid_at"][:10] >= "2024-03-06"),
                  Decimal(0))
    previous = sum((_money(r["amount"]) for r in RECORDS if r["paid_at"][:10] < "2024-03-06"),
                   Decimal(0))
    assert Decimal(card["value"]) == current and Decimal(card["previous"]) == previous
    assert Decimal(card["delta"]) == current - previous


def test_pivot_region_by_channel_with_totals(sales: Any) -> None:
    pivot = {"key": "grid", "name": "区域×渠道", "entity": "payment",
             "dimensions": [{"field": "region"}, {"field": "channel"}],
             "measures": [{"key": "n", "agg": "count"}],
             "pivot": {"rows": ["region"], "columns": ["channel"]}, "chart": {"type": "pivot"}}
    _save(sales, pivot)
    body = _data(sales, "grid").get_json()
    grand = body["pivot"]["rows"][-1]
    assert grand.get("total") and grand["cells"][-1]["n"] == len(RECORDS)
    counts = Counter((r["region"], r["channel"]) for r in RECORDS)
    assert {(row["region"], row["channel"]): row["n"] for row in body["rows"]} == dict(counts)


def test_read_own_aggregates_only_own_records(sales: Any, login: Any) -> None:
    _save(sales, PIE)
    _publish_permissions(sales, {"member": {"read": "own", "create": True}})
    for user in ("member", "member2"):
        rows = _data(login(user), "by_channel").get_json()["rows"]
        mine = [r for i, r in enumerate(RECORDS) if CREATORS[i % 4] == user]
        assert {row["channel"]: Decimal(row["total"]) for row in rows} == _sums(mine, "channel")
    everyone = _data(sales, "by_channel").get_json()["rows"]
    assert sum(row["n"] for row in everyone) == len(RECORDS)


def test_no_read_right_is_403(sales: Any, login: Any) -> None:
    _save(sales, PIE)
    _publish_permissions(sales, {"member": {"read": False, "create": True}})
    response = _data(login("member"), "by_channel")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert _data(login("integrator"), "by_channel").status_code == 200


def test_hidden_field_makes_the_report_need_fixing_for_that_user(sales: Any,
                                                                 login: Any) -> None:
    _save(sales, {**PIE, "key": "by_note", "dimensions": [{"field": "note"}]})
    _save(sales, PIE)
    response = _data(login("member"), "by_note")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "report_needs_fixing"
    assert error["message"].startswith("this report needs fixing: ")
    assert "note" in error["message"] and "rows" not in response.get_json()
    assert _data(sales, "by_note").status_code == 200
    assert _data(login("member"), "by_channel", "?note=n1").status_code == 400


def test_removed_field_and_deleted_entity_need_fixing(sales: Any) -> None:
    _save(sales, {**PIE, "key": "by_region", "dimensions": [{"field": "region"}]})
    current = sales.get("/apps/sales/entities/payment").get_json()
    fields = [f for f in PAYMENT["fields"] if f["key"] != "region"]
    response = sales.put("/apps/sales/entities/payment",
                         {**PAYMENT, "fields": fields, "version": current["version"]})
    assert response.status_code == 200, response.get_json()
    broken = _data(sales, "by_region")
    assert broken.status_code == 422
    assert broken.get_json()["error"]["message"] == (
        "this report needs fixing: unknown field 'region' in entity 'payment'")
    assert sales.delete("/apps/sales/entities/payment?purge=true").status_code == 204
    for path in ("/apps/sales/reports/by_region/data", "/apps/sales/reports/by_region/chart"):
        gone = sales.get(path)
        assert gone.status_code == 422
        assert gone.get_json()["error"]["message"] == (
            "this report needs fixing: its entity 'payment' no longer exists")


def test_csv_export_matches_rows(sales: Any) -> None:
    _save(sales, PIE)
    response = _data(sales, "by_channel", "?format=csv&region=华东")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["渠道", "金额合计", "计数"]
    east = [r for r in RECORDS if r["region"] == "华东"]
    sums, counts = _sums(east, "channel"), Counter(r["channel"] for r in east)
    assert {row[0]: (Decimal(row[1]), int(row[2])) for row in table[1:]} == {
        ch: (sums[ch], counts[ch]) for ch in sums}
    assert _data(sales, "by_channel", "?format=pdf").status_code == 400


def test_xlsx_export_has_numbers_not_text(sales: Any) -> None:
    from openpyxl import load_workbook

    _save(sales, PIE)
    response = _data(sales, "by_channel", "?format=xlsx&region=华东")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table[0] == ["渠道", "金额合计", "计数"]
    east = [r for r in RECORDS if r["region"] == "华东"]
    sums, counts = _sums(east, "channel"), Counter(r["channel"] for r in east)
    assert {row[0]: (Decimal(str(row[1])), int(row[2])) for row in table[1:]} == {
        ch: (sums[ch], counts[ch]) for ch in sums}
    assert all(isinstance(row[1], int | float) for row in table[1:])


def test_drill_gives_the_record_list_filters(sales: Any) -> None:
    _save(sales, TREND)
    _save(sales, PIE)
    drill = sales.post("/apps/sales/reports/trend/drill?channel=alipay",
                       {"row": {"day": "2024-03-02"}}).get_json()
    assert drill["filters"] == {"channel": "alipay",
                                "paid_at__gte": "2024-03-02T00:00:00+08:00",
                                "paid_at__lt": "2024-03-03T00:00:00+08:00"}
    assert drill["url"].startswith("/apps/sales/entities/payment?")
    listed = sales.get("/apps/sales/entities/payment/records", query_string=drill["filters"])
    expected = [r for r in RECORDS if r["channel"] == "alipay"
                and r["paid_at"].startswith("2024-03-02")]
    assert listed.get_json()["total"] == len(expected) > 0
    ranged = sales.post("/apps/sales/reports/by_channel/drill?paid_at__lte=2024-03-04",
                        {"row": {"channel": "wechat"}}).get_json()["filters"]
    assert ranged == {"paid_at__lt": "2024-03-05T00:00:00+08:00", "channel": "wechat"}
    for row in ({}, {"day": "2024-13-45"}, {"day": None}):
        response = sales.post("/apps/sales/reports/trend/drill", {"row": row})
        assert response.status_code in (200, 422), (row, response.get_json())
    assert sales.post("/apps/sales/reports/trend/drill", {"row": {}}).status_code == 422
    assert sales.post("/apps/sales/reports/trend/drill", {"row": {"day": "x"}}).status_code \
        == 422
    assert sales.post("/apps/sales/reports/trend/drill", [1]).status_code == 422


def test_preview_runs_unsaved_definitions(sales: Any) -> None:
    draft = {"entity": "payment", "dimensions": [{"field": "region"}],
             "measures": [{"key": "n", "agg": "count"}], "chart": {"type": "bar"}}
    body = sales.post("/apps/sales/reports/preview", draft).get_json()
    counts = Counter(r["region"] for r in RECORDS)
    assert {row["region"]: row["n"] for row in body["rows"]} == dict(counts)
    assert body["chart"]["series"][0]["type"] == "bar"
    assert sales.get("/apps/sales/reports").get_json()["total"] == 0
    bad = sales.post("/apps/sales/reports/preview", {**draft, "dimensions": [{"field": "x"}]})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "validation_error"


# ------------------------------------------------------------------ dashboards


def test_dashboards(sales: Any, login: Any) -> None:
    _save(sales, PIE)
    _save(sales, TREND)
    board = {"key": "ops", "name": "运营看板", "refresh_seconds": 60,
             "filters": [{"key": "period", "type": "date_range", "field": "paid_at"},
                         {"key": "region", "type": "select", "field": "region",
                          "options": REGIONS}],
             "items": [{"report": "by_channel", "x": 0, "y": 0, "w": 6, "h": 4},
                       {"report": "trend", "x": 6, "y": 0, "w": 6, "h": 4,
                        "filter_fields": {"region": None}}]}
    response = sales.post("/apps/sales/dashboards", board)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["version"] == 1
    assert [card["filter_fields"] for card in created["cards"]] == [
        {"period": "paid_at", "region": "region"}, {"period": "paid_at", "region": None}]
    assert created["cards"][0]["chart_type"] == "pie" and created["cards"][0]["problem"] is None
    assert sales.post("/apps/sales/dashboards", board).status_code == 409
    moved = {**board, "version": 1,
             "items": [{"report": "trend", "x": 0, "y": 0, "w": 12, "h": 3}]}
    assert sales.put("/apps/sales/dashboards/ops", moved).get_json()["version"] == 2
    member = login("member")
    assert member.get("/apps/sales/dashboards/ops").get_json()["items"] == moved["items"]
    assert member.put("/apps/sales/dashboards/ops", moved).status_code == 403
    assert [d["key"] for d in member.get("/apps/sales/dashboards").get_json()["items"]] == ["ops"]
    bad = {**board, "key": "bad",
           "items": [{"report": "nope", "x": 8, "y": 0, "w": 6, "h": 2}]}
    response = sales.post("/apps/sales/dashboards", bad)
    assert response.status_code == 422
    paths = {d["path"] for d in response.get_json()["error"]["details"]}
    assert paths == {"items.0.w", "items.0.report"}
    assert sales.post("/apps/sales/dashboards", {**board, "key": "r", "refresh_seconds": 3}) \
        .status_code == 422
    assert sales.get("/apps/sales/dashboards/none").status_code == 404
