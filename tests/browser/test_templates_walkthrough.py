"""The shipped templates in real Chromium, one walkthrough per app: the admin installs
the template (API), a clerk creates records (the generated form, and the REST API), an
approver approves in /inbox (credit) or resolves an exception task, and a manager opens
the template's dashboard, whose KPI numbers must equal sums computed here from what the
test itself entered.

Named to sort last: installing a template adds apps every member can use."""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

pytestmark = pytest.mark.browser
Login = Callable[..., None]
CREDIT = "credit_approval"
CREDIT_PEOPLE = {  # username: (roles, department, manager)
    "cr_mgr": (["member", "sales"], "cr_sales", None),
    "cr_sally": (["member", "sales"], "cr_sales", "cr_mgr"),
    "cr_fred": (["member", "finance_director"], "finance", None),
}


def add_people(admin_api: APIRequestContext, people: dict[str, Any]) -> None:
    for name, (roles, department, manager) in people.items():
        response = admin_api.post("/api/v1/users", data={
            "username": name, "password": "correct-horse-42", "roles": roles,
            "department": department, "manager": manager, "display_name": name})
        assert response.status == 201, response.text()


def install(admin_api: APIRequestContext, template: str) -> None:
    response = admin_api.post(f"/api/v1/templates/{template}/install", data={})
    assert response.status == 201, response.text()


def ok(response: Any, status: int = 201) -> Any:
    assert response.status == status, response.text()
    return response.json()


def kpi_values(page: Page, report: str) -> dict[str, Decimal]:
    cards = page.locator(f".dash-card[data-report={report}] .kpi")
    expect(cards.first).to_be_visible()
    values = {}
    for i in range(cards.count()):
        card = cards.nth(i)
        values[card.get_attribute("data-measure")] = Decimal(
            card.locator(".kpi-value").inner_text().replace(",", ""))
    return values


def test_credit_approval_walkthrough(page: Page, login_as: Login, admin_api: APIRequestContext,
                                     api_as: Callable[[str], APIRequestContext],
                                     shot: Callable) -> None:
    install(admin_api, CREDIT)
    add_people(admin_api, CREDIT_PEOPLE)

    # the clerk creates a customer through the generated form
    login_as(page, "cr_sally")
    page.goto(f"/apps/{CREDIT}/entities/customer/new")
    fields = page.locator("#form-fields")
    fields.locator(".fld[data-key=name] input").first.fill("福州恒通贸易有限公司")
    fields.locator(".fld[data-key=uscc] input").first.fill("91350100M000100Y43")
    page.select_option("#form-fields .fld[data-key=region] select", "华东")
    fields.locator(".fld[data-key=credit_limit] input").first.fill("500,000.00")
    fields.locator(".fld[data-key=used_credit] input").first.fill("120000.00")
    shot(page, "credit_customer_form")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("#record-form button[type=submit]")
    assert posted.value.status == 201
    sally = api_as("cr_sally")  # and a second one, with an application, through the API
    [first] = ok(sally.get(f"/api/v1/apps/{CREDIT}/entities/customer/records"), 200)["items"]
    assert (first["name"], first["credit_limit"], first["available_credit"]) == (
        "福州恒通贸易有限公司", "500000.00", "380000.00")
    second = ok(sally.post(f"/api/v1/apps/{CREDIT}/entities/customer/records", data={
        "name": "北京博远科技有限公司", "uscc": "91110000100006485K", "region": "华北",
        "credit_limit": "200000.00", "used_credit": "188000.00"}))
    application = ok(sally.post(f"/api/v1/apps/{CREDIT}/entities/credit_application/records",
                                data={"customer": second["id"], "requested_amount": "30000.00",
                                      "requested_term": 45, "reason": "旺季备货",
                                      "applicant_dept": "cr_sales"}))
    instance = ok(sally.post(f"/api/v1/apps/{CREDIT}/processes/credit_approval/instances",
                             data={"record_id": application["id"]}))
    [task] = instance["tasks"]
    assert task["assignee"] == "cr_mgr", task  # below 50,000: the department head

    # the approver approves in the inbox, writing the approved limit and term
    page.context.clear_cookies()
    login_as(page, "cr_mgr")
    page.goto("/inbox")
    expect(page.locator("[data-count=todo]")).to_have_text("1")
    shot(page, "credit_inbox")
    page.locator(f"tr[data-task] a[href='/tasks/{task['id']}']").click()
    page.locator("#task-fields [name=approved_limit]").fill("230000.00")
    page.locator("#task-fields [name=approved_term]").fill("45")
    page.click("[data-action=approve]")
    expect(page.locator("#task-state")).to_contain_text("已处理")
    shot(page, "credit_task_approved")
    customer = ok(sally.get(f"/api/v1/apps/{CREDIT}/entities/customer/records/{second['id']}"),
                  200)
    assert (customer["credit_limit"], customer["payment_term"]) == ("230000.00", 45)

    # the manager's dashboard: totals equal the figures entered above
    limit = Decimal("500000.00") + Decimal("230000.00")
    used = Decimal("120000.00") + Decimal("188000.00")
    page.context.clear_cookies()
    login_as(page, "cr_fred")
    page.goto(f"/apps/{CREDIT}/dashboards/credit_overview")
    expect(page.locator(".dash-card[data-report=credit_totals] .kpi")).to_have_count(3)
    assert kpi_values(page, "credit_totals") == {
        "credit_limit": limit, "used_credit": used, "available": limit - used}
    shot(page, "credit_dashboard")


SETTLEMENT = "customer_settlement"
SETTLEMENT_PEOPLE = {"st_fin": (["member", "finance"], "finance", None),
                     "st_mgr": (["member", "finance_manager"], "finance", None)}
DATA = Path(__file__).resolve().parents[1] / "templates" / "data"
ALIPAY_EXCEPTIONS = ("A3 amount_mismatch", "A4 missing_in_channel", "line 9 missing_in_ledger")


def _scenario() -> Any:
    """The bill scenario of the template tests (ledger rows, bill files, expectations)."""
    spec = importlib.util.spec_from_file_location("loom_browser_bill_scenario",
                                                  DATA / "make_bills.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settlement_walkthrough(page: Page, login_as: Login, admin_api: APIRequestContext,
                                api_as: Callable[[str], APIRequestContext],
                                shot: Callable) -> None:
    scenario = _scenario()
    install(admin_api, SETTLEMENT)
    add_people(admin_api, SETTLEMENT_PEOPLE)
    fin = api_as("st_fin")
    base = f"/api/v1/apps/{SETTLEMENT}"

    # the clerk enters the alipay ledger of the scenario day and imports its bill file
    refs = {}
    for ref, txn, order_no, amount, at, currency in scenario.LEDGER_PAYMENTS["alipay"]:
        refs[ref] = ok(fin.post(f"{base}/entities/payment/records", data={
            "channel": "alipay", "amount": amount, "currency": currency, "status": "success",
            "gateway_txn_id": txn or None, "order_no": order_no,
            "paid_at": f"{scenario.DAY}T{at}+08:00", "card": "4111 1111 1111 1111",
            "payer_ip": "36.110.1.20", "region": "上海"}))["id"]
    for _ref, payment_ref, refund_id, amount, at in scenario.LEDGER_REFUNDS.get("alipay", []):
        ok(fin.post(f"{base}/entities/refund/records", data={
            "channel": "alipay", "payment": refs[payment_ref], "amount": amount,
            "currency": "CNY", "status": "success", "gateway_refund_id": refund_id,
            "refunded_at": f"{scenario.DAY}T{at}+08:00", "order_no": f"ORD-{payment_ref}"}))
    name = scenario.FILES["alipay"][0]
    ok(fin.post(f"{base}/settlement/bills", multipart={"file": {
        "name": name, "mimeType": "text/csv", "buffer": (DATA / name).read_bytes()}}))
    batch = ok(fin.post(f"{base}/settlement/reconcile",
                        data={"channel": "alipay", "date": scenario.DAY}), 200)["batch"]
    # today's takings, for the KPI cards
    today = [Decimal("1288.00"), Decimal("356.50")]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    for i, amount in enumerate(today):
        ok(fin.post(f"{base}/entities/payment/records", data={
            "channel": "wechat", "amount": f"{amount:.2f}", "currency": "CNY",
            "status": "success", "gateway_txn_id": f"WT-TODAY-{i}", "order_no": f"T-{i}",
            "paid_at": now, "card": "4111 1111 1111 1111", "payer_ip": "36.110.1.20",
            "region": "上海"}))

    # the alipay exceptions, worked out by hand from the scenario (as in the template
    # tests): A3 amount mismatch (line 8), A4 missing in channel, line 9 missing in ledger
    expected_open = len(ALIPAY_EXCEPTIONS)
    assert (batch["amount_mismatch_count"], batch["missing_in_channel_count"],
            batch["missing_in_ledger_count"]) == (1, 1, 1)

    # the finance clerk resolves one exception task in the inbox (confirm)
    login_as(page, "st_fin")
    page.goto("/inbox")
    expect(page.locator("[data-count=todo]")).to_have_text(str(expected_open))
    shot(page, "settlement_inbox")
    tasks = ok(fin.get("/api/v1/tasks?view=todo"), 200)["items"]
    mismatch = next(t for t in tasks if ok(fin.get(
        f"{base}/entities/recon_exception/records/{t['record_id']}"), 200)[
        "exception_type"] == "amount_mismatch")
    page.locator(f"tr[data-task] a[href='/tasks/{mismatch['id']}']").click()
    page.select_option("#task-fields [name=resolution]", "confirm")
    page.locator("#task-fields [name=note]").fill("核对渠道流水，金额以渠道为准")
    page.click("[data-action=approve]")
    expect(page.locator("#task-state")).to_contain_text("已处理")
    shot(page, "settlement_task_resolved")
    resolved = ok(fin.get(f"{base}/entities/recon_exception/records/"
                          f"{mismatch['record_id']}"), 200)
    assert resolved["status"] == "resolved"

    # the finance manager's dashboard
    page.context.clear_cookies()
    login_as(page, "st_mgr")
    page.goto(f"/apps/{SETTLEMENT}/dashboards/settlement_overview")
    expect(page.locator(".dash-card[data-report=pay_today] .kpi")).to_have_count(3)
    paid = kpi_values(page, "pay_today")
    assert (paid["total"], paid["count"]) == (sum(today), len(today))
    assert paid["average"] == (sum(today) / len(today)).quantize(Decimal("0.01"))
    opened = kpi_values(page, "open_exceptions")
    assert opened["count"] == expected_open - 1
    shot(page, "settlement_dashboard")
