"""Approval flows through the HTTP API with real users: deploy (BPMN and designer nodes),
the credit approval paths, approval actions, the inbox, permissions and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app_platform.extensions import db

CREDIT_XML = (Path(__file__).parents[1] / "engines" / "flow" / "data" /
              "credit_approval.bpmn").read_text(encoding="utf-8")
APPLICATION = {
    "key": "application", "label": "授信申请",
    "fields": [
        {"key": "applicant", "label": "申请人", "type": "text", "required": True},
        {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"},
        {"key": "applicant_dept", "label": "部门", "type": "text"},
        {"key": "risk_level", "label": "风险等级", "type": "select", "options": ["A", "B", "C"]},
    ],
}
PEOPLE = {  # username: (roles, department, manager)
    "head_retail": (["member"], "retail", "ceo"),
    "clerk": (["member"], "retail", "head_retail"),
    "rita": (["member", "risk_specialist"], "risk", None),
    "rick": (["member", "risk_specialist"], "risk", None),
    "fred": (["member", "finance_director"], "finance", None),
}
SMALL, LARGE = "49999.99", "50000.00"  # 5,000,000 minor units is the threshold


@pytest.fixture
def credit(admin: Any, login: Any) -> Any:
    """App 'loan' with the application entity, the credit process, and its people."""
    for role in ("risk_specialist", "finance_director"):
        assert admin.post("/roles", {"key": role, "name": role}).status_code == 201
    for name, (roles, dept, manager) in PEOPLE.items():
        body = {"username": name, "password": "correct-horse-42", "roles": roles,
                "department": dept, "manager": manager}
        assert admin.post("/users", body).status_code == 201
    assert admin.post("/apps", {"key": "loan", "name": "授信"}).status_code == 201
    assert admin.post("/apps/loan/entities", APPLICATION).status_code == 201
    response = login("designer").post("/apps/loan/processes", {
        "key": "credit", "name": "授信审批", "entity": "application", "bpmn_xml": CREDIT_XML})
    assert response.status_code == 201, response.get_json()
    return login


def start(api: Any, amount: str, process: str = "credit") -> dict[str, Any]:
    record = api.post("/apps/loan/entities/application/records",
                      {"applicant": "张三", "amount": amount, "applicant_dept": "retail"})
    assert record.status_code == 201, record.get_json()
    response = api.post(f"/apps/loan/processes/{process}/instances",
                        {"record_id": record.get_json()["id"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def todo(api: Any) -> list[dict[str, Any]]:
    body = api.get("/tasks?view=todo").get_json()
    assert body["counts"]["todo"] == body["total"] == len(body["items"])
    return body["items"]


def act(api: Any, task_id: int, action: str = "approve", status: int = 200,
        **extra: Any) -> dict[str, Any]:
    response = api.post(f"/tasks/{task_id}/complete", {"action": action, **extra})
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_small_amount_goes_to_the_department_head(credit: Any) -> None:
    member, head = credit("member"), credit("head_retail")
    instance = start(member, SMALL)
    assert instance["status"] == "running" and instance["process"]["version"] == 1
    [task] = instance["tasks"]
    # head_retail is the manager the retail staff report to (users.department + manager)
    assert (task["node_id"], task["assignee"]) == ("dept_manager", "head_retail")
    assert todo(member) == [] and [t["id"] for t in todo(head)] == [task["id"]]
    detail = head.get(f"/tasks/{task['id']}").get_json()
    assert detail["record"]["amount"] == SMALL and detail["record"]["applicant"] == "张三"
    assert [f["key"] for f in detail["entity"]["fields"]][:2] == ["applicant", "amount"]
    assert set(detail["field_permissions"].values()) == {"read"}
    done = act(head, task["id"], comment="同意")
    assert done["instance"]["status"] == "completed" and done["instance"]["tasks"] == []
    history = member.get(f"/instances/{instance['id']}").get_json()["history"]
    assert [(h["action"], h["actor"]) for h in history] == [
        ("start", "member"), ("approve", "head_retail"), ("completed", "head_retail")]
    assert history[1]["comment"] == "同意"
    assert head.get("/tasks?view=done").get_json()["total"] == 1
    started = member.get("/tasks?view=started").get_json()
    assert [i["status"] for i in started["items"]] == ["completed"]


def test_large_amount_needs_risk_then_finance_and_role_tasks_are_claimed(credit: Any) -> None:
    member, rita, rick, fred = (credit(u) for u in ("member", "rita", "rick", "fred"))
    instance = start(member, LARGE)
    [task] = instance["tasks"]
    assert (task["node_id"], task["assignee"], task["candidate_roles"]) == (
        "risk_specialist", None, ["risk_specialist"])
    assert [t["id"] for t in todo(rick)] == [t["id"] for t in todo(rita)] == [task["id"]]
    act(credit("member2"), task["id"], status=403)  # not in the role
    assert rita.post(f"/tasks/{task['id']}/claim").status_code == 200
    assert todo(rick) == []
    assert rick.post(f"/tasks/{task['id']}/claim").status_code == 409
    act(rick, task["id"], status=403)
    # this step may edit risk_level (required) and nothing else
    act(rita, task["id"], status=422)
    act(rita, task["id"], status=403, data={"amount": "1.00"})
    done = act(rita, task["id"], data={"risk_level": "B"})
    [finance] = done["instance"]["tasks"]
    assert finance["node_id"] == "finance_director"
    record = member.get(f"/apps/loan/entities/application/records/{instance['record_id']}")
    assert record.get_json()["risk_level"] == "B"
    act(fred, finance["id"])  # the only member of the role may act without claiming
    view = member.get(f"/instances/{instance['id']}").get_json()
    assert view["status"] == "completed"
    approve = next(h for h in view["history"] if h["actor"] == "rita" and h["action"] ==
                   "approve")
    assert approve["data_diff"] == {"risk_level": [None, "B"]}


def test_reject_ends_the_instance_as_rejected(credit: Any) -> None:
    instance = start(credit("member"), LARGE)
    rita = credit("rita")
    done = act(rita, instance["tasks"][0]["id"], "reject", comment="额度过高")
    assert done["instance"]["status"] == "rejected" and done["instance"]["tasks"] == []
    assert todo(credit("fred")) == []


def test_return_reopens_the_previous_step_as_a_new_attempt(credit: Any) -> None:
    member, rita, fred = credit("member"), credit("rita"), credit("fred")
    instance = start(member, LARGE)
    first = instance["tasks"][0]
    finance = act(rita, first["id"], data={"risk_level": "C"})["instance"]["tasks"][0]
    back = act(fred, finance["id"], "return", comment="补充材料")["instance"]["tasks"]
    assert [(t["node_id"], t["attempt"]) for t in back] == [("risk_specialist", 2)]
    assert back[0]["id"] != first["id"]
    again = act(rita, back[0]["id"])["instance"]["tasks"]
    assert [t["node_id"] for t in again] == ["finance_director"]


def test_transfer_hands_the_task_over(credit: Any) -> None:
    head, other = credit("head_retail"), credit("member2")
    task = start(credit("member"), SMALL)["tasks"][0]
    response = head.post(f"/tasks/{task['id']}/transfer", {"to_user": "member2",
                                                           "comment": "出差"})
    assert response.status_code == 200 and response.get_json()["assignee"] == "member2"
    assert head.post(f"/tasks/{task['id']}/transfer", {"to_user": "ghost"}).status_code == 403
    act(head, task["id"], status=403)
    assert [t["id"] for t in todo(other)] == [task["id"]]
    assert act(other, task["id"])["instance"]["status"] == "completed"


def test_delegate_lets_someone_act_on_behalf(credit: Any) -> None:
    head, other = credit("head_retail"), credit("member2")
    instance = start(credit("member"), SMALL)
    task = instance["tasks"][0]
    bad = head.post(f"/tasks/{task['id']}/delegate", {"to_user": "nobody_here"})
    assert bad.status_code == 422
    response = head.post(f"/tasks/{task['id']}/delegate",
                         {"to_user": "member2", "until": "2099-01-01T00:00:00+08:00"})
    assert response.get_json()["delegated_from"] == "head_retail"
    assert todo(head) and todo(other)  # the delegator keeps the task in view
    act(other, task["id"])
    history = head.get(f"/instances/{instance['id']}").get_json()["history"]
    approve = next(h for h in history if h["action"] == "approve")
    assert (approve["actor"], approve["on_behalf_of"]) == ("member2", "head_retail")


def test_add_signer_before_and_after(credit: Any) -> None:
    head, other, rita = credit("head_retail"), credit("member2"), credit("rita")
    task = start(credit("member"), SMALL)["tasks"][0]
    added = head.post(f"/tasks/{task['id']}/add-signer", {"to_user": "member2"})
    assert added.status_code == 200 and added.get_json()["state"] == "waiting"
    act(head, task["id"], status=409)  # waits for the signer added before
    [signer] = todo(other)
    assert signer["signer_position"] == "before"
    assert act(other, signer["id"])["instance"]["status"] == "running"
    after = head.post(f"/tasks/{task['id']}/add-signer", {"to_user": "rita",
                                                          "position": "after"})
    assert after.status_code == 200 and todo(rita) == []
    assert act(head, task["id"])["instance"]["status"] == "running"
    [last] = todo(rita)
    assert act(rita, last["id"])["instance"]["status"] == "completed"


def test_withdraw_only_by_the_starter_and_only_before_anyone_acted(credit: Any) -> None:
    member = credit("member")
    instance = start(member, SMALL)
    path = f"/instances/{instance['id']}/withdraw"
    assert credit("member2").post(path).status_code == 403
    response = member.post(path, {"comment": "填错了"})
    assert response.status_code == 200 and response.get_json()["status"] == "withdrawn"
    assert todo(credit("head_retail")) == []
    assert member.post(path).status_code == 409
    large = start(member, LARGE)
    act(credit("rita"), large["tasks"][0]["id"], data={"risk_level": "A"})
    late = member.post(f"/instances/{large['id']}/withdraw")
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "already_acted"


def test_second_completion_is_a_conflict(credit: Any) -> None:
    head = credit("head_retail")
    task = start(credit("member"), SMALL)["tasks"][0]
    act(head, task["id"])
    body = act(head, task["id"], status=409)
    assert body["error"]["code"] == "task_closed"


def test_outsiders_and_strangers_are_refused(credit: Any) -> None:
    member, outsider = credit("member"), credit("outsider")
    instance = start(member, SMALL)
    task = instance["tasks"][0]
    assert outsider.get(f"/instances/{instance['id']}").status_code == 403
    assert outsider.get(f"/tasks/{task['id']}").status_code == 403
    assert credit("member2").get(f"/instances/{instance['id']}").status_code == 403
    assert outsider.get("/apps/loan/processes").status_code == 403
    started = outsider.post("/apps/loan/processes/credit/instances",
                            {"record_id": instance["record_id"]})
    assert started.status_code == 403
    act(member, task["id"], status=403)  # the starter may not approve for the head
    denied = member.post("/apps/loan/processes", {"key": "x", "entity": "application",
                                                  "bpmn_xml": CREDIT_XML})
    assert denied.status_code == 403  # deploying needs design access
    assert member.post("/apps/loan/processes/credit/instances",
                       {"record_id": instance["record_id"]}).status_code == 409
    assert member.get("/instances/999999").status_code == 404


@pytest.mark.parametrize("xml, where", [
    (CREDIT_XML.replace('<bpmn:userTask id="finance_director"',
                        '<bpmn:complexGateway id="odd_gw"/><bpmn:userTask '
                        'id="finance_director"'), "odd_gw"),
    (CREDIT_XML.replace(' default="f_rs_ok"', ""), "rs_gw"),
    (CREDIT_XML.replace("action == 'reject'</bpmn:conditionExpression>",
                        "__import__('os')</bpmn:conditionExpression>", 1), "f_dm_no"),
    ("<bpmn:definitions><unclosed>", "line"),
])
def test_bad_bpmn_is_refused_naming_the_element(credit: Any, xml: str, where: str) -> None:
    designer = credit("designer")
    response = designer.put("/apps/loan/processes/credit",
                            {"name": "授信审批", "entity": "application", "bpmn_xml": xml})
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_flow_definition" and where in error["message"]
    assert designer.get("/apps/loan/processes/credit").get_json()["version"] == 1


NODES = [
    {"id": "start", "type": "start"},
    {"id": "review", "type": "countersign", "name": "风险会签",
     "settings": {"assignee": {"kind": "role", "value": "risk_specialist"}, "mode": "all"}},
    {"id": "notify", "type": "cc", "settings": {"to": [{"kind": "user", "value": "fred"}]}},
    {"id": "mark", "type": "auto_action", "settings": {
        "action": "update_record", "params": {"risk_level": "'A'", "amount": "amount * 2"}}},
]


def test_designer_nodes_deploy_and_run_countersign_cc_and_record_update(credit: Any,
                                                                         app: Any) -> None:
    designer = credit("designer")
    response = designer.post("/apps/loan/processes", {
        "key": "quick", "name": "快速审批", "entity": "application", "nodes": NODES})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["source_kind"], body["version"]) == ("nodes", 1)
    assert body["nodes"] == NODES and "<bpmn:userTask" in body["bpmn_xml"]
    again = designer.put("/apps/loan/processes/quick", {"name": "快速审批",
                                                        "entity": "application",
                                                        "nodes": NODES})
    assert again.get_json()["version"] == 2
    assert again.get_json()["content_hash"] == body["content_hash"]
    with app.app_context():  # the compiled spec is stored once for both versions
        assert db.session.execute(sa.text("SELECT count(*) FROM flow_specs")).scalar() == 2
    member = credit("member")
    instance = start(member, "100.00", process="quick")
    signers = sorted((t["assignee"], t["id"]) for t in instance["tasks"])
    assert [s for s, _ in signers] == ["rick", "rita"]
    act(credit("rick"), signers[0][1])
    done = act(credit("rita"), signers[1][1])
    assert done["instance"]["status"] == "completed"
    record = member.get(f"/apps/loan/entities/application/records/{instance['record_id']}")
    assert (record.get_json()["amount"], record.get_json()["risk_level"]) == ("200.00", "A")
    cc = credit("fred").get("/tasks?view=cc").get_json()
    assert cc["total"] == 1 and cc["items"][0]["instance"]["id"] == instance["id"]
    assert credit("fred").get(f"/instances/{instance['id']}").status_code == 200
