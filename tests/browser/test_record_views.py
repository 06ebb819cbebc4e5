"""Record views generated from an entity definition, in real Chromium: the create form with
client-side checks and the server's 422 next to the right field, the relation picker,
line items, conditions, the detail page with its History tab, optimistic locking on edit,
the list's new button / row links / column chooser / filters, and CSV import with a bad
row reported by its line number.

Expected values are written out here (or read back through the REST API), never taken
from what the page showed earlier."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

pytestmark = pytest.mark.browser

APP = "views_lab"
Login = Callable[..., None]
CUSTOMER = {"key": "customer", "label": "客户", "fields": [
    {"key": "name", "label": "客户名称", "type": "text", "required": True},
    {"key": "level", "label": "等级", "type": "select", "options": ["A", "B"]},
]}
LOAN = {
    "key": "loan", "label": "授信申请", "title_field": "title",
    "fields": [
        {"key": "title", "label": "申请标题", "type": "text", "required": True, "max_length": 40},
        {"key": "customer", "label": "客户", "type": "relation", "target": "customer"},
        {"key": "amount", "label": "申请金额", "type": "money", "currency": "CNY",
         "required": True, "min": "0", "max": "5000000"},
        {"key": "term", "label": "期限(月)", "type": "number", "min": 1, "max": 60},
        {"key": "kind", "label": "类型", "type": "select", "options": ["流动资金", "固定资产"]},
        {"key": "secured", "label": "有担保", "type": "boolean"},
        {"key": "collateral", "label": "担保说明", "type": "textarea",
         "visible_if": "secured = true"},
        {"key": "email", "label": "联系邮箱", "type": "email"},
        {"key": "owner", "label": "客户经理", "type": "user"},
        {"key": "items", "label": "用款计划", "type": "subtable", "fields": [
            {"key": "purpose", "label": "用途", "type": "text", "required": True},
            {"key": "amt", "label": "金额", "type": "money"}]},
        {"key": "total", "label": "计划合计", "type": "formula", "formula": "sum(items.amt)"},
    ],
    "layout": {"sections": [
        {"title": "基本信息", "columns": 2, "fields": ["title", "customer", "amount", "term",
                                                    "kind", "secured", "collateral", "email",
                                                    "owner"]},
        {"title": "用款计划", "columns": 1, "fields": ["items", "total"]}]},
}
PAYEE = {"key": "payee", "label": "收款方", "fields": [
    {"key": "name", "label": "名称", "type": "text", "required": True},
    {"key": "amount", "label": "金额", "type": "money"},
]}


@pytest.fixture(scope="module")
def views(admin_api: APIRequestContext) -> dict[str, Any]:
    response = admin_api.post("/api/v1/apps", data={"key": APP, "name": "记录视图测试"})
    assert response.status == 201, response.text()
    for entity in (CUSTOMER, LOAN, PAYEE):
        response = admin_api.post(f"/api/v1/apps/{APP}/entities", data=entity)
        assert response.status == 201, response.text()
    ids = {}
    for name in ("华为技术有限公司", "招商银行股份有限公司"):
        response = admin_api.post(f"/api/v1/apps/{APP}/entities/customer/records",
                                  data={"name": name, "level": "A"})
        assert response.status == 201, response.text()
        ids[name] = response.json()["id"]
    return {"customers": ids, "loan_api": f"/api/v1/apps/{APP}/entities/loan/records",
            "loan_page": f"/apps/{APP}/entities/loan"}


def field(page: Page, key: str, control: str = "input") -> Any:
    return page.locator(f"#form-fields .fld[data-key={key}] {control}").first


def error_of(page: Page, key: str) -> Any:
    return page.locator(f"#form-fields .fld[data-key={key}] .fld-error")


def submit(page: Page) -> None:
    page.click("#record-form button[type=submit]")


def test_create_through_the_generated_form(page: Page, login_as: Login,
                                           views: dict[str, Any],
                                           admin_api: APIRequestContext,
                                           shot: Callable) -> None:
    login_as(page, "member")
    page.goto(views["loan_page"])
    page.click("#new-record")
    page.wait_for_url(re.compile(r"/apps/views_lab/entities/loan/new$"))
    expect(page.locator("#form-fields .form-section .section-title")).to_have_text(
        ["基本信息", "用款计划"])

    # client-side checks, each message next to its own field
    submit(page)
    expect(error_of(page, "title")).to_have_text("必填")
    expect(error_of(page, "amount")).to_have_text("必填")
    field(page, "title").fill("很" * 41)
    field(page, "amount").fill("12.345")
    field(page, "term").fill("99")
    field(page, "email").fill("not-an-email")
    submit(page)
    expect(error_of(page, "title")).to_have_text("最多 40 个字")
    expect(error_of(page, "amount")).to_have_text("最多 2 位小数")
    expect(error_of(page, "term")).to_have_text("不能大于 60")
    expect(error_of(page, "email")).to_have_text("请输入有效的邮箱")
    expect(page.locator("#form-banner")).to_have_text("请修正标出的 4 处问题")
    shot(page, "record_form_client_errors")

    # the server's 422 (an unknown user: only the server can tell) lands next to the field
    field(page, "title").fill("华为流动资金授信")
    field(page, "amount").fill("1,200,000.50")
    field(page, "term").fill("12")
    field(page, "email").fill("cfo@huawei.example")
    field(page, "owner").fill("ghost")
    page.select_option("#form-fields .fld[data-key=kind] select", "流动资金")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        submit(page)
    assert posted.value.status == 422
    expect(error_of(page, "owner")).to_contain_text("no user 'ghost'")
    for key in ("title", "amount", "term", "email"):
        expect(error_of(page, key)).to_be_empty()
    shot(page, "record_form_server_error")
    field(page, "owner").fill("member")

    # the condition shows the collateral box only when secured is ticked
    expect(page.locator("#form-fields .fld[data-key=collateral]")).to_be_hidden()
    field(page, "secured").check()
    expect(page.locator("#form-fields .fld[data-key=collateral]")).to_be_visible()
    field(page, "collateral", "textarea").fill("深圳房产抵押")

    # relation picker: search the target entity, pick the match
    picker = field(page, "customer", "input[type=search]")
    picker.fill("华为")
    option = page.locator("#form-fields .fld[data-key=customer] .picker-menu li[data-id]")
    expect(option).to_have_count(1)
    expect(option).to_contain_text("华为技术有限公司")
    option.click()
    expect(page.locator("#form-fields .fld[data-key=customer] .chip")).to_contain_text(
        "华为技术有限公司")

    # line items: a row with a missing required cell is flagged in that cell
    add_row = page.locator("#form-fields .fld[data-key=items] .add-row")
    add_row.click()
    add_row.click()
    rows = page.locator("#form-fields .subtable tbody tr")
    expect(rows).to_have_count(2)
    rows.nth(0).locator("td[data-column=purpose] input").fill("采购原材料")
    rows.nth(0).locator("td[data-column=amt] input").fill("500.00")
    rows.nth(1).locator("td[data-column=amt] input").fill("250.50")
    submit(page)
    expect(rows.nth(1).locator("td[data-column=purpose] .cell-error")).to_have_text("必填")
    rows.nth(1).locator("td[data-column=purpose] input").fill("支付工资")
    add_row.click()
    rows.nth(2).locator("button").click()  # remove the spare row again
    expect(rows).to_have_count(2)
    submit(page)

    page.wait_for_url(re.compile(r"/apps/views_lab/entities/loan/\d+$"))
    record_id = int(page.url.rsplit("/", 1)[1])
    stored = admin_api.get(f"{views['loan_api']}/{record_id}").json()
    assert stored["title"] == "华为流动资金授信"
    assert stored["amount"] == "1200000.50"
    assert stored["customer"] == views["customers"]["华为技术有限公司"]
    assert stored["items"] == [{"purpose": "采购原材料", "amt": "500.00"},
                               {"purpose": "支付工资", "amt": "250.50"}]
    assert stored["collateral"] == "深圳房产抵押"
    assert stored["owner"] == "member" and stored["created_by"] == "member"

    detail = page.locator("#tab-details")
    expect(page.locator("#record-title")).to_have_text("华为流动资金授信")
    expect(detail.locator(".detail-item[data-key=amount] dd")).to_have_text(
        "CNY 1,200,000.50")
    expect(detail.locator(".detail-item[data-key=customer] .chip")).to_have_text(
        "华为技术有限公司")
    expect(detail.locator(".detail-item[data-key=total] dd")).to_have_text("750.50")
    expect(detail.locator(".detail-item[data-key=items] tbody tr")).to_have_count(2)
    shot(page, "record_detail")

    page.click(".tab[data-tab=history]")
    entries = page.locator("#history-list .history-item")
    expect(entries).to_have_count(1)
    expect(entries.first.locator(".badge")).to_have_text("创建")
    expect(entries.first.locator("strong")).to_have_text("member")
    expect(entries.first.locator("tr[data-field=title] td.after")).to_have_text(
        "华为流动资金授信")

    page.goto(views["loan_page"])
    row = page.locator(f"table.grid tbody tr[data-id='{record_id}']")
    expect(row).to_contain_text("华为流动资金授信")
    row.locator("td").nth(1).click()
    page.wait_for_url(re.compile(rf"/loan/{record_id}$"))


def test_edit_refuses_a_stale_version_then_history_shows_both_changes(
        page: Page, login_as: Login, views: dict[str, Any], admin_api: APIRequestContext,
        shot: Callable) -> None:
    created = admin_api.post(views["loan_api"], data={"title": "招行授信", "amount": "300.00"})
    assert created.status == 201, created.text()
    record_id = created.json()["id"]
    login_as(page, "member")
    page.goto(f"{views['loan_page']}/{record_id}")
    page.click("#edit-link")
    page.wait_for_url(re.compile(rf"/loan/{record_id}/edit$"))
    expect(field(page, "amount")).to_have_value("300.00")
    field(page, "amount").fill("350.00")
    # someone else saves first
    assert admin_api.patch(f"{views['loan_api']}/{record_id}",
                           data={"term": 24}).status == 200
    with page.expect_response(lambda r: r.request.method == "PATCH") as patched:
        submit(page)
    assert patched.value.status == 409
    expect(page.locator("#form-banner")).to_contain_text("已被他人修改")
    shot(page, "record_edit_conflict")
    page.locator("#form-banner button").click()  # reload
    expect(field(page, "term")).to_have_value("24")
    field(page, "amount").fill("350.00")
    submit(page)
    page.wait_for_url(re.compile(rf"/loan/{record_id}$"))
    stored = admin_api.get(f"{views['loan_api']}/{record_id}").json()
    assert (stored["amount"], stored["term"], stored["version"]) == ("350.00", 24, 3)

    page.click(".tab[data-tab=history]")
    entries = page.locator("#history-list .history-item")
    expect(entries).to_have_count(3)
    expect(entries.locator(".badge")).to_have_text(["修改", "修改", "创建"])
    expect(entries.nth(0).locator("strong")).to_have_text("member")
    expect(entries.nth(0).locator("tbody tr")).to_have_count(1)  # only what was edited
    newest = entries.nth(0).locator("tr[data-field=amount]")
    expect(newest.locator("td.before")).to_have_text("CNY 300.00")
    expect(newest.locator("td.after")).to_have_text("CNY 350.00")
    expect(entries.nth(1).locator("strong")).to_have_text("admin")
    expect(entries.nth(1).locator("tr[data-field=term] td.after")).to_have_text("24")
    shot(page, "record_history")


def test_list_columns_and_filters(page: Page, login_as: Login, views: dict[str, Any],
                                  admin_api: APIRequestContext) -> None:
    api = f"/api/v1/apps/{APP}/entities/payee/records"
    for name, amount in (("甲公司", "50.00"), ("乙公司", "150.00"), ("丙公司", "900.00")):
        assert admin_api.post(api, data={"name": name, "amount": amount}).status == 201
    login_as(page, "admin")
    page.goto(f"/apps/{APP}/entities/payee")
    headers = page.locator("table.grid thead th")
    expect(headers).to_have_text(["#", "名称", "金额"])
    rows = page.locator("table.grid tbody tr")
    expect(rows).to_have_count(3)

    page.click("#column-menu summary")
    page.locator("#column-chooser input[value=name]").uncheck()
    expect(headers).to_have_text(["#", "金额"])
    page.reload()
    expect(headers).to_have_text(["#", "金额"])  # remembered
    page.click("#column-menu summary")
    page.locator("#column-chooser input[value=name]").check()
    expect(headers).to_have_text(["#", "名称", "金额"])

    page.click("#filter-menu summary")
    page.select_option("#filter-form select[name=field]", "amount")
    page.select_option("#filter-form select[name=op]", "gt")
    page.fill("#filter-form input[name=value]", "100")
    page.click("#filter-form button[type=submit]")
    expect(page.locator("#filter-bar .filter-chip")).to_contain_text("金额 > 100")
    expect(rows.locator("td:nth-child(2)")).to_have_text(["丙公司", "乙公司"])
    page.locator("#filter-bar .chip-x").click()
    expect(rows).to_have_count(3)


CSV_WITH_ONE_BAD_ROW = "名称,金额\n丁公司,10.00\n戊公司,abc\n己公司,20.50\n".encode()


def test_import_reports_the_bad_row_then_skips_it(page: Page, login_as: Login,
                                                  views: dict[str, Any],
                                                  admin_api: APIRequestContext,
                                                  shot: Callable) -> None:
    api = f"/api/v1/apps/{APP}/entities/payee/records"
    before = admin_api.get(api).json()["total"]
    login_as(page, "admin")
    page.goto(f"/apps/{APP}/entities/payee")
    page.click("#open-import")
    upload = {"name": "payees.csv", "mimeType": "text/csv", "buffer": CSV_WITH_ONE_BAD_ROW}
    page.set_input_files("#import-form input[name=file]", upload)
    page.click("#import-start")
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("未导入：1 行有问题")
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first).to_have_attribute("data-row", "3")  # line 3 of the file
    expect(errors.first.locator("td").nth(1)).to_have_text("金额")
    shot(page, "import_bad_row")
    assert admin_api.get(api).json()["total"] == before  # all or nothing: nothing kept

    page.set_input_files("#import-form input[name=file]", upload)
    page.select_option("#import-form select[name=mode]", "skip_bad_rows")
    page.click("#import-start")
    expect(summary).to_contain_text("已导入 2 行，跳过 1 行")
    expect(errors).to_have_count(1)
    page.click("#import-close")
    names = {r["name"] for r in admin_api.get(api, params={"limit": 100}).json()["items"]}
    assert {"丁公司", "己公司"} <= names and "戊公司" not in names
    expect(page.locator("#total")).to_have_text(f"共 {before + 2} 条 · {before + 2} records")

