"""The rule editor in real Chromium: build "amount > 50,000 -> create a task for the risk
role", test it against records (one that matches, one that does not), save it (a new rule
is saved disabled), enable it, create a matching record through the record form, find the
run in the editor's run log, then log in as the risk officer and find the task in the
/inbox page (rule tasks are its second source, next to flow tasks) and complete it there.

Needs the record-write hook wired in RecordService (record_events.after_write)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

pytestmark = pytest.mark.browser

APP = "rule_lab"
LOAN = {"key": "loan", "label": "贷款", "fields": [
    {"key": "applicant", "label": "申请人", "type": "text", "required": True},
    {"key": "amount", "label": "金额", "type": "money", "currency": "CNY", "required": True},
]}
PASSWORD = "correct-horse-42"


@pytest.fixture(scope="module")
def lab(admin_api: APIRequestContext) -> dict[str, int]:
    assert admin_api.post("/api/v1/roles", data={"key": "risk", "name": "风控"}).status == 201
    user = admin_api.post("/api/v1/users", data={"username": "risk_officer",
                                                "password": PASSWORD, "roles": ["risk"]})
    assert user.status == 201, user.text()
    assert admin_api.post("/api/v1/apps", data={"key": APP, "name": "规则实验室"}).status == 201
    response = admin_api.post(f"/api/v1/apps/{APP}/entities", data=LOAN)
    assert response.status == 201, response.text()
    ids = {}
    for name, amount in (("big", "80000.00"), ("small", "100.00")):
        created = admin_api.post(f"/api/v1/apps/{APP}/entities/loan/records",
                                 data={"applicant": name, "amount": amount})
        assert created.status == 201, created.text()
        ids[name] = created.json()["id"]
    return ids


def test_build_test_enable_and_fire_a_rule(page: Page, login_as: Callable[..., None],
                                           api_as: Callable[[str], APIRequestContext],
                                           lab: dict[str, int], shot: Any) -> None:
    login_as(page, "admin")
    page.goto(f"/designer/apps/{APP}/rules/new")
    expect(page.locator("#rule-root[data-ready=true]")).to_be_attached()
    page.fill("#re-key", "big_loan")
    page.fill("#re-name", "大额贷款风控")
    page.select_option("#re-trigger", "record_created")
    page.select_option("#re-entity", "loan")

    page.click("#re-condition .cond-add-term")
    term = page.locator("#re-condition .cond-term").first
    term.locator(".cond-field").select_option("amount")
    expect(term.locator(".cond-op option")).to_have_count(10)  # money: 8 comparisons + empty
    term.locator(".cond-op").select_option("gt")
    term.locator("input.cond-value").fill("50,000")
    term.locator("input.cond-value").dispatch_event("change")

    page.select_option("#re-action-type", "create_task")
    page.click("#re-add-action")
    action = page.locator("#re-actions .rule-action[data-type=create_task]")
    action.locator("[data-prop=title]").fill("风险复核 {applicant} {amount}")
    action.locator("[data-prop=title]").dispatch_event("change")
    action.locator("[data-prop=assignee]").fill("role:risk")
    action.locator("[data-prop=assignee]").dispatch_event("change")

    # test the draft against a record that matches and one that does not
    page.fill("#re-test-record", str(lab["big"]))
    page.click("#re-test")
    expect(page.locator(".test-verdict.hit")).to_be_visible()
    expect(page.locator(".test-conditions li.held")).to_have_count(1)
    expect(page.locator(".test-actions li")).to_have_text(
        ["▶ create task '风险复核 {applicant} {amount}' for role:risk"])
    page.fill("#re-test-record", str(lab["small"]))
    page.click("#re-test")
    expect(page.locator(".test-verdict.miss")).to_be_visible()
    expect(page.locator(".test-conditions li.not-held")).to_have_count(1)

    page.click("#re-save")
    expect(page.locator("#re-status")).to_have_text("已保存 Saved v1")
    expect(page.locator("#re-state")).to_have_text("v1 · 停用 disabled")
    assert page.url.endswith(f"/designer/apps/{APP}/rules/big_loan")
    page.click("#re-toggle")
    expect(page.locator("#re-state")).to_have_text("v2 · 启用 enabled")
    shot(page, "rule_editor")

    stored = api_as("admin").get(f"/api/v1/apps/{APP}/rules/big_loan").json()
    assert stored["condition"] == {"all": [{"field": "amount", "op": "gt", "value": "50000"}]}
    assert stored["actions"] == [{"type": "create_task", "title": "风险复核 {applicant} {amount}",
                                  "assignee": "role:risk"}]
    assert stored["options"]["enabled"] is True and stored["version"] == 2

    # a matching record through the record form
    page.goto(f"/apps/{APP}/entities/loan/new")
    page.locator("#form-fields .fld[data-key=applicant] input").first.fill("张三")
    page.locator("#form-fields .fld[data-key=amount] input").first.fill("66,000.00")
    page.click("#record-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/apps/{APP}/entities/loan/\d+$"))

    tasks = api_as("risk_officer").get("/api/v1/rule-tasks").json()["items"]
    assert [(t["title"], t["assignee"], t["rule"]) for t in tasks] == [
        ("风险复核 张三 66,000.00", "role:risk", "big_loan")]
    assert api_as("member").get("/api/v1/rule-tasks").json()["total"] == 0

    page.goto(f"/designer/apps/{APP}/rules/big_loan")
    run = page.locator("#re-runs tbody tr")
    expect(run).to_have_count(1)
    expect(run.locator(".run-status")).to_have_text("ok")

    # the risk officer sees the task in the inbox (nav badge, count, row) and completes it
    page.context.clear_cookies()
    login_as(page, "risk_officer")
    expect(page.locator("#nav-todo-count")).to_have_text("1")
    page.goto("/inbox")
    expect(page.locator("[data-count=todo]")).to_have_text("1")
    row = page.locator(f"tr[data-rule-task='{tasks[0]['id']}']")
    expect(row.locator(".task-name")).to_have_text("风险复核 张三 66,000.00")
    expect(row).to_contain_text("big_loan")
    shot(page, "inbox_rule_task")
    row.locator("button.rule-done").click()
    expect(page.locator("#inbox-banner")).to_have_class("banner ok")
    expect(page.locator("[data-count=todo]")).to_have_text("0")
    expect(page.locator("[data-count=done]")).to_have_text("1")
    done = api_as("risk_officer").get("/api/v1/rule-tasks?state=done").json()["items"]
    assert [(t["id"], t["completed_by"]) for t in done] == [(tasks[0]["id"], "risk_officer")]
