"""A record's page lists the records that link to it (a customer's orders and receipts),
grouped by form, with the count and a link to the filtered list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

CUSTOMER = {"key": "customer", "label": "客户", "title_field": "name",
            "fields": [{"key": "name", "label": "名称", "type": "text", "required": True}]}
ORDER = {"key": "sales_order", "label": "销售订单", "fields": [
    {"key": "order_no", "label": "订单号", "type": "text"},
    {"key": "customer", "label": "客户", "type": "relation", "target": "customer"},
    {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"}]}
RECEIPT = {"key": "receipt", "label": "收款", "fields": [
    {"key": "customer", "label": "付款客户", "type": "relation", "target": "customer"},
    {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"}]}


def test_customer_page_shows_its_orders_and_receipts(page: Page, login_as: Callable[..., None],
                                                     api_as: Any, shot: Callable) -> None:
    api = api_as("admin")

    def post(path: str, body: dict) -> dict:
        response = api.post(f"/api/v1{path}", data=body)
        assert response.status == 201, response.text()
        return response.json()

    post("/apps", {"key": "crm360", "name": "客户360"})
    for entity in (CUSTOMER, ORDER, RECEIPT):
        post("/apps/crm360/entities", entity)
    acme = post("/apps/crm360/entities/customer/records", {"name": "华东机械"})
    other = post("/apps/crm360/entities/customer/records", {"name": "西南物流"})
    orders = [("SO-001", acme, "1200.00"), ("SO-002", acme, "800.50"), ("SO-003", other, "99.00")]
    for number, customer, amount in orders:
        post("/apps/crm360/entities/sales_order/records",
             {"order_no": number, "customer": customer["id"], "amount": amount})
    post("/apps/crm360/entities/receipt/records", {"customer": acme["id"], "amount": "500.00"})

    login_as(page, "admin")
    page.goto(f"/apps/crm360/entities/customer/{acme['id']}")
    group = page.locator("[data-related=sales_order]")
    expect(group).to_be_visible()
    expect(group.locator("tbody tr")).to_have_count(2)
    expect(group).to_contain_text("SO-002")
    expect(group).to_contain_text("800.50")
    expect(group).not_to_contain_text("SO-003")  # another customer's order
    expect(group.locator("h3")).to_contain_text("2")
    receipts = page.locator("[data-related=receipt]")
    expect(receipts.locator("tbody tr")).to_have_count(1)
    expect(receipts).to_contain_text("500.00")
    shot(page, "record_related")
    group.locator("h3 a").click()
    page.wait_for_url(f"**/apps/crm360/entities/sales_order?customer={acme['id']}")
    expect(page.locator("table.grid tbody tr")).to_have_count(2)
