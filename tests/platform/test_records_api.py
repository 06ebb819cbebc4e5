"""The REST contract of shared/API.md for apps, entities, records, users and roles, plus
money handling and a round trip through every one of the 20 field types.

Expected values are written out by hand from the contract, never copied from a previous
response."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Any

import sqlalchemy as sa

from app_platform.extensions import db

PASSWORD = "correct-horse-42"
ALL_USERS = ["admin", "designer", "integrator", "member", "member2", "outsider"]


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def raw_select(app: Any, statement: str, **params: Any) -> list[tuple]:
    """Rows straight from the database, bypassing the API."""
    with app.app_context(), db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(statement), params)]


def parse_moment(text: str) -> dt.datetime:
    assert text.endswith("Z"), text
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- apps ------------------------------------------------------------------------------
def test_apps_create_list_get(admin, login):
    body = expect(admin.post("/apps", {"key": "crm", "name": "客户管理",
                                       "description": "客户与额度"}), 201)
    assert body["key"] == "crm"
    assert body["name"] == "客户管理"
    assert body["description"] == "客户与额度"
    assert body["created_by"] == "admin"
    assert body["my_access"] == "manage"
    # the default grants of a blank app
    assert body["grants"] == {"designer": "design", "member": "use", "integrator": "use"}
    expect(admin.post("/apps", {"key": "ops", "name": "运营"}), 201)

    listing = expect(admin.get("/apps"), 200)
    assert [a["key"] for a in listing["items"]] == ["crm", "ops"]
    assert listing["total"] == 2
    one = expect(admin.get("/apps/crm"), 200)
    assert (one["key"], one["name"]) == ("crm", "客户管理")

    designer = expect(login("designer").get("/apps"), 200)
    assert {a["key"]: a["my_access"] for a in designer["items"]} == {"crm": "design",
                                                                     "ops": "design"}
    member = expect(login("member").get("/apps"), 200)
    assert {a["key"]: a["my_access"] for a in member["items"]} == {"crm": "use",
                                                                   "ops": "use"}
    assert expect(login("outsider").get("/apps"), 200)["items"] == []


def test_app_create_rejects_bad_payloads(admin):
    expect(admin.post("/apps", {"key": "crm", "name": "客户管理"}), 201)
    assert expect(admin.post("/apps", {"key": "crm", "name": "again"}),
                  409)["error"]["code"] == "conflict"
    for bad in ({"key": "CRM", "name": "x"}, {"key": "1crm", "name": "x"},
                {"key": "a" * 64, "name": "x"}, {"key": "has-dash", "name": "x"},
                {"key": "ok"}, {"key": "ok", "name": ""}, {"name": "no key"},
                {"key": "ok", "name": "x", "colour": "red"},
                {"key": "ok", "name": "x", "grants": {"member": "owner"}},
                {"key": "ok", "name": "x", "grants": {"nobody": "use"}}):
        response = admin.post("/apps", bad)
        assert response.status_code == 422, (bad, response.get_json())
        assert response.get_json()["error"]["details"], bad
    assert [a["key"] for a in expect(admin.get("/apps"), 200)["items"]] == ["crm"]
    expect(admin.get("/apps/nope"), 404)


# --- entities ----------------------------------------------------------------------------
CONTACT_FIELDS = [
    {"key": "name", "label": "姓名", "type": "text", "required": True},
    {"key": "customer", "label": "客户", "type": "relation", "target": "customer"},
]


def test_entities_create_list_get_put_delete(crm, app):
    listing = expect(crm.get("/apps/crm/entities"), 200)
    assert [e["key"] for e in listing["items"]] == ["customer"]
    assert listing["total"] == 1

    created = expect(crm.post("/apps/crm/entities", {"key": "contact", "label": "联系人",
                                                     "fields": CONTACT_FIELDS}), 201)
    assert created["key"] == "contact" and created["version"] == 1
    got = expect(crm.get("/apps/crm/entities/contact"), 200)
    assert got["label"] == "联系人"
    assert got["fields"] == CONTACT_FIELDS
    assert [e["key"] for e in expect(crm.get("/apps/crm/entities"), 200)["items"]] == [
        "contact", "customer"]

    more = [*CONTACT_FIELDS, {"key": "phone", "label": "电话", "type": "phone"}]
    put = expect(crm.put("/apps/crm/entities/contact", {"key": "contact", "label": "联系人",
                                                        "fields": more}), 200)
    assert put["version"] == 2
    got = expect(crm.get("/apps/crm/entities/contact"), 200)
    assert got["version"] == 2 and got["fields"] == more

    customer = expect(crm.post("/apps/crm/entities/customer/records", {"name": "甲"}), 201)
    expect(crm.post("/apps/crm/entities/contact/records",
                    {"name": "张三", "customer": customer["id"]}), 201)
    # customer is the target of contact.customer; contact holds a record
    assert expect(crm.delete("/apps/crm/entities/customer"), 409)["error"]["code"]
    expect(crm.delete("/apps/crm/entities/contact"), 409)
    assert raw_select(app, "SELECT count(*) FROM x_crm__contact") == [(1,)]
    expect(crm.delete("/apps/crm/entities/contact?purge=true"), 204)
    expect(crm.get("/apps/crm/entities/contact"), 404)
    with app.app_context():
        assert not sa.inspect(db.engine).has_table("x_crm__contact")
    assert [e["key"] for e in expect(crm.get("/apps/crm/entities"), 200)["items"]] == [
        "customer"]


def test_entity_create_rejects_invalid_definitions(crm):
    cases = [
        ({"key": "bad", "fields": [{"key": "x", "type": "rainbow"}]}, "fields[0].type"),
        ({"key": "bad", "fields": [{"key": "x", "type": "text"},
                                   {"key": "x", "type": "number"}]}, "fields[1].key"),
        ({"key": "bad", "fields": [{"key": "id", "type": "text"}]}, "fields[0].key"),
        ({"key": "bad", "fields": [{"key": "r", "type": "relation", "target": "ghost"}]},
         "fields[0].target"),
        ({"key": "bad", "fields": [{"key": "s", "type": "select", "options": []}]},
         "fields[0].options"),
        ({"key": "Bad", "fields": []}, "key"),
    ]
    for definition, path in cases:
        body = expect(crm.post("/apps/crm/entities", definition), 422)
        assert body["error"]["code"] == "invalid_definition", definition
        assert path in [d["path"] for d in body["error"]["details"]], (path, body)
    expect(crm.post("/apps/crm/entities", {"key": "customer", "fields": []}), 409)
    assert [e["key"] for e in expect(crm.get("/apps/crm/entities"), 200)["items"]] == [
        "customer"]


# --- records -----------------------------------------------------------------------------
def test_record_crud_round_trip(crm):
    base = "/apps/crm/entities/customer/records"
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    created = expect(crm.post(base, {"name": "华为技术有限公司", "limit": "1234.50",
                                     "level": "A"}), 201)
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert isinstance(created["id"], int) and created["id"] > 0
    assert created["version"] == 1
    assert created["created_by"] == created["updated_by"] == "admin"
    assert before <= parse_moment(created["created_at"]) <= after
    assert created["updated_at"] == created["created_at"]
    assert {k: created[k] for k in ("name", "limit", "level", "owner_customer")} == {
        "name": "华为技术有限公司", "limit": "1234.50", "level": "A", "owner_customer": None}

    rid = created["id"]
    assert expect(crm.get(f"{base}/{rid}"), 200) == created
    listing = expect(crm.get(base), 200)
    assert listing["total"] == 1 and listing["items"] == [created]

    patched = expect(crm.patch(f"{base}/{rid}", {"level": "B"}), 200)
    assert patched["version"] == 2 and patched["level"] == "B"
    assert patched["name"] == "华为技术有限公司" and patched["limit"] == "1234.50"
    assert parse_moment(patched["updated_at"]) >= parse_moment(created["created_at"])
    assert expect(crm.get(f"{base}/{rid}"), 200) == patched

    expect(crm.delete(f"{base}/{rid}"), 204)
    expect(crm.get(f"{base}/{rid}"), 404)
    expect(crm.patch(f"{base}/{rid}", {"level": "C"}), 404)
    expect(crm.delete(f"{base}/{rid}"), 404)
    assert expect(crm.get(base), 200)["total"] == 0


def test_record_writes_refuse_system_and_unknown_fields(crm):
    base = "/apps/crm/entities/customer/records"
    for extra in ({"id": 7}, {"version": 3}, {"created_by": "member"},
                  {"updated_at": "2026-01-01T00:00:00Z"}, {"colour": "red"}):
        body = expect(crm.post(base, {"name": "x", **extra}), 422)
        assert [d["path"] for d in body["error"]["details"]] == list(extra), body
    expect(crm.post(base, {"limit": "1.00"}), 422)  # name is required
    expect(crm.post(base, {"name": "x", "level": "D"}), 422)
    body = expect(crm.post(base, {"name": "x", "owner_customer": 424242}), 422)
    assert [d["path"] for d in body["error"]["details"]] == ["owner_customer"]
    assert expect(crm.get(base), 200)["total"] == 0


def test_records_of_unknown_entity_or_app(crm):
    expect(crm.get("/apps/crm/entities/ghost/records"), 404)
    expect(crm.post("/apps/crm/entities/ghost/records", {"name": "x"}), 404)
    expect(crm.get("/apps/ghost/entities/customer/records"), 404)


def test_relation_and_delete_of_linked_record(crm):
    base = "/apps/crm/entities/customer/records"
    parent = expect(crm.post(base, {"name": "集团"}), 201)
    child = expect(crm.post(base, {"name": "子公司", "owner_customer": parent["id"]}), 201)
    assert child["owner_customer"] == parent["id"]
    body = expect(crm.delete(f"{base}/{parent['id']}"), 409)
    assert body["error"]["code"] == "record_in_use"
    expect(crm.get(f"{base}/{parent['id']}"), 200)
    expect(crm.patch(f"{base}/{child['id']}", {"owner_customer": None}), 200)
    expect(crm.delete(f"{base}/{parent['id']}"), 204)


def test_chinese_text_round_trips_unchanged(crm):
    base = "/apps/crm/entities/customer/records"
    name = "深圳市腾讯计算机系统有限公司（总部）·「测试」🙂"
    created = expect(crm.post(base, {"name": name}), 201)
    response = crm.get(f"{base}/{created['id']}")
    assert response.get_json()["name"] == name
    assert name.encode("utf-8") in response.data  # not \\u-escaped
    assert response.mimetype == "application/json"
    found = expect(crm.get(base, query_string={"name": name}), 200)
    assert [r["id"] for r in found["items"]] == [created["id"]]


# --- users and roles ------------------------------------------------------------------------
def test_users_list_and_create(admin, login, client):
    listing = expect(admin.get("/users"), 200)
    assert [u["username"] for u in listing["items"]] == ALL_USERS
    assert listing["total"] == len(ALL_USERS)
    roles = {u["username"]: u["roles"] for u in listing["items"]}
    assert roles["member2"] == ["member"] and roles["outsider"] == []
    # non-admins see names only
    for user in expect(login("member").get("/users"), 200)["items"]:
        assert set(user) == {"username", "display_name"}

    created = expect(admin.post("/users", {"username": "carol", "password": "long-enough-1",
                                           "roles": ["designer"], "display_name": "王芳",
                                           "department": "风控部"}), 201)
    assert created["username"] == "carol" and created["roles"] == ["designer"]
    assert created["display_name"] == "王芳" and created["department"] == "风控部"
    assert "password" not in created and "password_hash" not in created
    token = expect(client.post("/api/v1/auth/login", json={"username": "carol",
                                                           "password": "long-enough-1"}), 200)
    assert token["user"]["username"] == "carol"
    assert [u["username"] for u in expect(admin.get("/users"), 200)["items"]] == sorted(
        [*ALL_USERS, "carol"])

    expect(admin.post("/users", {"username": "carol", "password": "long-enough-1"}), 409)
    for bad, path in (({"username": "x", "password": "long-enough-1"}, "username"),
                      ({"username": "dave", "password": "short"}, "password"),
                      ({"username": "dave", "password": "long-enough-1", "roles": ["boss"]},
                       "roles"),
                      ({"username": "dave", "password": "long-enough-1", "age": 3}, "age")):
        body = expect(admin.post("/users", bad), 422)
        assert path in [d["path"] for d in body["error"]["details"]], body
    expect(login("member").post("/users", {"username": "eve", "password": "long-enough-1"}),
           403)
    expect(login("designer").post("/users", {"username": "eve", "password": "long-enough-1"}),
           403)
    assert "eve" not in [u["username"] for u in expect(admin.get("/users"), 200)["items"]]


def test_roles_list_and_create(admin, login):
    listing = expect(admin.get("/roles"), 200)
    builtin = {r["key"]: r["builtin"] for r in listing["items"]}
    assert builtin == {"admin": True, "designer": True, "integrator": True, "member": True}
    created = expect(admin.post("/roles", {"key": "auditor", "name": "审计"}), 201)
    assert created == {"key": "auditor", "name": "审计", "builtin": False}
    keys = [r["key"] for r in expect(admin.get("/roles"), 200)["items"]]
    assert keys == ["admin", "auditor", "designer", "integrator", "member"]
    expect(admin.post("/roles", {"key": "auditor", "name": "again"}), 409)
    expect(admin.post("/roles", {"key": "Bad Key", "name": "x"}), 422)
    expect(admin.post("/roles", {"key": "nameless"}), 422)
    expect(login("member").post("/roles", {"key": "sneaky", "name": "x"}), 403)
    # the new role is usable at once
    expect(admin.post("/users", {"username": "ivy", "password": "long-enough-1",
                                 "roles": ["auditor"]}), 201)


# --- money --------------------------------------------------------------------------------
def test_money_is_exact_integer_minor_units(crm, app):
    base = "/apps/crm/entities/customer/records"
    cases = [("0.1", "0.10", 10), ("0.2", "0.20", 20), ("1234.5", "1234.50", 123450),
             ("-0.01", "-0.01", -1), ("0", "0.00", 0),
             ("999999999999999.99", "999999999999999.99", 99999999999999999)]
    ids = {}
    for sent, shown, _minor in cases:
        record = expect(crm.post(base, {"name": f"m{sent}", "limit": sent}), 201)
        assert record["limit"] == shown, (sent, record["limit"])
        ids[record["id"]] = _minor
    rows = dict(raw_select(app, "SELECT id, \"limit\" FROM x_crm__customer"))
    assert rows == ids
    assert all(type(v) is int for v in rows.values())
    total = raw_select(app, "SELECT sum(\"limit\") FROM x_crm__customer WHERE \"limit\" > 0 "
                            "AND \"limit\" < 100")
    assert total == [(30,)]  # 0.1 + 0.2 == 0.30 exactly
    for bad in ("12.345", "abc", "1e3", "", " ", "1,000.00", "0x10", "--1"):
        expect(crm.post(base, {"name": "bad", "limit": bad}), 422)
    # JSON numbers with a fraction are refused (they would be floats in most clients)
    for raw in ('{"name": "bad", "limit": 12.5}', '{"name": "bad", "limit": 0.1}',
                '{"name": "bad", "limit": 1.0}', '{"name": "bad", "limit": 1e2}'):
        response = crm.client.post(f"/api/v1{base}", data=raw, content_type="application/json",
                                   headers={"Authorization": f"Bearer {crm.token}"})
        assert response.status_code == 422, (raw, response.get_json())
    rid = next(iter(ids))
    response = crm.client.patch(f"/api/v1{base}/{rid}", data='{"limit": 3.14}',
                                content_type="application/json",
                                headers={"Authorization": f"Bearer {crm.token}"})
    assert response.status_code == 422
    assert expect(crm.get(base), 200)["total"] == len(cases)


# --- every field type --------------------------------------------------------------------------
ALL_TYPES = {
    "key": "kitchen",
    "label": "全部类型",
    "fields": [
        {"key": "t_text", "type": "text", "required": True},
        {"key": "t_textarea", "type": "textarea"},
        {"key": "t_int", "type": "number"},
        {"key": "t_dec", "type": "number", "scale": 3},
        {"key": "t_money", "type": "money", "currency": "CNY"},
        {"key": "t_percent", "type": "percent"},
        {"key": "t_date", "type": "date"},
        {"key": "t_datetime", "type": "datetime"},
        {"key": "t_bool", "type": "boolean"},
        {"key": "t_select", "type": "select", "options": ["低", "中", "高"]},
        {"key": "t_multi", "type": "multiselect", "options": ["a", "b", "c"]},
        {"key": "t_user", "type": "user"},
        {"key": "t_rel", "type": "relation", "target": "kitchen"},
        {"key": "t_rels", "type": "relation", "target": "kitchen", "many": True},
        {"key": "t_sub", "type": "subtable", "fields": [
            {"key": "item", "type": "text", "required": True},
            {"key": "qty", "type": "number"},
            {"key": "price", "type": "money"}]},
        {"key": "t_attach", "type": "attachment"},
        {"key": "t_formula", "type": "formula", "formula": "t_int * 2",
         "result_type": "number", "scale": 2},
        {"key": "t_auto", "type": "auto_number", "pattern": "K-{seq:4}"},
        {"key": "t_card", "type": "card_number"},
        {"key": "t_email", "type": "email"},
        {"key": "t_phone", "type": "phone"},
        {"key": "t_url", "type": "url"},
    ],
}
CONTRACT_PDF = b"%PDF-1.4\n% Loom test contract\n%%EOF\n"
PAN = "4111111111111111"


def test_every_field_type_round_trips(admin, app):
    types = {f["type"] for f in ALL_TYPES["fields"]}
    assert len(types) == 20
    expect(admin.post("/apps", {"key": "lab", "name": "实验"}), 201)
    expect(admin.post("/apps/lab/entities", ALL_TYPES), 201)
    base = "/apps/lab/entities/kitchen/records"
    first = expect(admin.post(base, {"t_text": "first"}), 201)
    assert first["t_auto"] == "K-0001"
    uploaded = admin.client.post(
        "/api/v1/uploads", data={"file": (io.BytesIO(CONTRACT_PDF), "合同.pdf")},
        headers={"Authorization": f"Bearer {admin.token}"}, content_type="multipart/form-data")
    attachment = expect(uploaded, 201)
    assert attachment["sha256"] == hashlib.sha256(CONTRACT_PDF).hexdigest()
    assert attachment["size"] == len(CONTRACT_PDF)
    sent = {
        "t_text": "文本", "t_textarea": "第一行\n第二行", "t_int": 3, "t_dec": "1.25",
        "t_money": "1234.5", "t_percent": "12.5", "t_date": "2026-11-20",
        "t_datetime": "2026-11-20T10:01:02+08:00", "t_bool": True, "t_select": "中",
        "t_multi": ["b", "a"], "t_user": "member", "t_rel": first["id"],
        "t_rels": [first["id"]],
        "t_sub": [{"item": "螺丝", "qty": 2, "price": "1.5"}, {"item": "螺母"}],
        "t_attach": [{"id": attachment["id"]}], "t_card": "4111 1111 1111 1111",
        "t_email": "zhang.san@example.com.cn", "t_phone": "+86 138-0013-8000",
        "t_url": "https://example.com/路径?q=1",
    }
    expected = {
        **sent, "t_dec": "1.250", "t_money": "1234.50", "t_percent": "12.50",
        "t_datetime": "2026-11-20T02:01:02Z",
        "t_sub": [{"item": "螺丝", "qty": 2, "price": "1.50"},
                  {"item": "螺母", "qty": None, "price": None}],
        "t_formula": "6.00", "t_auto": "K-0002",
        "t_attach": [attachment],
    }
    response = admin.post(base, sent)
    created = expect(response, 201)
    card = created.pop("t_card")
    expected.pop("t_card")
    for key, value in expected.items():
        assert created[key] == value, (key, created[key], value)
    assert set(card) == {"token", "last4", "brand", "masked"}
    assert card["last4"] == "1111" and card["brand"] == "visa"
    assert card["token"].startswith("tok_") and card["masked"].endswith("1111")
    assert PAN not in response.get_data(as_text=True)

    fetched = admin.get(f"{base}/{created['id']}")
    assert PAN not in fetched.get_data(as_text=True)
    again = expect(fetched, 200)
    assert again.pop("t_card") == card
    assert again == created
    listing = admin.get(base)
    assert PAN not in listing.get_data(as_text=True)
    assert "4111 1111 1111 1111" not in listing.get_data(as_text=True)
    # the database never holds the card number either
    rows = raw_select(app, "SELECT * FROM x_lab__kitchen")
    assert not any(PAN in str(value) for row in rows for value in row)
    # the same card always gives the same token (rules count by card)
    other = expect(admin.post(base, {"t_text": "again", "t_card": "4111-1111-1111-1111"}),
                   201)
    assert other["t_card"]["token"] == card["token"]
    assert other["t_auto"] == "K-0003"
    # formula follows its inputs on update
    updated = expect(admin.patch(f"{base}/{created['id']}", {"t_int": 21}), 200)
    assert updated["t_formula"] == "42.00"
    for computed, value in (("t_formula", "1.00"), ("t_auto", "K-9999")):
        expect(admin.patch(f"{base}/{created['id']}", {computed: value}), 422)
    expect(admin.post(base, {"t_text": "x", "t_card": "4111 1111 1111 1112"}), 422)
    expect(admin.post(base, {"t_text": "x", "t_user": "nobody"}), 422)
