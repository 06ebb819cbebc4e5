"""Record list queries: every filter operator on every filterable kind of field, sorting,
field selection, search, offset and cursor paging, and the 400s for what the contract
refuses. Each expected id list is computed here in Python from the seed rows."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

BASE = "/apps/shop/entities/order/records"
COMPANY = {"key": "company", "label": "公司", "fields": [
    {"key": "name", "type": "text", "required": True}]}
ORDER = {
    "key": "order",
    "label": "订单",
    "fields": [
        {"key": "name", "type": "text"},
        {"key": "note", "type": "textarea"},
        {"key": "qty", "type": "number"},
        {"key": "amount", "type": "money", "currency": "CNY"},
        {"key": "rate", "type": "number", "scale": 2},
        {"key": "day", "type": "date"},
        {"key": "at", "type": "datetime"},
        {"key": "level", "type": "select", "options": ["A", "B", "C"]},
        {"key": "tags", "type": "multiselect", "options": ["vip", "new", "risk"]},
        {"key": "active", "type": "boolean"},
        {"key": "company", "type": "relation", "target": "company"},
    ],
}
# company is an index into the companies created first (None: no link)
ROWS: list[dict[str, Any]] = [
    {"name": "alpha", "note": "华为 深圳", "qty": 5, "amount": "100.00", "rate": "1.50",
     "day": "2026-01-05", "at": "2026-01-05T08:00:00+08:00", "level": "A",
     "tags": ["vip", "new"], "active": True, "company": 0},
    {"name": "bravo", "note": "腾讯 深圳", "qty": 12, "amount": "100.01", "rate": "2.25",
     "day": "2026-02-10", "at": "2026-02-10T23:30:00+08:00", "level": "B",
     "tags": ["new"], "active": False, "company": 1},
    {"name": "charlie", "note": "阿里 杭州", "qty": -3, "amount": "0.99", "rate": "0.10",
     "day": "2025-12-31", "at": "2025-12-31T16:00:00Z", "level": "C", "tags": [],
     "active": True, "company": 0},
    {"name": "delta", "note": "百分之百 100%", "qty": 0, "amount": "-5.00", "rate": "9.99",
     "day": "2026-03-01", "at": "2026-03-01T00:00:00Z", "level": "A",
     "tags": ["risk", "vip"], "active": False, "company": 2},
    {"name": "echo_x", "note": "under_score", "qty": 12, "amount": "99999.99",
     "rate": "1.50", "day": "2026-01-05", "at": "2026-01-05T00:00:00Z", "level": "B",
     "tags": ["risk"], "active": True, "company": 1},
    {"name": "' OR 1=1 --", "note": "'; DROP TABLE x_shop__order; --", "qty": 7,
     "amount": "7.77", "rate": "7.00", "day": "2026-07-07", "at": "2026-07-07T07:07:07Z",
     "level": "C", "tags": ["new", "risk", "vip"], "active": False, "company": None},
    {"name": "ALPHA upper", "note": None, "qty": None, "amount": None, "rate": None,
     "day": None, "at": None, "level": None, "tags": None, "active": None, "company": None},
    {"name": None, "note": "空名", "qty": 100, "amount": "0.00", "rate": "0.00",
     "day": "2024-02-29", "at": "2024-02-29T12:00:00+08:00", "level": "A", "tags": ["vip"],
     "active": True, "company": 2},
]


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def py_value(key: str, value: Any) -> Any:
    """The seed value as a comparable Python object."""
    if value is None:
        return None
    if key in ("amount", "rate"):
        return Decimal(value)
    if key == "day":
        return dt.date.fromisoformat(value)
    if key == "at":
        return _moment(value)
    return value


class Shop:
    """The seeded app: records (as sent, with ids) and helpers that run a query."""

    def __init__(self, api: Any):
        self.api = api
        expect(api.post("/apps", {"key": "shop", "name": "商店"}), 201)
        expect(api.post("/apps/shop/entities", COMPANY), 201)
        expect(api.post("/apps/shop/entities", ORDER), 201)
        self.companies = [expect(api.post("/apps/shop/entities/company/records",
                                          {"name": n}), 201)["id"]
                          for n in ("华为", "腾讯", "阿里")]
        self.rows: list[dict[str, Any]] = []
        for row in ROWS:
            body = {k: v for k, v in row.items() if v is not None}
            if row["company"] is not None:
                body["company"] = self.companies[row["company"]]
            created = expect(api.post(BASE, body), 201)
            values = {k: py_value(k, v) for k, v in row.items()}
            values["company"] = body.get("company")
            values["id"] = created["id"]
            self.rows.append(values)

    def ids(self, predicate: Callable[[dict[str, Any]], bool]) -> list[int]:
        return [r["id"] for r in self.rows if predicate(r)]

    def query(self, params: dict[str, str] | list[tuple[str, str]]) -> dict[str, Any]:
        return expect(self.api.get(BASE, query_string=params), 200)

    def found(self, params: dict[str, str] | list[tuple[str, str]]) -> list[int]:
        body = self.query({**dict(params), "limit": "500"} if isinstance(params, dict)
                          else [*params, ("limit", "500")])
        assert body["total"] == len(body["items"])
        return [item["id"] for item in body["items"]]


@pytest.fixture
def shop(admin: Any) -> Shop:
    return Shop(admin)


def check_all(shop: Shop, cases: list[tuple[dict[str, str], Callable]]) -> None:
    """Run every case and report all mismatches at once."""
    wrong = []
    for params, predicate in cases:
        got, want = shop.found(params), shop.ids(predicate)
        if got != want:
            wrong.append((params, got, want))
    assert not wrong, "\n".join(f"{p}: got {g}, expected {w}" for p, g, w in wrong)


def cmp(key: str, op: str, bound: Any) -> Callable[[dict[str, Any]], bool]:
    ops = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
           "lte": lambda a, b: a <= b, "eq": lambda a, b: a == b, "ne": lambda a, b: a != b}
    return lambda r: r[key] is not None and ops[op](r[key], bound)


ORDERED = ("eq", "ne", "gt", "gte", "lt", "lte")


def ordered_cases(key: str, raw: str, bound: Any) -> list[tuple[dict[str, str], Callable]]:
    """eq..lte with one bound; ne is asked together with isnull=false, since whether
    ``ne`` matches empty values is not part of the contract."""
    cases = []
    for op in ORDERED:
        params = {key if op == "eq" else f"{key}__{op}": raw}
        if op == "ne":
            params[f"{key}__isnull"] = "false"
        cases.append((params, cmp(key, op, bound)))
    return cases


def null_cases(key: str) -> list[tuple[dict[str, str], Callable]]:
    return [({f"{key}__isnull": "true"}, lambda r: r[key] is None),
            ({f"{key}__isnull": "false"}, lambda r: r[key] is not None)]


def test_text_operators(shop):
    cases = ordered_cases("name", "bravo", "bravo") + null_cases("name") + [
        ({"name__in": "alpha,delta,nobody"}, lambda r: r["name"] in ("alpha", "delta")),
        ({"name__contains": "LPH"}, lambda r: r["name"] and "lph" in r["name"].lower()),
        ({"name__contains": "_"}, lambda r: r["name"] and "_" in r["name"]),
        ({"note__contains": "%"}, lambda r: r["note"] and "%" in r["note"]),
        ({"note__contains": "深圳"}, lambda r: r["note"] and "深圳" in r["note"]),
        ({"note": "华为 深圳"}, lambda r: r["note"] == "华为 深圳"),
        ({"name": "Alpha"}, lambda r: False),  # eq is exact
    ]
    check_all(shop, cases)


def test_number_money_decimal_operators(shop):
    cases = ordered_cases("qty", "5", 5) + null_cases("qty")
    cases += ordered_cases("amount", "100.00", Decimal("100.00"))
    cases += ordered_cases("rate", "1.5", Decimal("1.5")) + null_cases("amount")
    cases += [
        ({"qty__in": "12,0,999"}, lambda r: r["qty"] in (12, 0)),
        ({"qty__gt": "-4", "qty__lt": "6"}, lambda r: r["qty"] is not None and -4 < r["qty"] < 6),
        ({"amount__gt": "100"}, cmp("amount", "gt", Decimal("100"))),
        ({"amount__lt": "0"}, cmp("amount", "lt", Decimal("0"))),
        ({"amount__in": "7.77,0.99"}, lambda r: r["amount"] in (Decimal("7.77"),
                                                                 Decimal("0.99"))),
        ({"amount": "0"}, lambda r: r["amount"] == 0),
    ]
    check_all(shop, cases)


def test_date_and_datetime_operators(shop):
    day = dt.date(2026, 1, 5)
    moment = _moment("2026-01-05T00:00:00Z")
    cases = ordered_cases("day", "2026-01-05", day) + null_cases("day")
    cases += ordered_cases("at", "2026-01-05T00:00:00Z", moment) + null_cases("at")
    cases += [
        ({"day__in": "2024-02-29,2026-07-07"}, lambda r: r["day"] in (
            dt.date(2024, 2, 29), dt.date(2026, 7, 7))),
        # the same instant written with an offset
        ({"at": "2026-01-05T08:00:00+08:00"}, cmp("at", "eq", moment)),
        ({"at__gte": "2026-01-05T08:00:00+08:00"}, cmp("at", "gte", moment)),
        ({"at__lt": "2026-01-01T00:00:00+08:00"}, cmp("at", "lt", _moment(
            "2025-12-31T16:00:00Z"))),
    ]
    check_all(shop, cases)


def test_select_multiselect_boolean_relation_operators(shop):
    c0, c1, _ = shop.companies
    cases = [
        ({"level": "A"}, lambda r: r["level"] == "A"),
        ({"level__ne": "A", "level__isnull": "false"}, lambda r: r["level"] not in ("A", None)),
        ({"level__in": "B,C"}, lambda r: r["level"] in ("B", "C")),
        *null_cases("level"),
        ({"tags__contains": "vip"}, lambda r: "vip" in (r["tags"] or [])),
        ({"tags__contains": "risk"}, lambda r: "risk" in (r["tags"] or [])),
        *null_cases("tags"),
        ({"active": "true"}, lambda r: r["active"] is True),
        ({"active": "false"}, lambda r: r["active"] is False),
        ({"active__ne": "true", "active__isnull": "false"}, lambda r: r["active"] is False),
        *null_cases("active"),
        ({"company": str(c0)}, lambda r: r["company"] == c0),
        ({"company__ne": str(c0), "company__isnull": "false"},
         lambda r: r["company"] not in (c0, None)),
        ({"company__in": f"{c0},{c1}"}, lambda r: r["company"] in (c0, c1)),
        *null_cases("company"),
        ({"level": "A", "active": "true", "qty__gte": "5"},
         lambda r: r["level"] == "A" and r["active"] is True and (r["qty"] or -1) >= 5),
    ]
    check_all(shop, cases)


def test_operators_that_do_not_apply_are_400(shop):
    for params in ({"active__gt": "true"}, {"tags": "vip"}, {"tags__in": "vip"},
                   {"company__gt": "1"}, {"company__contains": "1"},
                   {"qty__contains": "1"}, {"name__between": "a"}, {"ghost": "1"},
                   {"ghost__in": "1"}, {"qty": "abc"}, {"qty": "1.5"},
                   {"amount": "1.234"}, {"day": "2026-02-30"}, {"at": "2026-01-05"},
                   {"level": "Z"}, {"tags__contains": "gold"}, {"active": "maybe"},
                   {"company": "x"}, {"qty__isnull": "perhaps"},
                   {"qty": "1 OR 1=1"}, {"qty__in": "1,abc"}):
        response = shop.api.get(BASE, query_string=params)
        body = expect(response, 400)
        assert set(body["error"]) == {"code", "message", "details", "request_id"}, params
        assert body["error"]["code"] == "invalid_query", (params, body)


def test_empty_operator_is_400(shop):
    """``name__`` names no operator: refused like any unknown one, not read as eq."""
    body = expect(shop.api.get(BASE, query_string={"name__": "alpha"}), 400)
    assert body["error"]["code"] == "invalid_query"


def test_sql_like_values_are_data(shop):
    evil = "' OR 1=1 --"
    wanted = shop.ids(lambda r: r["name"] == evil)
    assert len(wanted) == 1
    assert shop.found({"name": evil}) == wanted
    assert shop.found({"name__contains": "OR 1=1"}) == wanted
    assert shop.found({"name__in": f"{evil},nobody"}) == wanted
    assert shop.found({"q": evil}) == wanted
    assert shop.found({"note": "'; DROP TABLE x_shop__order; --"}) == wanted
    assert shop.found({"name": "x' OR 'a'='a"}) == []
    assert shop.found({"name__contains": "%"}) == []
    assert shop.found({}) == [r["id"] for r in shop.rows]  # the table is intact


def test_search_q(shop):
    def searched(term: str) -> Callable[[dict[str, Any]], bool]:
        def match(r: dict[str, Any]) -> bool:
            texts = [r["name"], r["note"], r["level"]]
            return any(t is not None and term.lower() in t.lower() for t in texts)
        return match

    check_all(shop, [({"q": "alpha"}, searched("alpha")), ({"q": "深圳"}, searched("深圳")),
                     ({"q": "100%"}, searched("100%")), ({"q": "zzz"}, searched("zzz")),
                     ({"q": "alpha", "active": "true"},
                      lambda r: searched("alpha")(r) and r["active"] is True)])


def test_sort_multi_key_and_desc(shop):
    present = [r for r in shop.rows if r["level"] is not None and r["amount"] is not None]

    def order(rows: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[int]:
        rows = sorted(rows, key=lambda r: r["id"])
        for key, desc in reversed(keys):
            rows = sorted(rows, key=lambda r: r[key], reverse=desc)
        return [r["id"] for r in rows]

    only = {"level__isnull": "false", "amount__isnull": "false"}
    for sort, keys in (("amount", [("amount", False)]), ("-amount", [("amount", True)]),
                       ("level,-amount", [("level", False), ("amount", True)]),
                       ("-level,amount", [("level", True), ("amount", False)]),
                       ("-qty,name", [("qty", True), ("name", False)]),
                       ("-id", [("id", True)]),
                       ("level,-day,-id", [("level", False), ("day", True), ("id", True)])):
        usable = [r for r in present if all(r[k] is not None for k, _ in keys)]
        nulls = {f"{k}__isnull": "false" for k, _ in keys if k != "id"}
        got = shop.found({**only, **nulls, "sort": sort})
        want = order(usable, keys)
        assert got == want, (sort, got, want)
    for bad in ("ghost", "-ghost", "tags", "note", "level,level", "amount,-amount"):
        body = expect(shop.api.get(BASE, query_string={"sort": bad}), 400)
        assert body["error"]["code"] == "invalid_query", bad


def test_fields_selection(shop):
    body = shop.query({"fields": "name,amount", "sort": "id"})
    for item, row in zip(body["items"], shop.rows, strict=True):
        assert set(item) - {"id"} == {"name", "amount"}
        assert item["name"] == row["name"]
        assert item["amount"] == (None if row["amount"] is None else f"{row['amount']:.2f}")
    with_version = shop.query({"fields": "version,level", "limit": "1"})["items"][0]
    assert set(with_version) - {"id"} == {"version", "level"}
    assert with_version["version"] == 1
    for bad in ("ghost", "name,ghost"):
        expect(shop.api.get(BASE, query_string={"fields": bad}), 400)


def test_limit_offset(shop):
    ids = [r["id"] for r in shop.rows]
    body = shop.query({"limit": "3", "offset": "2"})
    assert [i["id"] for i in body["items"]] == ids[2:5]
    assert body["total"] == len(ids)
    assert [i["id"] for i in shop.query({"limit": "3", "offset": "6"})["items"]] == ids[6:]
    assert shop.query({"offset": "100"})["items"] == []
    assert [i["id"] for i in shop.query({"limit": "500"})["items"]] == ids
    assert len(shop.query({})["items"]) == len(ids)  # default limit 50
    for bad in ({"limit": "501"}, {"limit": "0"}, {"limit": "-1"}, {"limit": "abc"},
                {"offset": "-1"}, {"offset": "x"}, {"limit": "1e2"}):
        body = expect(shop.api.get(BASE, query_string=bad), 400)
        assert body["error"]["code"] == "invalid_query", bad
        assert body["error"]["request_id"]


def walk(shop: Shop, params: dict[str, str]) -> list[int]:
    seen: list[int] = []
    cursor = None
    for _ in range(50):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = shop.query(query)
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return seen
    raise AssertionError("cursor paging did not end")


def test_cursor_paging_walks_every_record_once(shop, admin):
    # more records so pages are several
    for n in range(17):
        body = {"name": f"bulk{n:02d}", "qty": n % 5, "amount": f"{n}.{n:02d}",
                "level": "ABC"[n % 3]}
        created = expect(admin.post(BASE, body), 201)
        shop.rows.append({**{k: None for k in ROWS[0]}, **body, "id": created["id"],
                          "amount": Decimal(body["amount"])})
    ids = [r["id"] for r in shop.rows]
    for size in ("1", "4", "7", "25"):
        assert walk(shop, {"limit": size}) == ids, size
    level_a = shop.ids(lambda r: r["level"] == "A")
    assert walk(shop, {"limit": "2", "level": "A"}) == level_a

    present = [r for r in shop.rows if r["amount"] is not None]
    by_amount = [r["id"] for r in sorted(sorted(present, key=lambda r: r["id"]),
                                         key=lambda r: r["amount"], reverse=True)]
    assert walk(shop, {"limit": "3", "sort": "-amount", "amount__isnull": "false"}) == \
        by_amount
    last = shop.query({"limit": str(len(ids))})
    assert last["next_cursor"] is None


def test_bad_cursors_are_400(shop, admin):
    for bad in ("garbage!", base64.urlsafe_b64encode(b"[1, 2]").decode(),
                base64.urlsafe_b64encode(b'"text"').decode(),
                base64.urlsafe_b64encode(json.dumps({"after": "x"}).encode()).decode(),
                base64.urlsafe_b64encode(json.dumps({"offset": -5}).encode()).decode()):
        response = admin.get(BASE, query_string={"cursor": bad})
        body = expect(response, 400)
        assert body["error"]["code"] == "invalid_query", bad
