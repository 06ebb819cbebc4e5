"""Publishing a changed entity (PUT): safe changes apply to the real table, removed fields
keep their data, unsafe changes are refused with nothing touched, and dry runs only
report the plan. The table is inspected directly, not through the API."""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa

from app_platform.extensions import db

ENTITY = "/apps/crm/entities/customer"
RECORDS = ENTITY + "/records"
TABLE = "x_crm__customer"  # x_<app>__<entity>
FIELDS = [
    {"key": "name", "label": "名称", "type": "text", "required": True},
    {"key": "limit", "label": "额度", "type": "money", "currency": "CNY"},
    {"key": "level", "label": "等级", "type": "select", "options": ["A", "B", "C"]},
    {"key": "owner_customer", "type": "relation", "target": "customer"},
]


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def columns(app: Any) -> dict[str, str]:
    with app.app_context():
        return {c["name"]: str(c["type"]).upper()
                for c in sa.inspect(db.engine).get_columns(TABLE)}


def raw(app: Any, column: str) -> dict[int, Any]:
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(sa.text(f'SELECT id, "{column}" FROM {TABLE} ORDER BY id'))
        return {rid: value for rid, value in rows}


def publish(api: Any, fields: list[dict[str, Any]], status: int = 200, **query: str) -> Any:
    return expect(api.put(ENTITY, {"key": "customer", "label": "客户", "fields": fields},
                          query_string=query), status)


def test_add_field(crm, app):
    old = expect(crm.post(RECORDS, {"name": "老客户", "level": "A"}), 201)
    assert "city" not in columns(app)
    body = publish(crm, [*FIELDS, {"key": "city", "label": "城市", "type": "text"},
                         {"key": "since", "type": "date"}])
    assert body["version"] == 2
    assert [s["kind"] for s in body["plan"]["steps"]] == ["add_column", "add_column"]
    cols = columns(app)
    assert "city" in cols and "since" in cols
    assert "DATE" in cols["since"]
    got = expect(crm.get(f"{RECORDS}/{old['id']}"), 200)
    assert got["city"] is None and got["since"] is None
    assert (got["name"], got["level"], got["version"]) == ("老客户", "A", 1)
    new = expect(crm.post(RECORDS, {"name": "新客户", "city": "上海",
                                    "since": "2026-01-02"}), 201)
    assert (new["city"], new["since"]) == ("上海", "2026-01-02")
    assert raw(app, "city") == {old["id"]: None, new["id"]: "上海"}
    assert expect(crm.get(ENTITY), 200)["version"] == 2


def test_remove_field_keeps_data_and_readding_restores_it(crm, app):
    first = expect(crm.post(RECORDS, {"name": "甲", "level": "B"}), 201)
    second = expect(crm.post(RECORDS, {"name": "乙", "level": "C"}), 201)
    without = [f for f in FIELDS if f["key"] != "level"]
    body = publish(crm, without)
    assert "hide" in [s["kind"] for s in body["plan"]["steps"]]

    definition = expect(crm.get(ENTITY), 200)
    assert [f["key"] for f in definition["fields"]] == ["name", "limit", "owner_customer"]
    assert definition["removed_fields"] == ["level"]
    got = expect(crm.get(f"{RECORDS}/{first['id']}"), 200)
    assert "level" not in got
    assert all("level" not in r for r in expect(crm.get(RECORDS), 200)["items"])
    expect(crm.post(RECORDS, {"name": "丙", "level": "A"}), 422)
    expect(crm.patch(f"{RECORDS}/{first['id']}", {"level": "A"}), 422)
    expect(crm.get(RECORDS, query_string={"level": "B"}), 400)
    expect(crm.get(RECORDS, query_string={"sort": "level"}), 400)
    # the column and its data are still there
    assert "level" in columns(app)
    assert raw(app, "level")[first["id"]] == "B"
    third = expect(crm.post(RECORDS, {"name": "丁"}), 201)

    publish(crm, FIELDS)  # the same key with the same type
    assert expect(crm.get(ENTITY), 200)["removed_fields"] == []
    assert expect(crm.get(f"{RECORDS}/{first['id']}"), 200)["level"] == "B"
    assert expect(crm.get(f"{RECORDS}/{second['id']}"), 200)["level"] == "C"
    assert expect(crm.get(f"{RECORDS}/{third['id']}"), 200)["level"] is None
    found = expect(crm.get(RECORDS, query_string={"level": "C"}), 200)
    assert [r["id"] for r in found["items"]] == [second["id"]]


def test_removed_key_cannot_come_back_as_an_incompatible_type(crm, app):
    record = expect(crm.post(RECORDS, {"name": "甲", "level": "B"}), 201)
    publish(crm, [f for f in FIELDS if f["key"] != "level"])
    version = expect(crm.get(ENTITY), 200)["version"]
    body = publish(crm, [*[f for f in FIELDS if f["key"] != "level"],
                         {"key": "level", "type": "number"}], status=422)
    assert body["error"]["code"] == "unsafe_change"
    assert expect(crm.get(ENTITY), 200)["version"] == version
    assert raw(app, "level") == {record["id"]: "B"}


def test_unsafe_change_changes_nothing(crm, app):
    fields = [*FIELDS, {"key": "code", "type": "text"}]
    publish(crm, fields)
    ids = [expect(crm.post(RECORDS, {"name": n, "code": c}), 201)["id"]
           for n, c in (("甲", "12"), ("乙", "abc"), ("丙", None))]
    before_definition = expect(crm.get(ENTITY), 200)
    before_records = expect(crm.get(RECORDS), 200)["items"]
    before_columns = columns(app)

    changed = copy.deepcopy(fields)
    changed[-1]["type"] = "number"
    changed.append({"key": "extra", "type": "text"})  # a safe change in the same publish
    body = publish(crm, changed, status=422)
    assert body["error"]["code"] == "unsafe_change"
    details = body["error"]["details"]
    assert details and any("code" in d["message"] or "fields[4]" in d["path"]
                           for d in details), details
    assert any("abc" in d["message"] for d in details), details

    assert expect(crm.get(ENTITY), 200) == before_definition
    assert expect(crm.get(RECORDS), 200)["items"] == before_records
    assert columns(app) == before_columns
    assert "extra" not in columns(app)
    assert raw(app, "code") == {ids[0]: "12", ids[1]: "abc", ids[2]: None}


def test_money_scale_change_is_unsafe(crm, app):
    """Amounts are integer minor units: a new scale would silently rescale every stored
    amount (100.00 shown as 1.0000)."""
    record = expect(crm.post(RECORDS, {"name": "甲", "limit": "100.00"}), 201)
    version = expect(crm.get(ENTITY), 200)["version"]
    rescaled = copy.deepcopy(FIELDS)
    rescaled[1]["scale"] = 4
    assert publish(crm, rescaled, status=422)["error"]["code"] == "unsafe_change"
    assert expect(crm.get(ENTITY), 200)["version"] == version
    assert expect(crm.get(f"{RECORDS}/{record['id']}"), 200)["limit"] == "100.00"
    assert raw(app, "limit") == {record["id"]: 10000}


def test_safe_conversion_text_to_number(crm, app):
    fields = [*FIELDS, {"key": "code", "type": "text"}]
    publish(crm, fields)
    values = {"甲": "12", "乙": "-7", "丙": None, "丁": "0"}
    ids = {n: expect(crm.post(RECORDS, {"name": n, "code": c}), 201)["id"]
           for n, c in values.items()}
    converted = copy.deepcopy(fields)
    converted[-1]["type"] = "number"
    body = publish(crm, converted)
    assert body["version"] == 3
    assert "convert" in [s["kind"] for s in body["plan"]["steps"]]
    for name, rid in ids.items():
        got = expect(crm.get(f"{RECORDS}/{rid}"), 200)
        want = None if values[name] is None else int(values[name])
        assert got["code"] == want, (name, got["code"])
    assert raw(app, "code") == {ids[n]: (None if v is None else int(v))
                                for n, v in values.items()}
    found = expect(crm.get(RECORDS, query_string={"code__gt": "-1", "sort": "code"}), 200)
    assert [r["id"] for r in found["items"]] == [ids["丁"], ids["甲"]]
    expect(crm.post(RECORDS, {"name": "戊", "code": "not a number"}), 422)
    assert expect(crm.post(RECORDS, {"name": "戊", "code": 99}), 201)["code"] == 99


def test_dry_run_changes_nothing(crm, app):
    record = expect(crm.post(RECORDS, {"name": "甲", "level": "A"}), 201)
    before_definition = expect(crm.get(ENTITY), 200)
    before_columns = columns(app)
    changed = [f for f in FIELDS if f["key"] != "level"] + [
        {"key": "city", "type": "text", "indexed": True}]
    body = publish(crm, changed, dry_run="true")
    steps = {(s["kind"], s["field"]) for s in body["plan"]["steps"]}
    assert {("add_column", "city"), ("hide", "level"), ("add_index", "city")} <= steps
    assert body["plan"]["summary"]
    assert expect(crm.get(ENTITY), 200) == before_definition
    assert columns(app) == before_columns
    assert expect(crm.get(f"{RECORDS}/{record['id']}"), 200)["level"] == "A"
    with app.app_context():
        indexes = {ix["name"] for ix in sa.inspect(db.engine).get_indexes(TABLE)}
    assert not any("city" in name for name in indexes)
    # an unsafe dry run is refused the same way
    bad = copy.deepcopy(FIELDS)
    bad[2] = {"key": "level", "type": "number"}  # "A" is not a number
    assert publish(crm, bad, status=422, dry_run="true")["error"]["code"] == "unsafe_change"


def test_publish_guards(crm, login):
    expect(crm.put(ENTITY, {"key": "renamed", "fields": FIELDS}), 422)
    expect(crm.put(ENTITY, {"key": "customer", "fields": FIELDS, "version": 7}), 409)
    assert expect(crm.put(ENTITY, {"key": "customer", "fields": FIELDS, "version": 1}),
                  200)["version"] == 2
    expect(crm.put("/apps/crm/entities/ghost", {"key": "ghost", "fields": []}), 404)
    body = expect(crm.put(ENTITY, {"key": "customer", "fields": [
        {"key": "name", "type": "text"}, {"key": "name", "type": "text"}]}), 422)
    assert body["error"]["code"] == "invalid_definition"
    assert expect(crm.get(ENTITY), 200)["version"] == 2
