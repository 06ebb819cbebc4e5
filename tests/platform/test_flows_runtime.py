"""Flows over time and under contention: concurrent completion (threads, on SQLite and on
PostgreSQL), timers fired on a controllable clock, version pinning, return to the
initiator, and the scheduler's switch."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest

from app_platform import scheduler
from app_platform.extensions import db
from app_platform.models.flows import FlowInstance
from app_platform.services.flow_instances import fire_due_timers

CREDIT_XML = (Path(__file__).parents[1] / "engines" / "flow" / "data" /
              "credit_approval.bpmn").read_text(encoding="utf-8")
ENTITY = {"key": "application", "label": "申请", "fields": [
    {"key": "applicant", "label": "申请人", "type": "text"},
    {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"},
    {"key": "applicant_dept", "label": "部门", "type": "text"},
    {"key": "risk_level", "label": "风险", "type": "select", "options": ["A", "B", "C"]}]}


def nodes(approver: dict[str, Any], **settings: Any) -> list[dict[str, Any]]:
    return [{"id": "start", "type": "start"},
            {"id": "check", "type": "approver", "settings": {"assignee": approver, **settings}}]


@pytest.fixture
def loan(admin: Any, login: Any) -> Any:
    """App 'loan': the credit process, plus people: head (of retail), rita and rick (risk),
    fred (finance)."""
    for role in ("risk_specialist", "finance_director"):
        assert admin.post("/roles", {"key": role, "name": role}).status_code == 201
    for name, roles, dept, manager in [
            ("head", [], "retail", None), ("clerk", [], "retail", "head"),
            ("rita", ["risk_specialist"], "risk", None), ("rick", ["risk_specialist"], "risk",
                                                           None),
            ("fred", ["finance_director"], "finance", None)]:
        assert admin.post("/users", {"username": name, "password": "correct-horse-42",
                                     "roles": ["member", *roles], "department": dept,
                                     "manager": manager}).status_code == 201
    assert admin.post("/apps", {"key": "loan", "name": "授信"}).status_code == 201
    assert admin.post("/apps/loan/entities", ENTITY).status_code == 201
    deploy(login, "credit", bpmn_xml=CREDIT_XML)
    return login


def deploy(login: Any, key: str, **source: Any) -> dict[str, Any]:
    response = login("designer").post("/apps/loan/processes", {
        "key": key, "name": key, "entity": "application", **source})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def start(api: Any, amount: str, process: str = "credit") -> dict[str, Any]:
    record = api.post("/apps/loan/entities/application/records",
                      {"applicant": "李四", "amount": amount, "applicant_dept": "retail"})
    response = api.post(f"/apps/loan/processes/{process}/instances",
                        {"record_id": record.get_json()["id"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def race(app: Any, calls: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    """Send the requests at the same moment from threads, each with its own client."""
    barrier, statuses = threading.Barrier(len(calls)), [0] * len(calls)

    def run(index: int, token: str, path: str, body: dict[str, Any]) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/v1" + path, json=body,
                               headers={"Authorization": f"Bearer {token}"})
        statuses[index] = response.status_code

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_two_completions_at_once_one_wins_one_conflicts(app: Any, loan: Any) -> None:
    member = loan("member")
    task = start(member, "100.00")["tasks"][0]
    head = loan("head")
    delegate = head.post(f"/tasks/{task['id']}/delegate", {"to_user": "clerk"})
    assert delegate.status_code == 200  # head and clerk may both complete it now
    path = f"/tasks/{task['id']}/complete"
    statuses = race(app, [(head.token, path, {"action": "approve"}),
                          (loan("clerk").token, path, {"action": "reject"})])
    assert sorted(statuses) == [200, 409]
    instance = member.get(f"/instances/{task['instance_id']}").get_json()
    decisions = [h for h in instance["history"] if h["action"] in ("approve", "reject")]
    assert len(decisions) == 1
    assert instance["status"] == {"approve": "completed", "reject": "rejected"}[
        decisions[0]["action"]]


def test_countersigners_on_one_instance_do_not_block_each_other(app: Any, loan: Any) -> None:
    deploy(loan, "panel", nodes=[{"id": "start", "type": "start"}, {
        "id": "vote", "type": "countersign", "settings": {
            "assignee": {"kind": "role", "value": "risk_specialist"}, "mode": "all"}}])
    instance = start(loan("member"), "100.00", "panel")
    tasks = {t["assignee"]: t["id"] for t in instance["tasks"]}
    statuses = race(app, [(loan(user).token, f"/tasks/{tasks[user]}/complete",
                           {"action": "approve"}) for user in ("rita", "rick")])
    assert statuses == [200, 200]
    final = loan("member").get(f"/instances/{instance['id']}").get_json()
    assert final["status"] == "completed"


def test_timeout_auto_approves_when_the_timer_fires(app: Any, loan: Any) -> None:
    deploy(loan, "timed", nodes=nodes({"kind": "user", "value": "head"},
                                      timeout={"after": "P1D", "action": "auto_approve"}))
    before = dt.datetime.now(dt.UTC)
    instance = start(loan("member"), "100.00", "timed")
    due = dt.datetime.fromisoformat(instance["next_timer_at"])
    assert before + dt.timedelta(days=1) <= due <= dt.datetime.now(dt.UTC) + dt.timedelta(
        days=1)
    with app.app_context():
        assert fire_due_timers(db.session, due - dt.timedelta(seconds=1)) == 0
        assert fire_due_timers(db.session, due + dt.timedelta(hours=1)) == 1
        row = db.session.get(FlowInstance, instance["id"])
        assert (row.status, row.next_timer_at) == ("completed", None)
        assert fire_due_timers(db.session, due + dt.timedelta(days=9)) == 0
    view = loan("member").get(f"/instances/{instance['id']}").get_json()
    assert [h["action"] for h in view["history"]][-2:] == ["timer", "completed"]
    assert loan("head").get("/tasks?view=todo").get_json()["total"] == 0


def test_escalation_timer_moves_the_task_to_someone_else(app: Any, loan: Any) -> None:
    deploy(loan, "esc", nodes=nodes({"kind": "user", "value": "head"}, timeout={
        "after": "PT4H", "action": "escalate",
        "escalate_to": {"kind": "role", "value": "finance_director"}}))
    instance = start(loan("member"), "100.00", "esc")
    due = dt.datetime.fromisoformat(instance["next_timer_at"])
    with app.app_context():
        assert fire_due_timers(db.session, due) == 1
    [task] = loan("fred").get("/tasks?view=todo").get_json()["items"]
    assert task["node_id"] == "check__escalated"
    assert loan("head").get("/tasks?view=todo").get_json()["total"] == 0
    done = loan("fred").post(f"/tasks/{task['id']}/complete", {"action": "approve"})
    assert done.get_json()["instance"]["status"] == "completed"


def test_instances_keep_the_version_they_started_on(loan: Any) -> None:
    member, rita = loan("member"), loan("rita")
    old = start(member, "60000.00")
    v2 = CREDIT_XML.replace('name="Risk specialist review"', 'name="风险复核 v2"').replace(
        "amount &gt;= 5000000", "amount &gt;= 9000000")
    response = loan("designer").put("/apps/loan/processes/credit", {
        "name": "credit", "entity": "application", "bpmn_xml": v2})
    assert response.get_json()["version"] == 2
    new = start(member, "60000.00")  # below the v2 threshold: the department head
    assert (new["process"]["version"], new["tasks"][0]["node_id"]) == (2, "dept_manager")
    assert (old["process"]["version"], old["tasks"][0]["name"]) == (1, "Risk specialist review")
    done = rita.post(f"/tasks/{old['tasks'][0]['id']}/complete",
                     {"action": "approve", "data": {"risk_level": "A"}}).get_json()
    assert [t["node_id"] for t in done["instance"]["tasks"]] == ["finance_director"]
    assert done["instance"]["process"]["version"] == 1


def test_return_to_the_initiator_and_resubmit(loan: Any) -> None:
    deploy(loan, "simple", nodes=nodes({"kind": "dept_head", "value": "applicant_dept"}))
    member, head = loan("member"), loan("head")
    instance = start(member, "100.00", "simple")
    task = instance["tasks"][0]
    assert task["assignee"] == "head"
    back = head.post(f"/tasks/{task['id']}/complete",
                     {"action": "return", "return_to": "initiator", "comment": "补材料"})
    [submit] = back.get_json()["instance"]["tasks"]
    assert (submit["submit"], submit["assignee"]) == (True, "member")
    resubmitted = member.post(f"/tasks/{submit['id']}/complete", {"action": "approve"})
    assert [t["assignee"] for t in resubmitted.get_json()["instance"]["tasks"]] == ["head"]


def test_scheduler_starts_only_when_enabled(app: Any) -> None:
    before = set(threading.enumerate())
    assert scheduler.init_app(app) is None
    app.config["SCHEDULER_ENABLED"] = True
    running = scheduler.init_app(app)
    try:
        assert "flow-timers" in [job.id for job in running.get_jobs()]
        assert scheduler.sweep(app) == 0
    finally:
        scheduler.stop(app)  # never shutdown(wait=True): it holds the job-store lock
        leadership = app.extensions.pop("loom_leader", None)
        if leadership is not None:
            leadership.stop()
        # the app object is reused by later tests: let this test's background threads
        # (leader watcher, rule-job refresher, job executors) finish with the database
        # before the engine is disposed under them
        for thread in set(threading.enumerate()) - before:
            if thread.name.startswith(("loom-leader", "loom-rule-jobs", "ThreadPoolExecutor",
                                       "APScheduler")):
                thread.join(timeout=35)


def test_runtime_errors_mark_the_instance_and_a_fixed_one_is_retried(loan: Any) -> None:
    admin, member = loan("admin"), loan("member")
    deploy(loan, "ghostly", nodes=nodes({"kind": "user", "value": "ghost"}))
    instance = start(member, "1.00", "ghostly")
    assert instance["status"] == "errored" and instance["tasks"] == []
    assert instance["error"]["element"] == "check" and "ghost" in instance["error"]["message"]
    path = f"/instances/{instance['id']}/retry"
    assert member.post(path).status_code == 403
    assert admin.post("/users", {"username": "ghost", "password": "correct-horse-42",
                                 "roles": ["member"]}).status_code == 201
    retried = admin.post(path).get_json()
    assert retried["status"] == "running"
    assert [t["assignee"] for t in retried["tasks"]] == ["ghost"]
    deploy(loan, "broken", nodes=[*nodes({"kind": "user", "value": "head"}), {
        "id": "mark", "type": "auto_action",
        "settings": {"action": "update_record", "params": {"no_such_field": "1"}}}])
    broken = start(member, "1.00", "broken")
    done = loan("head").post(f"/tasks/{broken['tasks'][0]['id']}/complete",
                             {"action": "approve"}).get_json()["instance"]
    assert (done["status"], done["error"]["element"]) == ("errored", "mark")
    assert "no_such_field" in done["error"]["message"]
    again = admin.post(f"/instances/{broken['id']}/retry")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "engine_error"
