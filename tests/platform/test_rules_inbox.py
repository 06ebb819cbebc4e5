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
