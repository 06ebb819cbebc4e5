"""Simulation before publish: a draft runs in memory against sample or stored records; the
report shows the branch taken, who is asked, timers; nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from app_platform.extensions import db

ENTITY = {"key": "loan", "label": "贷款", "fields": [
    {"key": "applicant", "label": "申请人", "type": "text"},
    {"key": "amount", "label": "金额", "type": "money"},
    {"key": "card", "label": "卡号", "type": "card_number"},
]}
LEVELS = [  # amount >= 50,000.00 (5,000,000 minor units): alice then bob; else alice only
    {"id": "start", "type": "start"},
    {"id": "route", "type": "condition", "settings": {"branches": [
        {"name": "大额", "condition": "amount >= 5000000", "nodes": [
            {"id": "first", "type": "approver", "name": "一级",
             "settings": {"assignee": {"kind": "user", "value": "alice"},
                          "timeout": {"after": "P2D", "action": "auto_approve"}}},
            {"id": "second", "type": "approver", "name": "二级",
             "settings": {"assignee": {"kind": "role", "value": "checker"}}}]},
        {"name": "其他", "default": True, "nodes": [
            {"id": "only", "type": "approver", "name": "一级",
             "settings": {"assignee": {"kind": "user", "value": "alice"}}}]}]}},
    {"id": "tell", "type": "cc", "settings": {"to": [{"kind": "initiator"}]}},
    {"id": "mark", "type": "auto_action",
     "settings": {"action": "update_record", "params": {"applicant": "'done'"}}},
]


@pytest.fixture
def lab(admin: Any, login: Any) -> Any:
    assert admin.post("/roles", {"key": "checker", "name": "checker"}).status_code == 201
    for name, roles in (("alice", ["member"]), ("bob", ["member", "checker"])):
        assert admin.post("/users", {"username": name, "password": "correct-horse-42",
                                     "roles": roles}).status_code == 201
    assert admin.post("/apps", {"key": "sim", "name": "模拟"}).status_code == 201
    assert admin.post("/apps/sim/entities", ENTITY).status_code == 201
    return login


def simulate(api: Any, status: int = 200, **body: Any) -> dict[str, Any]:
    response = api.post("/apps/sim/processes/simulate",
                        {"key": "levels", "entity": "loan", "nodes": LEVELS, **body})
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_large_amount_takes_both_levels_and_nothing_is_stored(lab: Any, app: Any) -> None:
    run = simulate(lab("designer"), data={"applicant": "张三", "amount": "50000.00",
                                          "card": "4111111111111111"})
    assert run["status"] == "completed" and run["data"]["amount"] == 5_000_000
    assert "card" not in run["data"]
    assert [(s["node_id"], s["decision"]) for s in run["steps"]] == [
        ("first", "approve"), ("second", "approve")]
    first, second = run["steps"]
    assert first["assignees"] == ["alice"] and first["due_at"] is not None
    assert second["candidate_roles"] == ["checker"]
    assert second["role_members"] == {"checker": ["bob"]}
    assert "only" not in run["visited"] and {"first", "second", "tell", "mark"} <= set(
        run["visited"])
    cc = next(e for e in run["effects"] if e["kind"] == "cc")
    assert cc["users"] == ["designer"]
    assert run["actions"] == [{"action": "update_record", "params": {"applicant": "done"}}]
    with app.app_context():
        for table in ("flow_definitions", "flow_instances", "flow_tasks", "flow_specs"):
            assert db.session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0


def test_existing_record_small_amount_and_reject_and_timeout(lab: Any) -> None:
    designer = lab("designer")
    record = lab("admin").post("/apps/sim/entities/loan/records",
                               {"applicant": "李四", "amount": "49999.99"}).get_json()
    small = simulate(designer, record_id=record["id"])
    assert [s["node_id"] for s in small["steps"]] == ["only"]
    rejected = simulate(designer, data={"amount": "80000"}, decisions={"first": "reject"})
    assert rejected["status"] == "rejected" and rejected["end"] == "first__rejected"
    assert [s["node_id"] for s in rejected["steps"]] == ["first"]
    timed = simulate(designer, data={"amount": "80000"}, decisions={"first": "timeout"})
    assert [(s["node_id"], s["decision"]) for s in timed["steps"]] == [
        ("first", "timeout"), ("second", "approve")]
    assert "first__auto" in timed["visited"]
    fired = next(e for e in timed["effects"] if e["kind"] == "timer")
    assert fired["node"] == "first__timeout"
    # the timer fires two days after the start: the fake clock jumped to the due time
    assert fired["at"] == timed["steps"][0]["due_at"]


def test_bad_drafts_and_people_problems(lab: Any) -> None:
    designer = lab("designer")
    broken = [{"id": "start", "type": "start"},
              {"id": "route", "type": "condition", "settings": {"branches": [
                  {"condition": "__import__('os')", "nodes": []},
                  {"default": True, "nodes": []}]}}]
    error = simulate(designer, 422, nodes=broken)["error"]
    assert error["code"] == "invalid_flow_definition"
    assert error["details"][0]["path"] == "nodes[1].settings.branches[0].condition"
    bad_amount = simulate(designer, 422, data={"amount": "abc"})["error"]
    assert bad_amount["details"][0]["path"] == "amount"
    ghost = [{"id": "start", "type": "start"}, {"id": "ask", "type": "approver", "settings": {
        "assignee": {"kind": "user", "value": "ghost"}}}]
    run = simulate(designer, nodes=ghost, data={"amount": "1"})
    assert run["steps"][0]["problem"] == "unknown user(s): ghost"
    assert lab("member").post("/apps/sim/processes/simulate", {
        "entity": "loan", "nodes": LEVELS}).status_code == 403
