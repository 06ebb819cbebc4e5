"""The settlement template's record rules fire on ordinary writes through the record API
(RecordService calls the rule hook): a successful payment marks its order paid, a failed
one does not, and the order's history names the rule."""

from __future__ import annotations

from typing import Any

BASE = "/apps/customer_settlement/entities"


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def test_successful_payment_marks_its_order_paid(admin: Any) -> None:
    expect(admin.post("/templates/customer_settlement/install", {}), 201)
    order = expect(admin.post(f"{BASE}/order/records", {
        "order_no": "ORD-RULE-0001", "amount": "188.00", "currency": "CNY",
        "status": "pending"}), 201)
    other = expect(admin.post(f"{BASE}/order/records", {
        "order_no": "ORD-RULE-0002", "amount": "66.00", "currency": "CNY",
        "status": "pending"}), 201)
    expect(admin.post(f"{BASE}/payment/records", {
        "order_no": "ORD-RULE-0001", "order": order["id"], "channel": "alipay",
        "amount": "188.00", "currency": "CNY", "status": "success",
        "paid_at": "2026-11-20T10:00:00+08:00"}), 201)
    # a failed payment leaves its order alone
    expect(admin.post(f"{BASE}/payment/records", {
        "order_no": "ORD-RULE-0002", "order": other["id"], "channel": "wechat",
        "amount": "66.00", "currency": "CNY", "status": "failed",
        "paid_at": "2026-11-20T10:05:00+08:00"}), 201)
    paid = expect(admin.get(f"{BASE}/order/records/{order['id']}"), 200)
    untouched = expect(admin.get(f"{BASE}/order/records/{other['id']}"), 200)
    assert paid["status"] == "paid" and paid["version"] == 2
    assert untouched["status"] == "pending" and untouched["version"] == 1
    # the order's history says a rule changed it
    history = expect(admin.get("/apps/customer_settlement/audit", query_string={
        "entity": "order", "record_id": str(order["id"])}), 200)["items"]
    assert history[0]["action"] == "update"
    assert history[0]["changes"]["status"] == ["pending", "paid"]
    assert history[0]["source"].startswith("rule:payment_marks_order_paid")
