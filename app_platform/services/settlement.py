"""The settlement template's own operations: import a channel bill, reconcile one channel
and day, and (``settlement_vouchers``) book and export vouchers.

They work on the entities of an app installed from ``customer_settlement`` (or any app
with the same entity and field keys) and use the pure ``engines.match`` for parsing,
matching and voucher building. Each call is one transaction; reconciling the same
channel and day again updates the same batch and creates no duplicate exception.

T+1 window: the ledger side is the channel's successful payments and refunds of the
business day D (China Standard Time); the channel side is its settlement lines of day D
that no day D-1 record claims, plus lines of day D+1 that belong to a day D record (late
settlement). Amounts must agree exactly in minor units; the channel's instant may lie
up to ``window_days`` after the ledger's (and a few minutes before: clock skew).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import APIError, Conflict, Unprocessable
from app_platform.models import utcnow
from app_platform.services.settlement_data import (
    AppData,
    day_bounds,
    from_minor,
    iso,
    parse_day,
    parse_instant,
    to_minor,
)
from engines.match import (
    STATUSES,
    BillFormatError,
    MatchConfig,
    MatchError,
    file_fingerprint,
    open_bill,
    reconcile,
)
from engines.match.bills import CHINA_STANDARD_TIME as CST_ZONE
from engines.match.bills import FORMATS

log = logging.getLogger("loom.settlement")
EXCEPTION_FLOW = "exception_handling"
CLOCK_SKEW = dt.timedelta(minutes=10)
LEDGER_PAYMENT_STATES = ["success", "refunded", "held"]


# -- bill import ---------------------------------------------------------------------------
def import_bill(session: Session, caller: Caller, app_key: str, file_name: str,
                content: bytes, channel: str | None = None) -> dict[str, Any]:
    """Parse a bill (channel sniffed unless given), refuse a file seen before (same
    SHA-256), store the file's record and one settlement line per row."""
    data = AppData(session, caller, app_key)
    if channel is not None and channel not in FORMATS:
        raise Unprocessable(f"unknown channel {channel!r}",
                            [{"path": "channel", "message": f"one of {sorted(FORMATS)}"}])
    fingerprint = file_fingerprint(content)
    files = data.table("bill_file")
    seen = data.rows("bill_file", files.c.fingerprint == fingerprint)
    if seen:
        raise Conflict(f"this bill was already imported as {seen[0]['file_name']!r} "
                       f"(bill_file {seen[0]['id']}); nothing was imported",
                       code="bill_already_imported")
    try:
        reader = open_bill(content, channel)
        lines = list(reader)  # the footer check runs when the last line was read
    except BillFormatError as exc:
        raise Unprocessable(str(exc), [{"path": f"line {exc.detail.get('line') or '?'}",
                                        "message": str(exc), **_jsonable(exc.detail)}],
                            code="invalid_bill") from None
    except MatchError as exc:
        raise Unprocessable(str(exc), code="invalid_bill") from None
    [bill] = data.create("bill_file", [{
        "channel": reader.channel, "file_name": file_name[:255] or "bill.csv",
        "fingerprint": fingerprint, "line_count": len(lines),
        "payment_count": reader.totals.payments, "refund_count": reader.totals.refunds,
        "imported_at": iso(utcnow())}])
    data.create("settlement_line", [{
        "channel": line.channel, "kind": line.kind, "gateway_txn_id": line.gateway_txn_id,
        "refund_no": line.refund_no, "order_no": line.order_no,
        "amount": from_minor(line.amount_minor, line.currency),
        "fee": from_minor(line.fee_minor, line.currency),
        "net": from_minor(line.net_minor, line.currency), "currency": line.currency,
        "occurred_at": iso(line.occurred_at),
        "settle_date": line.settle_date.isoformat() if line.settle_date else None,
        "masked_card": line.masked_card, "line_no": line.line_no, "bill_file": bill["id"],
        "recon_status": "unreconciled"} for line in lines])
    data.commit()
    return {"bill_file": bill["id"], "channel": reader.channel, "fingerprint": fingerprint,
            "lines": len(lines), "payments": reader.totals.payments,
            "refunds": reader.totals.refunds,
            "totals": {code: {"amount": from_minor(total, code),
                              "fee": from_minor(reader.totals.fee_minor[code], code),
                              "net": from_minor(reader.totals.net_minor[code], code)}
                       for code, total in sorted(reader.totals.amount_minor.items())}}


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in detail.items() if isinstance(v, str | int) and k != "path"}


# -- reconciliation ------------------------------------------------------------------------
def _ledger(data: AppData, channel: str, day: dt.date) -> list[dict[str, Any]]:
    """The ledger records of one channel and business day, as matcher records."""
    start, end = day_bounds(day)
    pay, ref = data.table("payment"), data.table("refund")
    out = []
    for row in data.rows("payment", pay.c.channel == channel,
                         pay.c.status.in_(LEDGER_PAYMENT_STATES),
                         pay.c.paid_at >= start, pay.c.paid_at < end):
        out.append({"id": ("payment", row["id"]), "kind": "payment",
                    "key": row["gateway_txn_id"] or None, "order_no": row["order_no"],
                    "amount": to_minor(row["amount"], row["currency"] or "CNY"),
                    "currency": row["currency"] or "CNY",
                    "instant": parse_instant(row["paid_at"])})
    for row in data.rows("refund", ref.c.channel == channel, ref.c.status == "success",
                         ref.c.refunded_at >= start, ref.c.refunded_at < end):
        out.append({"id": ("refund", row["id"]), "kind": "refund",
                    "key": row["gateway_refund_id"] or None, "order_no": row["order_no"],
                    "amount": to_minor(row["amount"], row["currency"] or "CNY"),
                    "currency": row["currency"] or "CNY",
                    "instant": parse_instant(row["refunded_at"])})
    return out


def _line_record(row: dict[str, Any]) -> dict[str, Any]:
    key = row["refund_no"] if row["kind"] == "refund" and row["refund_no"] else \
        row["gateway_txn_id"]
    return {"id": row["id"], "kind": row["kind"], "key": key, "order_no": row["order_no"],
            "amount": to_minor(row["amount"], row["currency"]), "currency": row["currency"],
            "instant": parse_instant(row["occurred_at"])}


def _keys(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["kind"], k) for r in records for k in (r["key"], r["order_no"]) if k}


def _channel_side(data: AppData, channel: str, day: dt.date, window_days: int,
                  ledger: list[dict[str, Any]]) -> list[dict[str, Any]]:
    table = data.table("settlement_line")
    start, _ = day_bounds(day)
    _, end = day_bounds(day, 1 + window_days)
    lines = [_line_record(r) for r in data.rows(
        "settlement_line", table.c.channel == channel, table.c.occurred_at >= start,
        table.c.occurred_at < end)]
    mine = _keys(ledger)
    earlier = _keys(_ledger(data, channel, day - dt.timedelta(days=1)))
    _, day_end = day_bounds(day)
    out = []
    for line in lines:
        keys = {(line["kind"], k) for k in (line["key"], line["order_no"]) if k}
        if line["instant"] < day_end:
            if keys & earlier and not keys & mine:
                continue  # a late line of yesterday's batch
        elif not keys & mine:
            continue  # tomorrow's own line
        out.append(line)
    return out


def reconcile_day(session: Session, caller: Caller, app_key: str, body: Any,
                  *, start_flows: bool = True) -> dict[str, Any]:
    """Reconcile ``{"channel", "date", "window_days"?}``; returns the batch and its items."""
    if not isinstance(body, dict):
        raise Unprocessable("the body must be a JSON object")
    channel, day = body.get("channel"), parse_day(body.get("date"))
    window_days = body.get("window_days", 1)
    if channel not in FORMATS:
        raise Unprocessable(f"unknown channel {channel!r}",
                            [{"path": "channel", "message": f"one of {sorted(FORMATS)}"}])
    if isinstance(window_days, bool) or not isinstance(window_days, int) or \
            not 0 <= window_days <= 7:
        raise Unprocessable("window_days must be 0..7",
                            [{"path": "window_days", "message": "a whole number 0..7"}])
    data = AppData(session, caller, app_key)
    ledger = _ledger(data, channel, day)
    right = _channel_side(data, channel, day, window_days, ledger)
    config = MatchConfig(primary_key=("key", "key"), fallback_key=("order_no", "order_no"),
                         amount=("amount", "amount"), instant=("instant", "instant"),
                         ref=("id", "id"), window=dt.timedelta(days=window_days),
                         window_before=CLOCK_SKEW)
    batch_result = reconcile(ledger, right, config)
    batch = _store_batch(data, channel, day, window_days, batch_result)
    new_exceptions = _store_items(data, batch, batch_result)
    data.commit()
    if start_flows and new_exceptions:
        start_exception_flows(session, caller, app_key, new_exceptions)
    return {"batch": batch, "summary": batch_result.summary.as_dict(),
            "new_exceptions": len(new_exceptions),
            "items": [_item_json(item) for item in batch_result.items]}


def _item_json(item: Any) -> dict[str, Any]:
    return {"status": item.status, "kind": item.kind, "currency": item.currency,
            "ledger": list(item.left_ref) if item.left_ref else None,
            "settlement_line": item.right_ref, "key": item.key,
            "ledger_amount": None if item.left_amount is None else
            from_minor(item.left_amount, item.currency),
            "channel_amount": None if item.right_amount is None else
            from_minor(item.right_amount, item.currency),
            "difference": None if item.difference is None else
            from_minor(item.difference, item.currency)}


def _store_batch(data: AppData, channel: str, day: dt.date, window_days: int,
                 result: Any) -> dict[str, Any]:
    summary = result.summary
    counts = summary.counts
    values: dict[str, Any] = {
        "channel": channel, "bill_date": day.isoformat(), "window_days": window_days,
        "ledger_count": summary.left_records, "channel_count": summary.right_records,
        **{f"{status}_count": counts[status] for status in STATUSES},
        "reconciled_at": iso(utcnow())}
    if len(summary.currencies) <= 1:
        code, totals = next(iter(summary.currencies.items()), ("CNY", None))
        values.update({
            "ledger_total": from_minor(totals.left_total if totals else 0, code),
            "channel_total": from_minor(totals.right_total if totals else 0, code),
            "difference": from_minor(totals.difference if totals else 0, code)})
    table = data.table("recon_batch")
    batch_no = f"{channel}-{day.isoformat()}"
    found = data.rows("recon_batch", table.c.batch_no == batch_no)
    if not found:
        return data.create("recon_batch", [{"batch_no": batch_no, **values}])[0]
    values.pop("reconciled_at")
    data.service("recon_batch").update(found[0]["id"], values, source="settlement")
    return data.service("recon_batch").get(found[0]["id"])


def _store_items(data: AppData, batch: dict[str, Any], result: Any) -> list[int]:
    """Statuses on the ledger records and lines, exceptions for the rest (existing ones
    kept as they are, vanished open ones closed). Returns ids of new exceptions."""
    by_status: dict[tuple[str, str], list[int]] = {}
    wanted: dict[str, dict[str, Any]] = {}
    for item in result.items:
        if item.left_ref:
            by_status.setdefault((item.left_ref[0], item.status), []).append(item.left_ref[1])
        if item.right_ref:
            by_status.setdefault(("settlement_line", item.status), []).append(item.right_ref)
        if item.status != "matched":
            key = _exception_key(batch["batch_no"], item)
            wanted[key] = _exception_values(batch, item, key)
    for (entity, status), ids in sorted(by_status.items()):
        data.set_values(entity, ids, {"recon_status": status, "recon_batch": batch["id"]})
    table = data.table("recon_exception")
    existing = {r["exception_key"]: r for r in data.rows("recon_exception",
                                                         table.c.batch == batch["id"])}
    gone = [r["id"] for k, r in existing.items() if k not in wanted and r["status"] == "open"]
    data.set_values("recon_exception", gone, {"status": "auto_resolved"})
    created = data.create("recon_exception", [v for k, v in wanted.items()
                                              if k not in existing])
    still_open = sum(1 for k, r in existing.items() if k in wanted and r["status"] == "open")
    status = "exceptions" if created or still_open else \
        ("vouchered" if batch.get("status") == "vouchered" else "reconciled")
    data.set_values("recon_batch", [batch["id"]], {"status": status})
    batch["status"] = status
    return [r["id"] for r in created]


def _exception_key(batch_no: str, item: Any) -> str:
    left = f"{item.left_ref[0]}#{item.left_ref[1]}" if item.left_ref else "-"
    right = f"line#{item.right_ref}" if item.right_ref else "-"
    return f"{batch_no}:{item.status}:{left}:{right}"


def _exception_values(batch: dict[str, Any], item: Any, key: str) -> dict[str, Any]:
    code = item.currency
    values = {
        "exception_key": key, "batch": batch["id"], "channel": batch["channel"],
        "bill_date": batch["bill_date"], "exception_type": item.status,
        "kind": item.kind, "match_key": item.key, "status": "open",
        "ledger_amount": None if item.left_amount is None else from_minor(item.left_amount,
                                                                           code),
        "channel_amount": None if item.right_amount is None else from_minor(
            item.right_amount, code),
        "difference": None if item.difference is None else from_minor(item.difference, code),
        "settlement_line": item.right_ref}
    if item.left_ref:
        values[item.left_ref[0]] = item.left_ref[1]
    return values


def start_exception_flows(session: Session, caller: Caller, app_key: str,
                          exception_ids: list[int]) -> int:
    """Start the exception-handling flow on each new exception (a task for finance).
    Each start is its own transaction, after the batch committed: a flow problem never
    undoes a reconciliation. Returns how many started."""
    from app_platform.services import flow_instances, flows

    started = 0
    try:
        flows.get_process(session, caller, app_key, EXCEPTION_FLOW)
    except APIError:
        return 0  # the app has no such flow (edited away): exceptions stay records
    for exception_id in exception_ids:
        try:
            flow_instances.start_instance(session, caller, app_key, EXCEPTION_FLOW,
                                          {"record_id": exception_id}, utcnow())
            started += 1
        except APIError as exc:
            session.rollback()
            log.warning("exception %s: flow not started: %s", exception_id, exc.message)
    return started


def reconcile_yesterday(session: Session, caller: Caller, app_key: str,
                        now: dt.datetime) -> dict[str, dict[str, Any]]:
    """The nightly job (02:00 China Standard Time): reconcile the previous business day
    for every channel. Meant for the scheduler or the rules' run_reconciliation action;
    returns each channel's batch and summary (items left out: they are records now)."""
    day = now.astimezone(CST_ZONE).date() - dt.timedelta(days=1)
    out = {}
    for channel in sorted(FORMATS):
        result = reconcile_day(session, caller, app_key,
                               {"channel": channel, "date": day.isoformat()})
        out[channel] = {"batch": result["batch"], "summary": result["summary"],
                        "new_exceptions": result["new_exceptions"]}
    return out
