"""Rule tasks in the approver's inbox (GET /tasks, the flow inbox's second source): listed
with kind "rule", counted in the badges, paged after the flow tasks, completable, then in
the done view."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location(
    "loom_rules_support", Path(__file__).with_name("rules_support.py"))
assert _spec and _spec.loader
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)
APP, rule, write = support.APP, support.rule, support.write


@pytest.fixture
def loans(admin: Any, app: Any) -> Any:
    support.setup_app(admin)
    review = rule("review", {"type": "record_created", "entity": "application"},
                  [{"type": "create_task", "title": "审核 {applicant}",
                    "assignee": "role:member"}],
                  {"all": [{"field": "amount", "op": "gt", "value": "50000"}]})
    assert admin.post(f"/apps/{APP}/rules", review).status_code == 201
    return admin


def test_rule_tasks_are_listed_counted_and_completed_in_the_inbox(app: Any, loans: Any,
                                                                  login: Any) -> None:
    for name, amount in (("甲", "60000.00"), ("乙", "100.00"), ("丙", "70000.00")):
        write(app, "admin", "application", "create", {"applicant": name, "amount": amount})
    member = login("member")
    todo = member.get("/tasks?view=todo").get_json()
    assert [(t["kind"], t["name"], t["rule"], t["app"]) for t in todo["items"]] == [
        ("rule", "审核 丙", "review", APP), ("rule", "审核 甲", "review", APP)]
    assert (todo["total"], todo["counts"]["todo"], todo["counts"]["done"]) == (2, 2, 0)
    # paging continues past the first page; a search and a process filter narrow
    second = member.get("/tasks?view=todo&limit=1&offset=1").get_json()
    assert [t["name"] for t in second["items"]] == ["审核 甲"] and second["total"] == 2
    assert [t["name"] for t in member.get("/tasks?view=todo&q=丙").get_json()["items"]] == [
        "审核 丙"]
    assert member.get("/tasks?view=todo&process=approval").get_json()["total"] == 0
    assert member.get("/tasks?view=todo&app=other").get_json()["total"] == 0
    # someone without the role sees nothing; the role's other member sees both
    assert login("designer").get("/tasks?view=todo").get_json()["counts"]["todo"] == 0
    assert login("member2").get("/tasks?view=todo").get_json()["total"] == 2

    first = todo["items"][0]["id"]
    assert member.post(f"/rule-tasks/{first}/complete").status_code == 200
    after = member.get("/tasks?view=todo").get_json()
    assert [t["name"] for t in after["items"]] == ["审核 甲"]
    assert (after["counts"]["todo"], after["counts"]["done"]) == (1, 1)
    done = member.get("/tasks?view=done").get_json()
    assert [(t["kind"], t["name"], t["completed_by"], t["state"]) for t in done["items"]] == [
        ("rule", "审核 丙", "member", "done")]
    # member2 shared the role, but the task is gone from their to-do and not in their done
    other = login("member2").get("/tasks?view=todo").get_json()
    assert (other["total"], other["counts"]["done"]) == (1, 0)


def _flows_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "loom_flows_api_tests", Path(__file__).with_name("test_flows_api.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flow_and_rule_tasks_share_the_inbox(admin: Any, login: Any) -> None:
    """Flow tasks come first (as before), rule tasks fill the rest of the page; each kind
    completes through its own endpoint and both land in the done view."""
    flows = _flows_module()
    for role in ("risk_specialist", "finance_director"):
        assert admin.post("/roles", {"key": role, "name": role}).status_code == 201
    for name, (roles, dept, manager) in flows.PEOPLE.items():
        assert admin.post("/users", {"username": name, "password": "correct-horse-42",
                                     "roles": roles, "department": dept,
                                     "manager": manager}).status_code == 201
    assert admin.post("/apps", {"key": "loan", "name": "授信"}).status_code == 201
    assert admin.post("/apps/loan/entities", flows.APPLICATION).status_code == 201
    assert login("designer").post("/apps/loan/processes", {
        "key": "credit", "name": "授信审批", "entity": "application",
        "bpmn_xml": flows.CREDIT_XML}).status_code == 201
    follow_up = rule("follow_up", {"type": "record_created", "entity": "application"},
                     [{"type": "create_task", "title": "回访 {applicant}",
                       "assignee": "head_retail"}])
    assert admin.post("/apps/loan/rules", follow_up).status_code == 201

    instance = flows.start(login("member"), flows.SMALL)  # the record fires the rule too
    head = login("head_retail")
    body = head.get("/tasks?view=todo").get_json()
    assert [(t["kind"], t["name"]) for t in body["items"]] == [
        ("flow", instance["tasks"][0]["name"]), ("rule", "回访 张三")]
    assert (body["total"], body["counts"]["todo"]) == (2, 2)
    pages = [head.get(f"/tasks?view=todo&limit=1&offset={n}").get_json() for n in (0, 1, 2)]
    assert [[t["kind"] for t in p["items"]] for p in pages] == [["flow"], ["rule"], []]
    assert head.get("/tasks?view=todo&process=credit").get_json()["total"] == 1

    flow_task, rule_task = body["items"]
    assert head.post(f"/tasks/{flow_task['id']}/complete",
                     {"action": "approve"}).status_code == 200
    assert head.post(f"/rule-tasks/{rule_task['id']}/complete").status_code == 200
    after = head.get("/tasks?view=done").get_json()
    assert sorted(t["kind"] for t in after["items"]) == ["flow", "rule"]
    assert (after["counts"]["todo"], after["counts"]["done"]) == (0, 2)
