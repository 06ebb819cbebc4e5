"""UnionPay merchant settlement file (银联商户清算明细): UTF-8 CSV with masked card numbers.

Amounts are always positive and the direction comes from the transaction type; dates
are YYYYMMDD and times HHMMSS in China Standard Time. The card number must arrive
masked and stays masked; a full card number refuses the line.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from engines.match.bills.model import (
    PAYMENT,
    REFUND,
    BillTotals,
    RowReader,
    SettlementLine,
    parse_header_and_rows,
    settlement_line,
)

CHANNEL = "unionpay"
ENCODING = "utf-8"
CURRENCY = "CNY"

SETTLE_DATE = "清算日期"
TRADE_DATE = "交易日期"
TRADE_TIME = "交易时间"
CARD = "卡号"
TXN_TYPE = "交易类型"
AMOUNT = "交易金额"
FEE = "手续费"
NET = "清算金额"
REFERENCE = "系统参考号"
ORDER_NO = "商户订单号"
REQUIRED = (
    SETTLE_DATE,
    TRADE_DATE,
    TRADE_TIME,
    CARD,
    TXN_TYPE,
    AMOUNT,
    FEE,
    NET,
    REFERENCE,
    ORDER_NO,
)
KINDS = {"消费": PAYMENT, "退货": REFUND}


def looks_like(head: str) -> bool:
    """Format sniffing on the decoded first lines."""
    return SETTLE_DATE in head and REFERENCE in head


def parse(lines: Iterator[tuple[int, str]], totals: BillTotals) -> Iterator[SettlementLine]:
    """Yield the file's transaction lines (this format has no footer to check)."""
    return parse_header_and_rows(lines, totals, CHANNEL, REQUIRED, _line)


def _line(row: RowReader) -> SettlementLine:
    txn_type = row.required(TXN_TYPE)
    kind = KINDS.get(txn_type)
    if kind is None:
        raise row.fail(f"unknown transaction type {txn_type!r} (消费 or 退货)", TXN_TYPE)
    amounts = {}
    for column in (AMOUNT, FEE, NET):
        value = row.amount(column, 2)
        if value < 0:
            raise row.fail("amounts are unsigned in this format; direction is the type", column)
        amounts[column] = value
    sign = 1 if kind == PAYMENT else -1
    trade_date = _digits(row, TRADE_DATE, 8)
    trade_time = _digits(row, TRADE_TIME, 6)
    local = (
        f"{trade_date[:4]}-{trade_date[4:6]}-{trade_date[6:]} "
        f"{trade_time[:2]}:{trade_time[2:4]}:{trade_time[4:]}"
    )
    return settlement_line(
        row,
        kind=kind,
        gateway_txn_id=row.required(REFERENCE),
        order_no=row.text(ORDER_NO) or None,
        amount_minor=sign * amounts[AMOUNT],
        fee_minor=sign * amounts[FEE],
        net_minor=sign * amounts[NET],
        currency=CURRENCY,
        occurred_at=row.parse_cst(local, TRADE_TIME),
        settle_date=_settle_date(row),
        masked_card=row.masked_card(CARD),
    )


def _digits(row: RowReader, column: str, count: int) -> str:
    value = row.required(column)
    if len(value) != count or not value.isascii() or not value.isdigit():
        raise row.fail(f"expected {count} digits, got {value!r}", column)
    return value


def _settle_date(row: RowReader) -> date:
    value = _digits(row, SETTLE_DATE, 8)
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise row.fail(f"bad date {value!r}", SETTLE_DATE) from None
