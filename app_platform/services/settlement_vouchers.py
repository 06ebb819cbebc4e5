"""Vouchers (记账凭证) for a reconciled batch, and their CSV export in the voucher-import
layout Kingdee / Yonyou users map in (date, voucher no, summary, account code, account
name, debit, credit).

Why only a fully reconciled batch is booked: a batch with open exceptions would book
figures finance has not agreed to yet; once every exception is resolved (through the
exception flow) the matched lines are booked. All lines of a batch are booked on the
batch's bill date, so each (batch, currency) gives one voucher whose number is derived
from it: generating again finds the same numbers and creates nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import Conflict, NotFound, Unprocessable
from app_platform.services.settlement_data import (
    AppData,
    from_minor,
    parse_day,
    parse_instant,
    to_minor,
)
from engines.match import SettlementLine, VoucherAccounts, VoucherError, build_vouchers
from engines.match.vouchers import CSV_HEADER

ACCOUNTS = VoucherAccounts()


def _settlement_line(row: dict[str, Any]) -> SettlementLine:
    currency = row["currency"]
    return SettlementLine(
        channel=row["channel"], kind=row["kind"], gateway_txn_id=row["gateway_txn_id"],
        order_no=row["order_no"], amount_minor=to_minor(row["amount"], currency),
        fee_minor=to_minor(row["fee"], currency), net_minor=to_minor(row["net"], currency),
        currency=currency, occurred_at=parse_instant(row["occurred_at"]), settle_date=None,
        masked_card=row["masked_card"], line_no=int(row["line_no"] or 0),
        refund_no=row["refund_no"])


def generate_vouchers(session: Session, caller: Caller, app_key: str,
                      batch_id: int) -> dict[str, Any]:
    """Book the batch's matched lines; 409 while exceptions are open. Idempotent."""
    data = AppData(session, caller, app_key)
    batch = data.service("recon_batch").get(batch_id)
    exceptions = data.table("recon_exception")
    open_ones = data.rows("recon_exception", exceptions.c.batch == batch_id,
                          exceptions.c.status == "open")
    if open_ones:
        raise Conflict(f"batch {batch['batch_no']} has {len(open_ones)} open exceptions; "
                       "resolve them before booking vouchers", code="batch_not_reconciled",
                       details=[{"path": f"recon_exception/{r['id']}",
                                 "message": r["exception_type"]} for r in open_ones[:20]])
    lines_table = data.table("settlement_line")
    day = parse_day(batch["bill_date"])
    lines = [replace(_settlement_line(row), settle_date=day) for row in data.rows(
        "settlement_line", lines_table.c.recon_batch == batch_id,
        lines_table.c.recon_status == "matched")]
    try:
        vouchers = build_vouchers(lines, ACCOUNTS, prefix="记")
    except VoucherError as exc:
        raise Unprocessable(str(exc), code="voucher_unbalanced") from None
    table = data.table("voucher")
    existing = {r["voucher_no"]: r for r in data.rows(
        "voucher", table.c.voucher_no.in_([v.voucher_no for v in vouchers]))}
    created = data.create("voucher", [_voucher_record(v, batch_id) for v in vouchers
                                      if v.voucher_no not in existing])
    unbalanced = [v["voucher_no"] for v in created if v["balanced"] is not True]
    if unbalanced:  # the entity's formula disagrees with the engine: refuse, write nothing
        session.rollback()
        raise Unprocessable(f"vouchers {unbalanced} do not balance", code="voucher_unbalanced")
    data.set_values("recon_batch", [batch_id], {"status": "vouchered"})
    data.commit()
    return {"batch": batch_id, "created": len(created), "existing": len(existing),
            "vouchers": [*created, *existing.values()]}


def _voucher_record(voucher: Any, batch_id: int) -> dict[str, Any]:
    code = voucher.currency
    return {
        "voucher_no": voucher.voucher_no, "voucher_date": voucher.day.isoformat(),
        "batch": batch_id, "channel": voucher.channel, "currency": code,
        "lines": [{"summary": e.summary, "account_code": e.account.code,
                   "account_name": e.account.name, "debit": from_minor(e.debit_minor, code),
                   "credit": from_minor(e.credit_minor, code)} for e in voucher.entries]}


def export_vouchers_csv(session: Session, caller: Caller, app_key: str,
                        args: dict[str, str]) -> str:
    """Vouchers (``batch=ID`` or ``date_from``/``date_to`` on the voucher date) as CSV
    text, one row per entry, ordered by voucher number; a UTF-8 BOM for Excel."""
    data = AppData(session, caller, app_key)
    table = data.table("voucher")
    where = []
    if args.get("batch"):
        if not args["batch"].isdigit():
            raise Unprocessable("batch must be a record id",
                                [{"path": "batch", "message": "a record id"}])
        where.append(table.c.batch == int(args["batch"]))
    for name, op in (("date_from", "__ge__"), ("date_to", "__le__")):
        if args.get(name):
            day = parse_day(args[name])
            where.append(getattr(table.c.voucher_date, op)(day))
    rows = sorted(data.rows("voucher", *where), key=lambda r: r["voucher_no"])
    if args.get("batch") and not rows:
        raise NotFound(f"batch {args['batch']} has no vouchers")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for voucher in rows:
        for line in voucher["lines"] or []:
            writer.writerow([voucher["voucher_date"], voucher["voucher_no"], line["summary"],
                             line["account_code"], line["account_name"],
                             line["debit"] or "0.00", line["credit"] or "0.00"])
    return "\ufeff" + buffer.getvalue()
