"""Approval flows in real Chromium: build a two-level approval with a condition branch in
the approval designer (amount >= 50,000 -> approver A then B, else A), see a server error
land on its branch, simulate, publish; approve as A from the inbox (task page with the
step's field permissions, and batch approve), reject as B, read the history and the
progress diagram; open the BPMN in the modeler, set a due date and deploy it again.

Expectations about what was stored are read back from the REST API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

pytestmark = pytest.mark.browser

APP = {"key": "approvals", "name": "费用审批", "description": "approval flows"}
ENTITY = {"key": "expense", "label": "费用", "fields": [
    {"key": "title", "label": "事由", "type": "text", "required": True},
    {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"},
    {"key": "note", "label": "审批备注", "type": "textarea"},
    {"key": "cost_code", "label": "成本中心", "type": "text"},
]}
PEOPLE = ("lead_a", "lead_b")  # approver A and approver B
Login = Callable[..., None]


@pytest.fixture(scope="module")
def lab(admin_api: APIRequestContext) -> dict[str, Any]:
    for name in PEOPLE:
        response = admin_api.post("/api/v1/users", data={
            "username": name, "password": "correct-horse-42", "roles": ["member"],
            "display_name": name.upper()})
        assert response.status == 201, response.text()
    assert admin_api.post("/api/v1/apps", data=APP).status == 201
    response = admin_api.post(f"/api/v1/apps/{APP['key']}/entities", data=ENTITY)
    assert response.status == 201, response.text()
    return {"app": APP["key"]}


def watch_errors(page: Page) -> list[str]:
    """Script errors and CSP refusals on the page (each must stay empty)."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" and
            "status of 4" not in msg.text else None)
    return problems


def add_node(page: Page, slot: Any, node_type: str) -> None:
    slot.locator(".add-node").click()
    slot.locator(f".add-menu [data-add={node_type}]").click()


def set_approver(page: Page, name: str, user: str) -> None:
    page.fill("[name=prop-name]", name)
    page.select_option("[name=prop-assignee-kind]", "user")
    page.fill("[name=prop-assignee-value]", user)


def switch_user(page: Page, login_as: Login, username: str) -> None:
    page.context.clear_cookies()
    login_as(page, username)


def start_instance(api: APIRequestContext, amount: str) -> dict[str, Any]:
    record = api.post("/api/v1/apps/approvals/entities/expense/records", data={
        "title": f"差旅 {amount}", "amount": amount, "cost_code": "CC-7"})
    assert record.status == 201, record.text()
    started = api.post("/api/v1/apps/approvals/processes/expense_flow/instances",
                       data={"record_id": record.json()["id"]})
    assert started.status == 201, started.text()
    return started.json()


def build_in_designer(page: Page, shot: Any) -> None:
    page.goto("/designer/apps/approvals/processes/new")
    page.fill("#process-name", "费用审批")
    page.fill("#process-key", "expense_flow")
    page.select_option("#process-entity", "expense")
    # choosing the form loads its fields and redraws the canvas: let that finish first
    page.wait_for_load_state("networkidle")
    root = page.locator("#flow-canvas > .flow-list")
    add_node(page, root.locator(":scope > .add-slot").last, "condition")
    expect(page.locator(".branch")).to_have_count(2)
    # a condition the sandbox refuses: the server's 422 lands on that branch
    page.locator(".branch-head").first.click()
    page.fill("[name=prop-condition]", "__import__('os')")
    big = page.locator(".branch[data-index='0'] > .flow-list")
    add_node(page, big.locator(":scope > .add-slot").first, "approver")
    set_approver(page, "一级审批", "lead_a")
    page.select_option("[name=perm-note]", "edit")
    page.check("[name=perm-required-note]")
    page.select_option("[name=perm-cost_code]", "hidden")
    add_node(page, big.locator(":scope > .add-slot").last, "approver")
    set_approver(page, "二级审批", "lead_b")
    small = page.locator(".branch[data-index='1'] > .flow-list")
    add_node(page, small.locator(":scope > .add-slot").first, "approver")
    set_approver(page, "一级审批", "lead_a")
    page.click("#publish")
    expect(page.locator(".branch-head.has-error")).to_have_count(1)
    expect(page.locator(".branch-head.has-error .node-error")).to_contain_text("_")
    # the builder writes the condition in minor units: 50,000.00 CNY -> 5000000
    page.locator(".branch-head").first.click()
    page.select_option("[name=cond-field]", "amount")
    page.select_option("[name=cond-op]", ">=")
    page.fill("[name=cond-value]", "50000")
    page.click("[name=cond-build]")
    expect(page.locator("[name=prop-condition]")).to_have_value("amount >= 5000000")
    # simulation: 80,000 takes both levels; nothing is stored
    page.click("#simulate")
    page.fill("#sim-fields [name=title]", "模拟")
    page.fill("#sim-fields [name=amount]", "80000")
    page.click("#sim-run")
    steps = page.locator(".sim-step")
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_contain_text("lead_a")
    expect(steps.nth(1)).to_contain_text("lead_b")
    expect(page.locator(".sim-outcome")).to_have_attribute("data-status", "completed")
    page.fill("#sim-fields [name=amount]", "100")
    page.select_option("[name=decision-approver_3]", "reject")
    page.click("#sim-run")
    expect(page.locator(".sim-outcome")).to_have_attribute("data-status", "rejected")
    expect(page.locator(".sim-step")).to_have_count(1)
    shot(page, "approval_designer_simulation")
    page.click("#sim-dialog button[value=cancel]")
    page.click("#publish")
    expect(page.locator("#designer-banner")).to_have_class("banner ok")
    expect(page.locator("#version-badge")).to_have_text("v1")
    shot(page, "approval_designer")


def test_two_level_approval_designed_approved_rejected_and_modeled(
        page: Page, lab: dict[str, Any], login_as: Login, api_as: Callable[..., Any],
        shot: Any) -> None:
    problems = watch_errors(page)
    login_as(page, "designer")
    build_in_designer(page, shot)
    designer = api_as("designer")
    process = designer.get("/api/v1/apps/approvals/processes/expense_flow").json()
    condition = process["nodes"][1]
    assert condition["type"] == "condition"
    big, small = condition["settings"]["branches"]
    assert big["condition"] == "amount >= 5000000" and small["default"] is True
    assert [(n["name"], n["settings"]["assignee"]) for n in big["nodes"]] == [
        ("一级审批", {"kind": "user", "value": "lead_a"}),
        ("二级审批", {"kind": "user", "value": "lead_b"})]
    assert big["nodes"][0]["settings"]["field_permissions"] == [
        {"key": "note", "access": "edit", "required": True},
        {"key": "cost_code", "access": "hidden"}]

    member = api_as("member")
    large = start_instance(member, "80000.00")
    small_one = start_instance(member, "100.00")

    # approver A: the nav count, the inbox, the task page with this step's permissions
    switch_user(page, login_as, "lead_a")
    expect(page.locator("#nav-todo-count")).to_have_text("2")
    page.goto("/inbox")
    expect(page.locator("[data-count=todo]")).to_have_text("2")
    page.locator(f"tr[data-task] a[href='/tasks/{large['tasks'][0]['id']}']").click()
    expect(page.locator("#task-fields [name=note]")).to_be_enabled()
    expect(page.locator("#task-fields [name=title]")).to_be_disabled()
    expect(page.locator("#task-fields [data-key=cost_code]")).to_have_count(0)
    page.click("[data-action=approve]")  # the step requires a note
    expect(page.locator("[data-key=note].invalid")).to_have_count(1)
    page.fill("#task-fields [name=note]", "预算内")
    page.fill("#task-comment", "一级同意")
    page.click("[data-action=approve]")
    expect(page.locator("#task-state")).to_contain_text("已处理")
    expect(page.locator(".tl-item[data-action=approve]")).to_have_count(1)
    shot(page, "task_approved_by_a")
    # batch approve the small one from the inbox (its only step asks for no input)
    page.goto("/inbox")
    expect(page.locator("tr[data-task]")).to_have_count(1)
    shot(page, "inbox")
    page.check("input[name=pick]")
    page.click("#batch-approve")
    expect(page.locator("#inbox-banner")).to_have_class("banner ok")
    expect(page.locator("[data-count=todo]")).to_have_text("0")
    expect(page.locator("[data-count=done]")).to_have_text("2")
    assert member.get(f"/api/v1/instances/{small_one['id']}").json()["status"] == "completed"

    # approver B rejects; the diagram marks A's step done and B's current
    switch_user(page, login_as, "lead_b")
    page.goto("/inbox")
    page.locator("tr[data-task] a", has_text="二级审批").click()
    diagram = page.locator("#task-diagram")
    expect(diagram).to_have_attribute("data-rendered", "true")
    expect(diagram.locator(".djs-element.flow-done[data-element-id=approver_1]")).to_have_count(1)
    expect(diagram.locator(".djs-element.flow-current[data-element-id=approver_2]")).to_have_count(1)
    expect(page.locator("#task-fields [name=note]")).to_have_value("预算内")
    page.fill("#task-comment", "超出预算")
    page.click("[data-action=reject]")
    expect(page.locator("#task-state")).to_contain_text("已处理")
    view = member.get(f"/api/v1/instances/{large['id']}").json()
    assert view["status"] == "rejected"
    assert [(h["action"], h["actor"]) for h in view["history"]] == [
        ("start", "member"), ("approve", "lead_a"), ("reject", "lead_b"), ("rejected", "lead_b")]

    # the initiator sees the history on the instance page; others get a 403 page
    switch_user(page, login_as, "member2")
    assert page.goto(f"/instances/{large['id']}").status == 403
    assert page.goto("/designer/apps/approvals/processes/new").status == 403
    switch_user(page, login_as, "member")
    page.goto(f"/instances/{large['id']}")
    expect(page.locator("#instance-status [data-status=rejected]")).to_have_count(1)
    timeline = page.locator("#instance-history .tl-item")
    expect(timeline).to_have_count(4)
    expect(timeline.nth(2)).to_contain_text("lead_b")
    expect(timeline.nth(2)).to_contain_text("超出预算")
    shot(page, "instance_history")

    # the compiled BPMN in the modeler: user tasks drawn, a due date set, deployed again
    switch_user(page, login_as, "designer")
    page.goto("/designer/apps/approvals/processes/expense_flow/bpmn")
    expect(page.locator("#bpmn-modeler")).to_have_attribute("data-loaded", "true")
    for task in ("approver_1", "approver_2", "approver_3"):
        expect(page.locator(f".djs-shape[data-element-id={task}]")).to_have_count(1)
    page.locator(".djs-shape[data-element-id=approver_2]").click()
    expect(page.locator("[name=bpmn-assignment-value]")).to_have_value("lead_b")
    page.fill("[name=bpmn-due-date]", "2030-01-31T18:00:00+08:00")
    page.locator("[name=bpmn-due-date]").press("Tab")
    page.click("#save")
    expect(page.locator("#version-badge")).to_have_text("v2")
    shot(page, "bpmn_modeler")
    deployed = designer.get("/api/v1/apps/approvals/processes/expense_flow").json()
    assert deployed["source_kind"] == "bpmn"
    second = next(t for t in deployed["user_tasks"] if t["node_id"] == "approver_2")
    assert second["due_date"] == "2030-01-31T18:00:00+08:00"
    assert second["assignments"] == [{"kind": "user", "value": "lead_b"}]
    import_from_disk(page, deployed["bpmn_xml"])
    assert designer.get("/api/v1/apps/approvals/processes/imported").json()["version"] == 1
    page.goto("/apps/approvals")
    expect(page.locator(".process-card")).to_have_count(2)
    shot(page, "app_processes")
    assert problems == []


def import_from_disk(page: Page, xml: str) -> None:
    """A new process from a .bpmn file: a refused condition is marked on its element,
    then the fixed file deploys as version 1."""
    page.goto("/designer/apps/approvals/processes/new/bpmn")
    expect(page.locator("#bpmn-modeler")).to_have_attribute("data-loaded", "true")
    page.fill("#process-key", "imported")
    page.fill("#process-name", "导入的流程")
    bad = xml.replace("amount &gt;= 5000000", "__import__('os')")
    assert bad != xml
    for text in (bad, xml):
        page.set_input_files("#import-file", files=[{
            "name": "expense.bpmn", "mimeType": "application/xml", "buffer": text.encode()}])
        expect(page.locator(".djs-shape[data-element-id=approver_3]")).to_have_count(1)
        page.click("#save")
        if text is bad:
            expect(page.locator("#modeler-banner")).to_contain_text("__import__")
            expect(page.locator(".djs-element.flow-error")).to_have_count(1)
    expect(page.locator("#version-badge")).to_have_text("v1")
