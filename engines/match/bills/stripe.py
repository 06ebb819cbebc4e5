"""Stripe itemized balance-change report: UTF-8 CSV, UTC times, lower-case currencies.

Zero-decimal currencies (jpy, krw, ...) have no minor unit: gross "1000" jpy is 1000
minor units. ``gross - fee == net`` is checked on every row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from engines.match.bills.model import (
    PAYMENT,
    REFUND,
    BillTotals,
    RowReader,
    SettlementLine,
    parse_header_and_rows,
    settlement_line,
)
from engines.match.money import currency_exponent, is_currency_code

CHANNEL = "stripe"
ENCODING = "utf-8"

TXN_ID = "balance_transaction_id"
CREATED = "created_utc"
AVAILABLE_ON = "available_on_utc"
CURRENCY = "currency"
GROSS = "gross"
FEE = "fee"
NET = "net"
CATEGORY = "reporting_category"
SOURCE_ID = "source_id"
ORDER_NO = "payment_metadata[order_no]"
REQUIRED = (TXN_ID, CREATED, AVAILABLE_ON, CURRENCY, GROSS, FEE, NET, CATEGORY, SOURCE_ID)
KINDS = {"charge": PAYMENT, "refund": REFUND}


def looks_like(head: str) -> bool:
    """Format sniffing on the decoded first lines."""
    return head.startswith(TXN_ID) and CATEGORY in head


def parse(lines: Iterator[tuple[int, str]], totals: BillTotals) -> Iterator[SettlementLine]:
    """Yield the report's charge and refund lines (the report has no footer)."""
    return parse_header_and_rows(lines, totals, CHANNEL, REQUIRED, _line)


def _line(row: RowReader) -> SettlementLine:
    category = row.required(CATEGORY)
    kind = KINDS.get(category)
    if kind is None:
        raise row.fail(f"unsupported reporting category {category!r} (charge or refund)", CATEGORY)
    raw_currency = row.required(CURRENCY)
    currency = raw_currency.upper()
    if not is_currency_code(currency):
        raise row.fail(f"bad currency {raw_currency!r}", CURRENCY)
    exponent = currency_exponent(currency)
    gross = row.amount(GROSS, exponent)
    fee = row.amount(FEE, exponent)
    net = row.amount(NET, exponent)
    if kind == PAYMENT and gross < 0:
        raise row.fail("charge gross must not be negative", GROSS)
    if kind == REFUND and gross > 0:
        raise row.fail("refund gross must not be positive", GROSS)
    available_on = _utc(row, AVAILABLE_ON)
    return settlement_line(
        row,
        kind=kind,
        gateway_txn_id=row.required(SOURCE_ID),
        order_no=_order_no(row),
        amount_minor=gross,
        fee_minor=fee,
        net_minor=net,
        currency=currency,
        occurred_at=_utc(row, CREATED),
        settle_date=available_on.date(),
        refund_no=row.required(SOURCE_ID) if kind == REFUND else None,
    )


def _order_no(row: RowReader) -> str | None:
    # The metadata column exists only when the merchant sets order_no on its charges.
    if ORDER_NO not in row.columns.position:
        return None
    return row.text(ORDER_NO) or None


def _utc(row: RowReader, column: str) -> datetime:
    value = row.required(column)
    try:
        parsed = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise row.fail(f"bad date/time {value!r}, expected YYYY-MM-DD HH:MM:SS", column) from None
    return parsed.replace(tzinfo=UTC)
