"""Who may do what: app grants per role, entity-level create/read/update/delete overrides,
field-level hidden / read-only, token scopes, and 401s for missing credentials."""

from __future__ import annotations

from typing import Any

import pytest

RECORDS = "/apps/crm/entities/customer/records"


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def denied(response: Any, status: int = 403) -> dict[str, Any]:
    body = expect(response, status)
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    return body["error"]


def app_endpoints(record_id: int) -> list[tuple[str, str, Any]]:
    """Every endpoint under /apps/crm, with a body that would otherwise be valid."""
    entity = {"key": "customer", "fields": [{"key": "name", "type": "text"}]}
    return [
        ("GET", "/apps/crm", None),
        ("GET", "/apps/crm/entities", None),
        ("POST", "/apps/crm/entities", {"key": "other", "fields": []}),
        ("GET", "/apps/crm/entities/customer", None),
        ("PUT", "/apps/crm/entities/customer", entity),
        ("PUT", "/apps/crm/entities/customer?dry_run=true", entity),
        ("DELETE", "/apps/crm/entities/customer?purge=true", None),
        ("GET", RECORDS, None),
        ("POST", RECORDS, {"name": "x"}),
        ("GET", f"{RECORDS}/{record_id}", None),
        ("PATCH", f"{RECORDS}/{record_id}", {"name": "y"}),
        ("DELETE", f"{RECORDS}/{record_id}", None),
        ("GET", "/apps/crm/audit", None),
        ("GET", f"/apps/crm/audit?entity=customer&record_id={record_id}", None),
    ]


def test_outsider_is_refused_everywhere_in_the_app(crm, login):
    record = expect(crm.post(RECORDS, {"name": "甲公司"}), 201)
    outsider = login("outsider")
    for method, path, body in app_endpoints(record["id"]):
        error = denied(outsider.call(method, path, body))
        assert error["code"] == "forbidden", (method, path, error)
    # nothing changed
    assert expect(crm.get(f"{RECORDS}/{record['id']}"), 200)["name"] == "甲公司"
    assert [e["key"] for e in expect(crm.get("/apps/crm/entities"), 200)["items"]] == [
        "customer"]
    assert expect(outsider.get("/apps"), 200)["items"] == []


def test_unauthenticated_is_401_everywhere(crm, client):
    record = expect(crm.post(RECORDS, {"name": "甲公司"}), 201)
    endpoints = app_endpoints(record["id"]) + [
        ("GET", "/apps", None), ("POST", "/apps", {"key": "x", "name": "x"}),
        ("GET", "/users", None), ("POST", "/users", {"username": "x", "password": "y" * 9}),
        ("GET", "/roles", None), ("POST", "/roles", {"key": "x", "name": "x"}),
        ("POST", "/tokens", {"name": "x"}), ("DELETE", "/tokens/1", None),
        ("GET", "/auth/me", None)]
    for method, path, body in endpoints:
        for headers in ({}, {"Authorization": "Bearer loom_not-a-real-token"},
                        {"Authorization": "Basic YWRtaW46Y29ycmVjdC1ob3JzZS00Mg=="},
                        {"Authorization": "Bearer "}):
            kwargs: dict[str, Any] = {"headers": headers}
            if body is not None:
                kwargs["json"] = body
            response = client.open("/api/v1" + path, method=method, **kwargs)
            error = denied(response, 401)
            assert error["code"] == "unauthenticated", (method, path, headers)
    assert expect(crm.get(f"{RECORDS}/{record['id']}"), 200)["name"] == "甲公司"


def test_member_cannot_design(crm, login):
    member = login("member")
    denied(member.post("/apps", {"key": "mine", "name": "我的"}))
    denied(member.post("/apps/crm/entities", {"key": "other", "fields": []}))
    denied(member.put("/apps/crm/entities/customer",
                      {"key": "customer", "fields": [{"key": "name", "type": "text"}]}))
    denied(member.delete("/apps/crm/entities/customer"))
    denied(member.get("/apps/crm/audit"))
    # ... but uses the app: reads definitions and writes records
    assert expect(member.get("/apps/crm/entities/customer"), 200)["key"] == "customer"
    expect(member.post(RECORDS, {"name": "成员的客户"}), 201)
    assert [a["key"] for a in expect(crm.get("/apps"), 200)["items"]] == ["crm"]
    assert len(expect(crm.get("/apps/crm/entities/customer"), 200)["fields"]) == 4


def test_designer_designs_but_integrator_does_not(crm, login):
    designer, integrator = login("designer"), login("integrator")
    expect(designer.post("/apps", {"key": "ops", "name": "运营"}), 201)
    expect(designer.post("/apps/crm/entities", {"key": "note", "fields": [
        {"key": "text", "type": "text"}]}), 201)
    denied(integrator.post("/apps", {"key": "int", "name": "x"}))
    denied(integrator.post("/apps/crm/entities", {"key": "x", "fields": []}))
    expect(integrator.post(RECORDS, {"name": "接口写入"}), 201)


def test_default_member_rights_delete_own_only(crm, login):
    member, member2 = login("member"), login("member2")
    mine = expect(member.post(RECORDS, {"name": "member 的"}), 201)
    theirs = expect(member2.post(RECORDS, {"name": "member2 的"}), 201)
    assert mine["created_by"] == "member" and theirs["created_by"] == "member2"
    # use grant: read and update all, delete own
    assert expect(member.get(RECORDS), 200)["total"] == 2
    expect(member.patch(f"{RECORDS}/{theirs['id']}", {"level": "B"}), 200)
    denied(member.delete(f"{RECORDS}/{theirs['id']}"))
    expect(member.get(f"{RECORDS}/{theirs['id']}"), 200)
    expect(member.delete(f"{RECORDS}/{mine['id']}"), 204)


def with_permissions(api: Any, permissions: dict[str, Any], fields: list | None = None) -> Any:
    definition = {"key": "customer", "label": "客户", "permissions": permissions,
                  "fields": fields or [
                      {"key": "name", "type": "text", "required": True},
                      {"key": "limit", "type": "money"},
                      {"key": "level", "type": "select", "options": ["A", "B", "C"]},
                      {"key": "owner_customer", "type": "relation", "target": "customer"}]}
    return expect(api.put("/apps/crm/entities/customer", definition), 200)


def test_entity_permission_read_own(crm, login):
    with_permissions(crm, {"member": {"create": True, "read": "own", "update": "own",
                                      "delete": "own"}})
    member, member2 = login("member"), login("member2")
    mine = [expect(member.post(RECORDS, {"name": f"m{i}"}), 201)["id"] for i in range(3)]
    theirs = [expect(member2.post(RECORDS, {"name": f"n{i}"}), 201)["id"] for i in range(2)]
    admins = [expect(crm.post(RECORDS, {"name": "admin"}), 201)["id"]]

    listing = expect(member.get(RECORDS), 200)
    assert [r["id"] for r in listing["items"]] == mine and listing["total"] == 3
    assert [r["id"] for r in expect(member2.get(RECORDS), 200)["items"]] == theirs
    assert expect(crm.get(RECORDS), 200)["total"] == 6
    # filters cannot widen the scope
    for query in ({"created_by": "member2"}, {"id__in": ",".join(map(str, theirs + admins))},
                  {"q": "n"}, {"name": "admin"}):
        assert expect(member.get(RECORDS, query_string=query), 200)["items"] == [], query
    for rid in theirs + admins:
        assert member.get(f"{RECORDS}/{rid}").status_code in (403, 404)
        assert member.patch(f"{RECORDS}/{rid}", {"name": "hijack"}).status_code in (403, 404)
        assert member.delete(f"{RECORDS}/{rid}").status_code in (403, 404)
        assert member.get(f"/apps/crm/audit?entity=customer&record_id={rid}").status_code in (
            403, 404)
    assert [r["name"] for r in expect(crm.get(RECORDS, query_string={"sort": "id"}),
                                      200)["items"]] == ["m0", "m1", "m2", "n0", "n1", "admin"]
    expect(member.patch(f"{RECORDS}/{mine[0]}", {"name": "mine"}), 200)


def test_entity_permission_no_update_no_delete_no_create(crm, login):
    record = expect(crm.post(RECORDS, {"name": "admin's"}), 201)
    with_permissions(crm, {"member": {"create": False, "read": "all", "update": False,
                                      "delete": False}})
    member = login("member")
    expect(member.get(f"{RECORDS}/{record['id']}"), 200)
    denied(member.patch(f"{RECORDS}/{record['id']}", {"name": "changed"}))
    denied(member.patch(f"{RECORDS}/{record['id']}", {"name": "changed", "version": 1}))
    denied(member.delete(f"{RECORDS}/{record['id']}"))
    denied(member.post(RECORDS, {"name": "new"}))
    after = expect(crm.get(f"{RECORDS}/{record['id']}"), 200)
    assert (after["name"], after["version"]) == ("admin's", 1)
    assert expect(crm.get(RECORDS), 200)["total"] == 1
    # member2 has the same role: the override applies to the role, not the user
    denied(login("member2").post(RECORDS, {"name": "new"}))
    # integrators keep the default rights of their grant
    expect(login("integrator").patch(f"{RECORDS}/{record['id']}", {"level": "A"}), 200)


def test_entity_permission_read_false(crm, login):
    expect(crm.post(RECORDS, {"name": "secret"}), 201)
    with_permissions(crm, {"member": {"read": False, "create": True}})
    member = login("member")
    denied(member.get(RECORDS))
    created = expect(member.post(RECORDS, {"name": "write-only"}), 201)
    assert member.get(f"{RECORDS}/{created['id']}").status_code in (403, 404)


HIDDEN_FIELDS = [
    {"key": "name", "type": "text", "required": True},
    {"key": "salary", "type": "money", "permissions": {"member": "hidden"}},
    {"key": "grade", "type": "select", "options": ["P5", "P6", "P7"],
     "permissions": {"member": "read_only"}},
    {"key": "code", "type": "text", "read_only": True},
]


def test_hidden_field_is_absent_for_member(crm, login):
    with_permissions(crm, {}, HIDDEN_FIELDS)
    record = expect(crm.post(RECORDS, {"name": "张三", "salary": "30000.00",
                                       "grade": "P6"}), 201)
    assert record["salary"] == "30000.00"
    member = login("member")
    got = expect(member.get(f"{RECORDS}/{record['id']}"), 200)
    assert "salary" not in got and got["name"] == "张三" and got["grade"] == "P6"
    listing = member.get(RECORDS)
    assert "salary" not in expect(listing, 200)["items"][0]
    assert "30000" not in listing.get_data(as_text=True)
    definition = expect(member.get("/apps/crm/entities/customer"), 200)
    assert "salary" not in [f["key"] for f in definition["fields"]]
    assert "salary" in [f["key"] for f in expect(crm.get("/apps/crm/entities/customer"),
                                                 200)["fields"]]
    for query in ({"salary": "30000"}, {"salary__gt": "1"}, {"salary__isnull": "true"},
                  {"sort": "salary"}, {"sort": "-salary"}, {"fields": "name,salary"}):
        denied(member.get(RECORDS, query_string=query), 400)
    # it cannot be guessed by writing it either
    denied(member.post(RECORDS, {"name": "李四", "salary": "1.00"}))
    denied(member.patch(f"{RECORDS}/{record['id']}", {"salary": "1.00"}))
    assert expect(crm.get(f"{RECORDS}/{record['id']}"), 200)["salary"] == "30000.00"
    # member's own new record is still created with the hidden field empty
    mine = expect(member.post(RECORDS, {"name": "王五"}), 201)
    assert "salary" not in mine
    assert expect(crm.get(f"{RECORDS}/{mine['id']}"), 200)["salary"] is None
    assert expect(crm.get(RECORDS, query_string={"salary": "30000"}), 200)["total"] == 1


def test_read_only_fields(crm, login):
    with_permissions(crm, {}, HIDDEN_FIELDS)
    record = expect(crm.post(RECORDS, {"name": "张三", "grade": "P6"}), 201)
    member = login("member")
    error = denied(member.patch(f"{RECORDS}/{record['id']}", {"grade": "P7"}))
    assert [d["path"] for d in error["details"]] == ["grade"]
    denied(member.post(RECORDS, {"name": "x", "grade": "P5"}))
    expect(member.patch(f"{RECORDS}/{record['id']}", {"name": "张三丰"}), 200)
    after = expect(crm.get(f"{RECORDS}/{record['id']}"), 200)
    assert (after["name"], after["grade"]) == ("张三丰", "P6")
    # filtering on a read-only field is fine
    assert expect(member.get(RECORDS, query_string={"grade": "P6"}), 200)["total"] == 1
    # a field marked read_only is read-only for everybody
    for api in (member, crm):
        denied(api.patch(f"{RECORDS}/{record['id']}", {"code": "X1"}))
    expect(crm.patch(f"{RECORDS}/{record['id']}", {"grade": "P7"}), 200)


@pytest.mark.parametrize(("scopes", "allowed", "refused"), [
    (["records:read"], [("GET", RECORDS)], [("POST", RECORDS), ("PATCH", "{rec}"),
                                             ("DELETE", "{rec}"), ("GET", "/apps"),
                                             ("POST", "/apps")]),
    (["records:write"], [("GET", RECORDS), ("POST", RECORDS), ("PATCH", "{rec}")],
     [("GET", "/apps"), ("GET", "/apps/crm/entities"), ("POST", "/apps")]),
    (["apps:read"], [("GET", "/apps"), ("GET", "/apps/crm/entities")],
     [("GET", RECORDS), ("POST", RECORDS), ("POST", "/apps/crm/entities")]),
])
def test_token_scopes(crm, login, client, scopes, allowed, refused):
    integrator = login("integrator")
    token = expect(integrator.post("/tokens", {"name": "erp", "scopes": scopes}),
                   201)["token"]
    record = expect(crm.post(RECORDS, {"name": "甲"}), 201)
    headers = {"Authorization": f"Bearer {token}"}
    bodies = {"POST": {"name": "via token"}, "PATCH": {"level": "C"}}
    for method, template in allowed + refused:
        path = template.replace("{rec}", f"{RECORDS}/{record['id']}")
        if path == "/apps" and method == "POST":
            body = {"key": "tok", "name": "x"}
        elif path.endswith("/entities") and method == "POST":
            body = {"key": "tok", "fields": []}
        else:
            body = bodies.get(method)
        response = client.open("/api/v1" + path, method=method, headers=headers,
                               **({"json": body} if body is not None else {}))
        if (method, template) in allowed:
            assert response.status_code < 300, (scopes, method, path, response.get_json())
        else:
            assert response.status_code == 403, (scopes, method, path, response.get_json())
            assert response.get_json()["error"]["code"] == "insufficient_scope"


def test_apps_write_scope_needed_to_create_apps(admin, client):
    token = expect(admin.post("/tokens", {"name": "ci", "scopes": ["apps:read",
                                                                   "records:write"]}),
                   201)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/v1/apps", json={"key": "ci", "name": "CI"}, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "insufficient_scope"
    assert expect(admin.get("/apps"), 200)["items"] == []
    token = expect(admin.post("/tokens", {"name": "ci2", "scopes": ["apps:write"]}),
                   201)["token"]
    response = client.post("/api/v1/apps", json={"key": "ci", "name": "CI"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201


def test_custom_role_grant(admin, client):
    expect(admin.post("/roles", {"key": "auditor", "name": "审计"}), 201)
    expect(admin.post("/users", {"username": "audrey", "password": "long-enough-1",
                                 "roles": ["auditor"]}), 201)
    expect(admin.post("/apps", {"key": "crm", "name": "客户", "grants": {"auditor": "use"}}),
           201)
    expect(admin.post("/apps", {"key": "hr", "name": "人事"}), 201)
    token = expect(client.post("/api/v1/auth/login", json={"username": "audrey",
                                                           "password": "long-enough-1"}),
                   200)["token"]
    listing = expect(client.get("/api/v1/apps",
                                headers={"Authorization": f"Bearer {token}"}), 200)
    assert [(a["key"], a["my_access"]) for a in listing["items"]] == [("crm", "use")]
    response = client.get("/api/v1/apps/hr/entities",
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
