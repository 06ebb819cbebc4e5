"""The form designer in real Chromium: create a form, drag field types from the palette onto
the canvas (real mouse drags through SortableJS), edit properties, see the live formula
check, reorder, publish through the schema-change plan dialog, and hide a field.

Every expectation about the stored definition is read back from the REST API, so the test
checks what the server kept, not what the page shows."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import APIRequestContext, Locator, Page, expect

pytestmark = pytest.mark.browser

APP = {"key": "designer_lab", "name": "表单设计测试", "description": "designer"}
Login = Callable[..., None]


@pytest.fixture(scope="module")
def lab(admin_api: APIRequestContext) -> dict[str, Any]:
    response = admin_api.post("/api/v1/apps", data=APP)
    assert response.status == 201, response.text()
    return {"app": APP["key"]}


def drag_to_point(page: Page, source: Locator, x: float, y: float) -> None:
    """A real drag: press on ``source``, move in small steps (SortableJS's fallback mode
    reacts to pointer moves, not to a teleport), release at (x, y)."""
    start = source.bounding_box()
    assert start
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 12, start["y"] + start["height"] / 2 + 8,
                    steps=4)
    page.mouse.move(x, y, steps=12)
    page.mouse.move(x + 2, y + 1, steps=2)
    page.mouse.up()


def drag(page: Page, source: Locator, target: Locator, *, side: str = "right") -> None:
    """Drag ``source`` onto the left or right part of ``target`` (in a multi-column
    section that decides before/after)."""
    end = target.bounding_box()
    assert end
    drag_to_point(page, source, end["x"] + (end["width"] - 14 if side == "right" else 14),
                  end["y"] + end["height"] / 2)


def drag_to_end(page: Page, source: Locator) -> None:
    """Drop below the last card of the first section: SortableJS appends there."""
    section = page.locator(".section-fields").first
    cards = section.locator(".field-card")
    box = section.bounding_box()
    assert box
    if not cards.count():
        drag_to_point(page, source, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        return
    last = cards.last.bounding_box()
    assert last
    drag_to_point(page, source, last["x"] + last["width"] / 2, box["y"] + box["height"] - 10)


def canvas_keys(page: Page) -> list[str]:
    return page.locator(".canvas .field-card").evaluate_all(
        "cards => cards.map(card => card.dataset.key)")


def add_field(page: Page, field_type: str, key: str, label: str) -> None:
    """Drag a palette item to the end of the canvas and name it in the property panel
    the drop opens."""
    before = page.locator(".canvas .field-card").count()
    drag_to_end(page, page.locator(f".palette-item[data-type={field_type}]"))
    expect(page.locator(".canvas .field-card")).to_have_count(before + 1)
    selected = page.locator(".field-card.selected")
    expect(selected.locator(".type-tag")).to_be_visible()
    page.fill("[name=prop-key]", key)
    page.locator(".prop-row[data-prop=label] input").fill(label)
    expect(page.locator(f".field-card.selected[data-key={key}]")).to_contain_text(label)


def test_design_publish_and_hide_a_field(page: Page, login_as: Login, lab: dict[str, Any],
                                         admin_api: APIRequestContext,
                                         shot: Callable) -> None:
    login_as(page, "designer")
    page.goto(f"/apps/{lab['app']}")
    page.click("#new-form")
    page.fill("#new-label", "授信申请")
    page.fill("#new-key", "Bad Key")
    page.click("#designer-new button[type=submit]")
    expect(page.locator("#designer-new .fld-error")).to_contain_text("小写字母")
    page.fill("#new-key", "credit_app")
    page.click("#designer-new button[type=submit]")
    page.wait_for_url(re.compile(r"/designer/apps/designer_lab/entities/credit_app$"))
    expect(page.locator(".section-fields")).to_have_count(1)
    expect(page.locator(".palette-group h3")).to_have_text(
        ["基础字段", "选择", "数字与金额", "日期时间", "关联与子表", "高级字段"])
    expect(page.locator(".palette-item")).to_have_count(20)  # one per registered type

    add_field(page, "text", "customer_name", "客户名称")
    page.check("[name=prop-required]")
    add_field(page, "money", "amount", "申请金额")
    page.check("[name=prop-required]")
    page.fill("[name=prop-min]", "0")
    page.fill("[name=prop-max]", "1000000")
    add_field(page, "select", "product", "产品")
    options = page.locator(".prop-row[data-prop=options] .option-item")
    expect(options).to_have_count(3)
    options.nth(0).locator("input").first.fill("流动资金贷")
    options.nth(1).locator("input").first.fill("银行承兑")
    options.nth(2).locator("button").click()
    expect(options).to_have_count(2)
    expect(page.locator(".field-card[data-key=product] .mock-choices span")).to_have_text(
        ["流动资金贷", "银行承兑"])

    # a formula with a syntax error: the live dry-run check puts the server's message under
    # the box and on the canvas card; fixing it turns the verdict green
    add_field(page, "formula", "fee", "手续费")
    formula = page.locator("[name=prop-formula]")
    formula.fill("amount *")
    error = page.locator(".prop-row[data-prop=formula] .prop-error")
    expect(error).to_contain_text("expected a value")
    expect(page.locator(".field-card[data-key=fee]")).to_have_class(re.compile("has-error"))
    expect(page.locator(".field-card[data-key=fee] .field-error")).to_contain_text(
        "expected a value")
    shot(page, "designer_formula_error")
    page.select_option(".prop-row[data-prop=formula] select >> nth=0", "amount")
    formula.fill("")
    page.select_option(".prop-row[data-prop=formula] select >> nth=0", "amount")
    formula.press("End")
    formula.type(" * 0.01")
    expect(formula).to_have_value("amount * 0.01")
    expect(page.locator(".prop-row[data-prop=formula] .expr-status.ok")).to_be_visible()
    expect(error).to_be_empty()
    expect(page.locator(".field-card[data-key=fee]")).not_to_have_class(re.compile("has-error"))

    # drag to reorder: the select card moves in front of the first card
    order_before = canvas_keys(page)
    assert order_before == ["customer_name", "amount", "product", "fee"]
    drag(page, page.locator(".field-card[data-key=product]"),
         page.locator(".field-card[data-key=customer_name]"), side="left")
    expect(page.locator(".canvas .field-card").first).to_have_attribute("data-key", "product")
    order = canvas_keys(page)
    assert sorted(order) == sorted(order_before) and order[0] == "product"

    # the section gets a title and three columns
    page.click(".section-head")
    page.fill("[name=prop-section-title]", "申请信息")
    page.click(".prop-row[data-prop=columns] .segmented button:text-is('3')")
    expect(page.locator(".section-fields")).to_have_class(re.compile("cols-3"))
    expect(page.locator("#dirty")).to_be_visible()
    shot(page, "designer_canvas")

    # publish: the dry-run plan is shown first
    page.click("#publish")
    dialog = page.locator("#plan-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#plan-summary")).to_have_text("新增 4 列")
    expect(page.locator("#plan-steps li")).to_have_count(4)
    shot(page, "designer_publish_plan")
    page.click("#plan-confirm")
    expect(page.locator("#designer-banner")).to_contain_text("已发布版本 2")
    expect(page.locator("#version-badge")).to_have_text("v2")
    expect(page.locator("#dirty")).to_be_hidden()

    stored = admin_api.get("/api/v1/apps/designer_lab/entities/credit_app").json()
    assert stored["version"] == 2
    assert [f["key"] for f in stored["fields"]] == order
    by_key = {f["key"]: f for f in stored["fields"]}
    assert by_key["customer_name"] == {"key": "customer_name", "label": "客户名称",
                                       "type": "text", "required": True}
    assert by_key["amount"]["required"] is True
    assert (by_key["amount"]["min"], by_key["amount"]["max"]) == ("0", "1000000")
    assert by_key["product"]["options"] == ["流动资金贷", "银行承兑"]
    assert by_key["fee"]["formula"] == "amount * 0.01"
    assert by_key["fee"]["result_type"] == "number"
    assert stored["layout"] == {"sections": [{"title": "申请信息", "columns": 3,
                                              "fields": order}]}

    # a published key is fixed; deleting a published field hides it (its data stays)
    page.click(".field-card[data-key=fee]")
    expect(page.locator("[name=prop-key]")).to_be_disabled()
    page.click(".field-card[data-key=fee] .field-del")
    expect(page.locator(".field-card[data-key=fee]")).to_have_count(0)
    page.click("#publish")
    expect(page.locator("#plan-summary")).to_have_text("隐藏 1 个字段（数据保留）")
    page.click("#plan-confirm")
    expect(page.locator("#version-badge")).to_have_text("v3")
    stored = admin_api.get("/api/v1/apps/designer_lab/entities/credit_app").json()
    assert [f["key"] for f in stored["fields"]] == [k for k in order if k != "fee"]
    assert stored["removed_fields"] == ["fee"]


def test_preview_validates_like_the_record_form_and_language_toggles(
        page: Page, login_as: Login, lab: dict[str, Any], admin_api: APIRequestContext,
        shot: Callable) -> None:
    entity = {"key": "preview_case", "label": "预览", "fields": [
        {"key": "title", "label": "标题", "type": "text", "required": True},
        {"key": "rate", "label": "利率", "type": "percent", "max": "24"},
    ]}
    response = admin_api.post(f"/api/v1/apps/{lab['app']}/entities", data=entity)
    assert response.status == 201, response.text()
    login_as(page, "designer")
    page.goto(f"/designer/apps/{lab['app']}/entities/preview_case")
    expect(page.locator(".canvas .field-card")).to_have_count(2)
    page.click(".designer-tabs .tab[data-tab=preview]")
    preview = page.locator("#preview-form")
    page.fill("#preview-fields .fld[data-key=rate] input", "30")
    preview.locator("button[type=submit]").click()
    expect(page.locator("#preview-fields .fld[data-key=title] .fld-error")).to_have_text("必填")
    expect(page.locator("#preview-fields .fld[data-key=rate] .fld-error")).to_have_text(
        "不能大于 24")
    page.click("#preview-sample")
    preview.locator("button[type=submit]").click()
    expect(page.locator("#preview-banner")).to_contain_text("校验通过")
    shot(page, "designer_preview")

    page.click(".lang-toggle")
    expect(page.locator(".designer-tabs .tab[data-tab=design]")).to_have_text("Design")
    page.click(".designer-tabs .tab[data-tab=design]")
    expect(page.locator(".palette-group h3").first).to_have_text("Basic")
    expect(page.locator("#publish")).to_have_text("Publish")
    page.reload()  # the choice is remembered
    expect(page.locator(".palette-group h3").first).to_have_text("Basic")
    shot(page, "designer_english")
    page.click(".lang-toggle")
    expect(page.locator(".palette-group h3").first).to_have_text("基础字段")


def test_only_designers_open_the_designer(page: Page, login_as: Login,
                                          lab: dict[str, Any]) -> None:
    page.goto(f"/designer/apps/{lab['app']}/entities/new")
    page.wait_for_url(re.compile(r"/login\?next="))  # anonymous: log in first
    login_as(page, "designer")
    response = page.goto(f"/designer/apps/{lab['app']}/entities/no_such_form")
    assert response is not None and response.status == 404
    page.context.clear_cookies()
    login_as(page, "member")
    response = page.goto(f"/designer/apps/{lab['app']}/entities/new")
    assert response is not None and response.status == 403
    page.goto(f"/apps/{lab['app']}")
    expect(page.locator("#new-form")).to_have_count(0)
