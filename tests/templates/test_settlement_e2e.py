"""The settlement template end to end through the HTTP API: install, post the ledger,
import one bill per channel, reconcile, check every status and the batch totals against
the scenario (tests/templates/data/make_bills.py), resolve exceptions through the flow,
book and export balanced vouchers, then run everything again and see nothing doubled."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app_platform.extensions import db


def _scenario() -> Any:
    path = Path(__file__).parent / "data" / "make_bills.py"
    spec = importlib.util.spec_from_file_location("loom_settlement_scenario", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCENARIO = _scenario()
BILL_LINES, DAY, FILES = SCENARIO.BILL_LINES, SCENARIO.DAY, SCENARIO.FILES
LEDGER_PAYMENTS, LEDGER_REFUNDS = SCENARIO.LEDGER_PAYMENTS, SCENARIO.LEDGER_REFUNDS
DATA = Path(__file__).parent / "data"
PASSWORD = "correct-horse-42"


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def install(admin: Any, template: str, **body: Any) -> dict[str, Any]:
    return expect(admin.post(f"/templates/{template}/install", body), 201)


def add_users(admin: Any, people: dict[str, tuple[list[str], str | None, str | None]]) -> None:
    for name, (roles, department, manager) in people.items():
        expect(admin.post("/users", {"username": name, "password": PASSWORD, "roles": roles,
                                     "department": department, "manager": manager}), 201)

APP = "/apps/customer_settlement"
PEOPLE = {"fin": (["member", "finance"], "finance", None),
          "finmgr": (["member", "finance_manager"], "finance", None)}
CARD = "4111 1111 1111 1111"
# What the reconciliation must conclude, written down from the scenario by hand.
EXPECTED_LEDGER = {
    "A1": "matched", "A2": "matched", "A3": "amount_mismatch", "A4": "missing_in_channel",
    "RA1": "matched", "W1": "matched", "W2": "matched", "RW1": "matched",
    "U1": "matched", "U2": "matched", "U3": "out_of_window",
    "S1": "matched", "S2": "missing_in_channel", "RS1": "matched",
}
EXPECTED_LINES = {  # (channel, line no) -> status
    ("alipay", 6): "matched", ("alipay", 7): "matched", ("alipay", 8): "amount_mismatch",
    ("alipay", 9): "missing_in_ledger", ("alipay", 10): "matched",
    ("wechat", 2): "matched", ("wechat", 3): "matched", ("wechat", 4): "duplicate",
    ("wechat", 5): "matched",
    ("unionpay", 2): "matched", ("unionpay", 3): "matched", ("unionpay", 4): "out_of_window",
    ("stripe", 2): "matched", ("stripe", 3): "matched",
}


def d(text: str | None) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def records(api: Any, entity: str, query: str = "") -> list[dict[str, Any]]:
    body = expect(api.get(f"{APP}/entities/{entity}/records?limit=500{query}"), 200)
    return body["items"]


def upload(api: Any, name: str, content: bytes) -> Any:
    return api.client.post(f"/api/v1{APP}/settlement/bills",
                           data={"file": (io.BytesIO(content), name)},
                           headers={"Authorization": f"Bearer {api.token}"},
                           content_type="multipart/form-data")


def post_ledger(api: Any) -> dict[str, int]:
    """Every ledger payment and refund of the scenario; returns ref -> record id."""
    ids = {}
    for channel, payments in LEDGER_PAYMENTS.items():
        for ref, txn, order_no, amount, at, currency in payments:
            body = {"channel": channel, "amount": amount, "currency": currency,
                    "status": "success", "gateway_txn_id": txn or None,
                    "order_no": order_no, "paid_at": f"{DAY}T{at}+08:00", "card": CARD,
                    "payer_ip": "36.110.1.20", "region": "上海"}
            ids[ref] = expect(api.post(f"{APP}/entities/payment/records", body), 201)["id"]
    for channel, refunds in LEDGER_REFUNDS.items():
        for ref, payment_ref, refund_id, amount, at in refunds:
            currency = "USD" if channel == "stripe" else "CNY"
            body = {"channel": channel, "payment": ids[payment_ref], "amount": amount,
                    "currency": currency, "status": "success",
                    "gateway_refund_id": refund_id, "refunded_at": f"{DAY}T{at}+08:00",
                    "order_no": f"ORD-{payment_ref}"}
            ids[ref] = expect(api.post(f"{APP}/entities/refund/records", body), 201)["id"]
    return ids


def expected_batch(channel: str) -> dict[str, Any]:
    """Counts and totals of one channel's batch, from the scenario alone."""
    ledger = sum((d(p[3]) for p in LEDGER_PAYMENTS[channel]), Decimal(0)) - sum(
        (d(r[3]) for r in LEDGER_REFUNDS.get(channel, [])), Decimal(0))
    channel_total = sum((d(line[4]) for line in BILL_LINES[channel]), Decimal(0))
    statuses = Counter(s for ref, s in EXPECTED_LEDGER.items()
                       if ref.lstrip("R")[0] == channel[0].upper())
    statuses.update(s for (ch, _), s in EXPECTED_LINES.items()
                    if ch == channel and s not in ("matched", "amount_mismatch",
                                                   "out_of_window"))
    return {"ledger_total": ledger, "channel_total": channel_total,
            "difference": channel_total - ledger, "counts": statuses,
            "ledger_count": len(LEDGER_PAYMENTS[channel]) + len(LEDGER_REFUNDS.get(channel, [])),
            "channel_count": len(BILL_LINES[channel])}


@pytest.fixture
def settlement(admin: Any, login: Any) -> Any:
    install(admin, "customer_settlement")
    add_users(admin, PEOPLE)
    return login


def reconcile_all(api: Any) -> dict[str, dict[str, Any]]:
    return {channel: expect(api.post(f"{APP}/settlement/reconcile",
                                     {"channel": channel, "date": DAY}), 200)
            for channel in FILES}


def resolve(api: Any, task: dict[str, Any], resolution: str) -> dict[str, Any]:
    return expect(api.post(f"/tasks/{task['id']}/complete", {
        "action": "approve", "data": {"resolution": resolution, "note": "核对渠道流水"}}), 200)


def test_settlement_end_to_end(settlement: Any, app: Any) -> None:
    fin, finmgr = settlement("fin"), settlement("finmgr")
    ids = post_ledger(fin)
    payment_refs = {v: k for k, v in ids.items() if not k.startswith("R")}
    refund_refs = {v: k for k, v in ids.items() if k.startswith("R")}

    # -- bills: one per channel, each recognised and stored line by line ------------------
    for channel, (name, _) in FILES.items():
        body = expect(upload(fin, name, (DATA / name).read_bytes()), 201)
        assert (body["channel"], body["lines"]) == (channel, len(BILL_LINES[channel]))
    again = upload(fin, "copy.csv", (DATA / FILES["alipay"][0]).read_bytes())
    assert expect(again, 409)["error"]["code"] == "bill_already_imported"
    lines = records(fin, "settlement_line")
    assert len(lines) == sum(len(v) for v in BILL_LINES.values())  # nothing doubled
    assert all(re.fullmatch(r"\d{6}\*+\d{4}", x["masked_card"])
               for x in lines if x["channel"] == "unionpay")

    # -- reconcile: statuses and batch totals as the scenario says --------------------------
    results = reconcile_all(fin)
    for channel, result in results.items():
        batch, want = result["batch"], expected_batch(channel)
        for key in ("ledger_total", "channel_total", "difference"):
            assert d(batch[key]) == want[key], (channel, key)
        assert (batch["ledger_count"], batch["channel_count"]) == (
            want["ledger_count"], want["channel_count"])
        for status in ("matched", "amount_mismatch", "out_of_window", "missing_in_channel",
                       "missing_in_ledger", "duplicate"):
            assert batch[f"{status}_count"] == want["counts"][status], (channel, status)
    got = {payment_refs[p["id"]]: p["recon_status"] for p in records(fin, "payment")}
    got.update({refund_refs[r["id"]]: r["recon_status"] for r in records(fin, "refund")})
    assert got == EXPECTED_LEDGER
    assert {(x["channel"], x["line_no"]): x["recon_status"]
            for x in records(fin, "settlement_line")} == EXPECTED_LINES
    exceptions = records(fin, "recon_exception")
    unmatched = sum(1 for s in [*EXPECTED_LEDGER.values(), *EXPECTED_LINES.values()]
                    if s in ("missing_in_channel", "missing_in_ledger", "duplicate"))
    unmatched += sum(1 for s in EXPECTED_LEDGER.values() if s in ("amount_mismatch",
                                                                  "out_of_window"))
    assert len(exceptions) == unmatched == 6
    assert all(e["status"] == "open" for e in exceptions)

    # -- every exception became a task for finance; resolve some through the flow ----------
    tasks = expect(fin.get("/tasks?view=todo"), 200)["items"]
    by_record = {t["record_id"]: t for t in tasks}
    assert set(by_record) == {e["id"] for e in exceptions}
    kind_of = {e["id"]: (e["channel"], e["exception_type"]) for e in exceptions}
    for exception_id, task in by_record.items():
        if kind_of[exception_id] in (("wechat", "duplicate"), ("unionpay", "out_of_window")):
            assert resolve(fin, task, "confirm")["instance"]["status"] == "completed"
    big = next(i for i, k in kind_of.items() if k == ("alipay", "missing_in_ledger"))
    resolve(fin, by_record[big], "write_off")  # 1,500.00 written off: the manager decides
    [manager_task] = expect(finmgr.get("/tasks?view=todo"), 200)["items"]
    assert (manager_task["record_id"], manager_task["node_id"]) == (big, "manager")
    expect(finmgr.post(f"/tasks/{manager_task['id']}/complete", {"action": "approve"}), 200)
    status = {e["id"]: e["status"] for e in records(fin, "recon_exception")}
    assert sorted(status.values()).count("resolved") == 3

    # -- vouchers: refused while exceptions are open, balanced when booked ------------------
    batches = {b["channel"]: b for b in records(fin, "recon_batch")}
    refused = fin.post(f"{APP}/settlement/batches/{batches['alipay']['id']}/vouchers")
    assert expect(refused, 409)["error"]["code"] == "batch_not_reconciled"
    booked = expect(fin.post(f"{APP}/settlement/batches/{batches['wechat']['id']}/vouchers"),
                    200)
    [voucher] = booked["vouchers"]
    assert booked["created"] == 1 and voucher["balanced"] is True
    assert_wechat_voucher(voucher)
    expect(fin.post(f"{APP}/settlement/batches/{batches['unionpay']['id']}/vouchers"), 200)
    csv_rows = export(fin, f"?batch={batches['wechat']['id']}")
    assert csv_rows[0] == ["日期", "凭证号", "摘要", "科目代码", "科目名称", "借方金额", "贷方金额"]
    assert sum(d(r[5]) for r in csv_rows[1:]) == sum(d(r[6]) for r in csv_rows[1:]) > 0
    assert {r[1] for r in csv_rows[1:]} == {voucher["voucher_no"]}
    everything = export(fin, f"?date_from={DAY}&date_to={DAY}")
    assert len(everything) == 1 + len(csv_rows[1:]) + 3  # unionpay: one payment voucher
    assert not re.search(r"\d{13,19}", "\n".join(",".join(r) for r in everything))

    # -- run it all again: same batches, no new exception or voucher ------------------------
    again_results = reconcile_all(fin)
    for channel, result in again_results.items():
        assert result["batch"]["id"] == results[channel]["batch"]["id"]
        assert result["new_exceptions"] == 0
        assert result["summary"] == results[channel]["summary"]
    assert len(records(fin, "recon_exception")) == 6
    assert {e["id"]: e["status"] for e in records(fin, "recon_exception")} == status
    assert len(records(fin, "recon_batch")) == 4
    repeat = expect(fin.post(f"{APP}/settlement/batches/{batches['wechat']['id']}/vouchers"),
                    200)
    assert (repeat["created"], repeat["existing"]) == (0, 1)
    assert len(records(fin, "voucher")) == 2
    assert len(expect(fin.get("/tasks?view=todo"), 200)["items"]) == 3  # still open ones

    # -- the nightly job (02:00 on the 21st) reconciles the 20th: the same batches again ----
    from app_platform.services import bundles, settlement

    with app.app_context():
        nightly = settlement.reconcile_yesterday(
            db.session, bundles.system_caller(), "customer_settlement",
            dt.datetime(2026, 11, 21, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))))
        db.session.close()
    assert {ch: r["batch"]["id"] for ch, r in nightly.items()} == {
        ch: r["batch"]["id"] for ch, r in results.items()}
    assert all(r["new_exceptions"] == 0 for r in nightly.values())


def export(api: Any, query: str) -> list[list[str]]:
    response = api.get(f"{APP}/settlement/vouchers/export{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def assert_wechat_voucher(voucher: dict[str, Any]) -> None:
    """Gross to receivable, net to clearing, fee to fee expense; the refund reversed —
    figures from the wechat bill lines that matched (2, 3 and the refund 5)."""
    matched = [line for line in BILL_LINES["wechat"]
               if EXPECTED_LINES[("wechat", line[0])] == "matched"]
    pay = [x for x in matched if x[1] == "payment"]
    ref = [x for x in matched if x[1] == "refund"]
    gross, fee = sum(d(x[4]) for x in pay), sum(d(x[5]) for x in pay)
    r_gross, r_fee = -sum(d(x[4]) for x in ref), -sum(d(x[5]) for x in ref)
    lines = voucher["lines"]
    by = Counter()
    for line in lines:
        by[(line["account_code"], "debit")] += d(line["debit"])
        by[(line["account_code"], "credit")] += d(line["credit"])
    assert by[("1012", "debit")] == gross - fee and by[("1012", "credit")] == r_gross - r_fee
    assert by[("6603", "debit")] == fee and by[("6603", "credit")] == r_fee
    assert by[("1122", "credit")] == gross and by[("1122", "debit")] == r_gross
    assert sum(d(x["debit"]) for x in lines) == sum(d(x["credit"]) for x in lines)
    assert d(voucher["total_debit"]) == d(voucher["total_credit"])
    assert voucher["voucher_date"] == DAY and voucher["voucher_no"] == "记-20261120-wechat-CNY"
