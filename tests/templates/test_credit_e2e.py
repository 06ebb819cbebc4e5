"""The credit approval template end to end through the HTTP API: install, customers with a
checked unified social credit code, the < 50,000 and >= 50,000 approval paths, rejection,
the overdue 7/30-day scheduled rules at a fixed clock, and dashboard figures equal to
sums computed here."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from app_platform.extensions import db
from app_platform.models import App
from app_platform.models.rules import RuleTask

APP = "/apps/credit_approval"
PASSWORD = "correct-horse-42"
PEOPLE = {  # username: (roles, department, manager)
    "salesmgr": (["member", "sales"], "sales", "ceo_nobody"),
    "sally": (["member", "sales"], "sales", "salesmgr"),
    "sam": (["member", "sales"], "sales", "salesmgr"),
    "rita": (["member", "risk_specialist"], "risk", None),
    "fred": (["member", "finance_director"], "finance", None),
    "fiona": (["member", "finance"], "finance", None),
}
VALID_USCC = ["91350100M000100Y43", "91110000100006485K"]
CUSTOMERS = [  # name, uscc, region, rating, limit, used
    ("福州恒通贸易有限公司", VALID_USCC[0], "华东", "AA", "500000.00", "120000.00"),
    ("北京博远科技有限公司", VALID_USCC[1], "华北", "A", "200000.00", "188000.00"),
]


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


@pytest.fixture
def credit(admin: Any, login: Any) -> Any:
    expect(admin.post("/templates/credit_approval/install", {}), 201)
    for name, (roles, department, manager) in PEOPLE.items():
        expect(admin.post("/users", {"username": name, "password": PASSWORD, "roles": roles,
                                     "department": department, "manager": manager}), 201)
    return login


def add_customers(api: Any) -> list[dict[str, Any]]:
    return [expect(api.post(f"{APP}/entities/customer/records", {
        "name": name, "uscc": code, "region": region, "rating": rating, "credit_limit": limit,
        "used_credit": used, "salesperson": "sally"}), 201)
        for name, code, region, rating, limit, used in CUSTOMERS]


def apply(api: Any, customer: dict[str, Any], amount: str) -> dict[str, Any]:
    record = expect(api.post(f"{APP}/entities/credit_application/records", {
        "customer": customer["id"], "customer_name": customer["name"],
        "current_limit": customer["credit_limit"], "requested_amount": amount,
        "requested_term": 60, "reason": "旺季备货", "applicant_dept": "sales"}), 201)
    instance = expect(api.post(f"{APP}/processes/credit_approval/instances",
                               {"record_id": record["id"]}), 201)
    return instance


def act(api: Any, task_id: int, action: str = "approve", **data: Any) -> dict[str, Any]:
    return expect(api.post(f"/tasks/{task_id}/complete", {"action": action, "data": data}), 200)


def test_uscc_check_digit_is_enforced(credit: Any) -> None:
    sally = credit("sally")
    bad = VALID_USCC[0][:-1] + ("0" if VALID_USCC[0][-1] != "0" else "1")
    response = sally.post(f"{APP}/entities/customer/records", {"name": "错码公司", "uscc": bad})
    body = expect(response, 422)
    assert body["error"]["details"][0]["path"] == "uscc"
    assert "check digit" in body["error"]["details"][0]["message"]
    expect(sally.post(f"{APP}/entities/customer/records",
                      {"name": "正确公司", "uscc": VALID_USCC[0]}), 201)


def test_small_and_large_applications_and_rejection(credit: Any) -> None:
    sally, mgr, rita, fred = (credit(u) for u in ("sally", "salesmgr", "rita", "fred"))
    first, second = add_customers(sally)

    small = apply(sally, first, "49999.99")  # below 50,000.00: the department manager
    [task] = small["tasks"]
    assert (task["node_id"], task["assignee"]) == ("dept_manager", "salesmgr")
    done = act(mgr, task["id"], approved_limit="49999.99", approved_term=45)
    assert done["instance"]["status"] == "completed"
    application = expect(sally.get(f"{APP}/entities/credit_application/records/"
                                   f"{small['record_id']}"), 200)
    assert (application["status"], application["approved_limit"],
            application["approved_term"]) == ("approved", "49999.99", 45)

    large = apply(sally, second, "50000.00")  # exactly 50,000.00: risk, then the director
    [task] = large["tasks"]
    assert (task["node_id"], task["candidate_roles"]) == ("risk_specialist",
                                                          ["risk_specialist"])
    expect(mgr.post(f"/tasks/{task['id']}/complete", {"action": "approve"}), 403)
    step = act(rita, task["id"], risk_opinion="回款良好", approved_limit="50000.00")
    [task] = step["instance"]["tasks"]
    assert task["node_id"] == "finance_director"
    done = act(fred, task["id"], approved_term=60)
    assert done["instance"]["status"] == "completed"
    application = expect(sally.get(f"{APP}/entities/credit_application/records/"
                                   f"{large['record_id']}"), 200)
    assert (application["status"], application["risk_opinion"]) == ("approved", "回款良好")

    rejected = apply(sally, second, "300000.00")
    [task] = rejected["tasks"]
    done = expect(rita.post(f"/tasks/{task['id']}/complete",
                            {"action": "reject", "comment": "额度过高"}), 200)
    assert done["instance"]["status"] == "rejected" and done["instance"]["tasks"] == []
    assert expect(fred.get("/tasks?view=todo"), 200)["items"] == []
    record = expect(sally.get(f"{APP}/entities/credit_application/records/"
                              f"{rejected['record_id']}"), 200)
    assert record["status"] == "submitted" and record["approved_limit"] is None


def test_overdue_rules_with_a_fixed_clock(credit: Any, app: Any) -> None:
    sally = credit("sally")
    first, second = add_customers(sally)
    now = dt.datetime(2030, 3, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
    today = dt.date(2030, 3, 1)
    orders = {  # label: (customer, days overdue, status)
        "fresh": (first, 3, "open"), "late8": (first, 8, "open"),
        "late31": (second, 31, "open"), "paid_late": (second, 40, "paid")}
    ids = {}
    for label, (customer, overdue, status) in orders.items():
        due = today - dt.timedelta(days=overdue)
        ids[label] = expect(sally.post(f"{APP}/entities/sales_order/records", {
            "customer": customer["id"], "amount": "10000.00", "status": status,
            "order_date": (due - dt.timedelta(days=30)).isoformat(),
            "due_date": due.isoformat(), "region": customer["region"]}), 201)["id"]
    from app_platform.services.rule_schedule import run_schedule

    with app.app_context():
        app_id = db.session.scalar(sa.select(App.id).where(App.key == "credit_approval"))
        run_schedule(db.session, app_id, "overdue_7_days", now)
        run_schedule(db.session, app_id, "overdue_30_days_freeze", now)
        run_schedule(db.session, app_id, "overdue_30_days_freeze", now)  # same slot: no repeat
        tasks = db.session.scalars(sa.select(RuleTask).where(RuleTask.app_id == app_id)).all()
        titles = sorted(t.title for t in tasks)
        db.session.close()
    order_no = {o["id"]: o["order_no"] for o in expect(
        sally.get(f"{APP}/entities/sales_order/records"), 200)["items"]}
    # more than 7 days overdue and still open: late8 and late31, each once
    assert titles == sorted(f"催收：订单 {order_no[ids[k]]}" for k in ("late8", "late31"))
    status = {c["id"]: c["credit_status"] for c in expect(
        sally.get(f"{APP}/entities/customer/records"), 200)["items"]}
    assert status == {first["id"]: "normal", second["id"]: "frozen"}


def test_dashboard_numbers_equal_independent_sums(credit: Any) -> None:
    admin, sally = credit("admin"), credit("sally")
    add_customers(sally)
    totals = expect(admin.get(f"{APP}/reports/credit_totals/data"), 200)["kpi"]
    values = {card["key"]: Decimal(str(card["value"])) for card in totals}
    limit = sum(Decimal(c[4]) for c in CUSTOMERS)
    used = sum(Decimal(c[5]) for c in CUSTOMERS)
    assert values == {"credit_limit": limit, "used_credit": used, "available": limit - used}
    pie = expect(admin.get(f"{APP}/reports/rating_pie/data"), 200)["rows"]
    assert {row["rating"]: row["customers"] for row in pie} == dict(
        Counter(c[3] for c in CUSTOMERS))
    board = expect(admin.get(f"{APP}/dashboards/credit_overview"), 200)
    assert [c["problem"] for c in board["cards"]] == [None] * 5


def test_order_above_available_credit_is_blocked_and_nothing_is_written(credit: Any) -> None:
    sally = credit("sally")
    first, second = add_customers(sally)
    limit, used = (Decimal(v) for v in CUSTOMERS[1][4:6])
    available = limit - used  # 200,000.00 - 188,000.00 = 12,000.00

    def order(customer: dict[str, Any], amount: Decimal) -> Any:
        return sally.post(f"{APP}/entities/sales_order/records", {
            "customer": customer["id"], "amount": f"{amount:.2f}", "status": "open",
            "order_date": "2030-03-01", "due_date": "2030-04-01",
            "region": customer["region"]})

    error = expect(order(second, available + Decimal("0.01")), 422)["error"]
    assert error["code"] == "blocked_by_rule"
    assert error["message"] == f"insufficient credit: available {available:,.2f}"
    assert error["message"] == "insufficient credit: available 12,000.00"
    assert expect(sally.get(f"{APP}/entities/sales_order/records"), 200)["total"] == 0
    expect(order(second, available), 201)  # exactly the available amount is allowed
    expect(order(first, Decimal("300000.00")), 201)  # 500,000 - 120,000 leaves room
    # the check reads the customer as it is now: more used credit, smaller room
    expect(sally.patch(f"{APP}/entities/customer/records/{second['id']}",
                       {"used_credit": "195000.50"}), 200)
    error = expect(order(second, Decimal("5000.00")), 422)["error"]
    assert error["message"] == "insufficient credit: available 4,999.50"
    assert expect(sally.get(f"{APP}/entities/sales_order/records"), 200)["total"] == 2
    # a frozen customer gets no new credit orders, whatever the room left
    expect(sally.patch(f"{APP}/entities/customer/records/{first['id']}",
                       {"credit_status": "frozen"}), 200)
    error = expect(order(first, Decimal("1.00")), 422)["error"]
    assert error["code"] == "blocked_by_rule"
    assert error["message"] == "customer credit is frozen: new credit orders are blocked"
    assert expect(sally.get(f"{APP}/entities/sales_order/records"), 200)["total"] == 2
