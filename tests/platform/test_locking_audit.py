"""Optimistic locking (version in the body or If-Match) and the audit trail each write
leaves behind: actor, action, and the before/after of every changed field."""

from __future__ import annotations

from typing import Any

RECORDS = "/apps/crm/entities/customer/records"


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def conflict(response: Any) -> None:
    body = expect(response, 409)
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["code"] in ("conflict", "version_conflict")


def test_patch_with_version(crm):
    record = expect(crm.post(RECORDS, {"name": "甲", "level": "A"}), 201)
    url = f"{RECORDS}/{record['id']}"
    second = expect(crm.patch(url, {"level": "B", "version": 1}), 200)
    assert (second["level"], second["version"]) == ("B", 2)
    conflict(crm.patch(url, {"level": "C", "version": 1}))
    conflict(crm.patch(url, {"level": "C", "version": 3}))
    conflict(crm.patch(url, {"level": "C", "version": 2**62}))
    after = expect(crm.get(url), 200)
    assert (after["level"], after["version"]) == ("B", 2)
    third = expect(crm.patch(url, {"name": "甲乙", "version": 2}), 200)
    assert (third["name"], third["level"], third["version"]) == ("甲乙", "B", 3)
    # without a version the write is unconditional and still bumps the version
    fourth = expect(crm.patch(url, {"level": "C"}), 200)
    assert fourth["version"] == 4
    for bad in ("2", 2.5, True, None, [4], {"v": 4}, -1):
        response = crm.patch(url, {"level": "A", "version": bad})
        if bad is None:
            # null means "no version sent" or is refused; either way never a 5xx
            assert response.status_code in (200, 422), response.get_json()
            continue
        assert response.status_code in (409, 422), (bad, response.get_json())
    assert expect(crm.get(url), 200)["level"] in ("C", "A")


def test_patch_with_if_match(crm):
    record = expect(crm.post(RECORDS, {"name": "甲"}), 201)
    url = f"{RECORDS}/{record['id']}"
    conflict(crm.patch(url, {"level": "B"}, headers={"If-Match": "2"}))
    conflict(crm.patch(url, {"level": "B"}, headers={"If-Match": '"7"'}))
    assert expect(crm.get(url), 200) == record
    updated = expect(crm.patch(url, {"level": "B"}, headers={"If-Match": "1"}), 200)
    assert updated["version"] == 2
    updated = expect(crm.patch(url, {"level": "C"}, headers={"If-Match": '"2"'}), 200)
    assert updated["version"] == 3
    updated = expect(crm.patch(url, {"level": "A"}, headers={"If-Match": 'W/"3"'}), 200)
    assert updated["version"] == 4
    conflict(crm.patch(url, {"level": "B"}, headers={"If-Match": "3"}))
    expect(crm.patch(url, {"level": "B"}, headers={"If-Match": "not-a-version"}), 400)
    assert expect(crm.get(url), 200)["level"] == "A"


def test_delete_with_if_match(crm):
    record = expect(crm.post(RECORDS, {"name": "甲"}), 201)
    url = f"{RECORDS}/{record['id']}"
    expect(crm.patch(url, {"level": "B"}), 200)
    conflict(crm.delete(url, headers={"If-Match": "1"}))
    expect(crm.get(url), 200)
    expect(crm.delete(url, headers={"If-Match": "2"}), 204)
    expect(crm.get(url), 404)


def test_two_clients_one_wins(crm, login):
    record = expect(crm.post(RECORDS, {"name": "甲"}), 201)
    url = f"{RECORDS}/{record['id']}"
    member, member2 = login("member"), login("member2")
    first = expect(member.get(url), 200)
    second = expect(member2.get(url), 200)
    expect(member.patch(url, {"level": "A", "version": first["version"]}), 200)
    conflict(member2.patch(url, {"level": "C", "version": second["version"]}))
    final = expect(crm.get(url), 200)
    assert (final["level"], final["version"], final["updated_by"]) == ("A", 2, "member")


def audit(api: Any, **query: Any) -> list[dict[str, Any]]:
    return expect(api.get("/apps/crm/audit", query_string=query), 200)["items"]


def test_audit_rows_for_create_update_delete(crm, login):
    member = login("member")
    created = expect(member.post(RECORDS, {"name": "甲", "limit": "100.00"}), 201)
    other = expect(crm.post(RECORDS, {"name": "乙"}), 201)
    url = f"{RECORDS}/{created['id']}"
    expect(crm.patch(url, {"limit": "250.50", "level": "B", "name": "甲"}), 200)
    expect(member.delete(url), 204)

    rows = audit(crm, entity="customer", record_id=created["id"])
    assert [r["action"] for r in rows] == ["delete", "update", "create"]  # newest first
    assert [r["actor"] for r in rows] == ["member", "admin", "member"]
    assert all(r["record_id"] == created["id"] and r["entity"] == "customer" for r in rows)
    delete, update, create = rows
    assert create["changes"] == {"name": [None, "甲"], "limit": [None, "100.00"]}
    # only the fields that changed (name was sent unchanged)
    assert update["changes"] == {"limit": ["100.00", "250.50"], "level": [None, "B"]}
    assert delete["changes"] == {"name": ["甲", None], "limit": ["250.50", None],
                                 "level": ["B", None]}
    for row in rows:
        assert row["at"].endswith("Z") and row["request_id"]

    other_rows = audit(crm, entity="customer", record_id=other["id"])
    assert [(r["action"], r["actor"]) for r in other_rows] == [("create", "admin")]
    everything = audit(crm, entity="customer")
    record_rows = [r for r in everything if r["record_id"] is not None]
    assert len(record_rows) == 4
    assert {r["record_id"] for r in record_rows} == {created["id"], other["id"]}


def test_audit_of_refused_writes_is_empty(crm):
    record = expect(crm.post(RECORDS, {"name": "甲"}), 201)
    url = f"{RECORDS}/{record['id']}"
    conflict(crm.patch(url, {"level": "B", "version": 9}))
    expect(crm.patch(url, {"level": "Z"}), 422)
    expect(crm.post(RECORDS, {"level": "A"}), 422)
    rows = audit(crm, entity="customer", record_id=record["id"])
    assert [r["action"] for r in rows] == ["create"]
    assert len([r for r in audit(crm, entity="customer") if r["record_id"]]) == 1


def test_audit_records_entity_publishes(crm):
    expect(crm.put("/apps/crm/entities/customer", {"key": "customer", "fields": [
        {"key": "name", "type": "text", "required": True},
        {"key": "city", "type": "text"}]}), 200)
    rows = [r for r in audit(crm, entity="customer") if r["record_id"] is None]
    assert [r["action"] for r in rows] == ["entity.publish", "entity.publish"]
    assert [r["changes"]["version"] for r in rows] == [2, 1]
    assert all(r["actor"] == "admin" for r in rows)


def test_audit_access(crm, login):
    record = expect(crm.post(RECORDS, {"name": "甲"}), 201)
    member = login("member")
    # whoever may read the record may read its history
    rows = audit(member, entity="customer", record_id=record["id"])
    assert [r["action"] for r in rows] == ["create"]
    # the whole app's trail needs design rights
    expect(member.get("/apps/crm/audit"), 403)
    assert audit(login("designer"))
    expect(crm.get("/apps/crm/audit", query_string={"record_id": "abc"}), 400)
    expect(crm.get("/apps/crm/audit", query_string={"limit": "501"}), 400)
    assert audit(crm, entity="customer", record_id=987654) == []
    paged = expect(crm.get("/apps/crm/audit", query_string={"limit": "1"}), 200)
    assert len(paged["items"]) == 1 and paged["total"] >= 2
