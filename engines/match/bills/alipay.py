"""Alipay merchant bill (支付宝交易记录明细): GBK CSV between `#` comment lines.

Quirks: every value may carry trailing tabs/spaces, headers use full-width parentheses,
refund rows carry negative amounts and a positive (returned) fee, and the `#` footer
holds totals that must equal the rows - a truncated download fails the check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from engines.match.bills.model import (
    PAYMENT,
    REFUND,
    BillTotals,
    Columns,
    RowReader,
    SettlementLine,
    settlement_line,
    split_csv_line,
)
from engines.match.errors import BillFormatError
from engines.match.money import decimal_to_minor

CHANNEL = "alipay"
ENCODING = "gbk"
CURRENCY = "CNY"

TXN_ID = "支付宝交易号"
ORDER_NO = "商户订单号"
BUSINESS_TYPE = "业务类型"
CREATED_AT = "创建时间"
COMPLETED_AT = "完成时间"
COUNTERPARTY = "对方账户"
RECEIVED = "商家实收（元）"
MERCHANT_DISCOUNT = "商家优惠（元）"
REFUND_NO = "退款批次号/请求号"
FEE = "服务费（元）"
REQUIRED = (
    TXN_ID,
    ORDER_NO,
    BUSINESS_TYPE,
    CREATED_AT,
    COMPLETED_AT,
    COUNTERPARTY,
    RECEIVED,
    MERCHANT_DISCOUNT,
    REFUND_NO,
    FEE,
)
KINDS = {"交易": PAYMENT, "退款": REFUND}

_DETAIL_END = "业务明细列表结束"
_NUM = r"(-?\d+(?:\.\d+)?)"
_PAYMENT_FOOTER = re.compile(
    rf"#交易合计[:：](\d+)笔[,，]商家实收共[:：]{_NUM}元[,，]商家优惠共[:：]{_NUM}元"
)
_REFUND_FOOTER = re.compile(
    rf"#退款合计[:：](\d+)笔[,，]商家实收退款共[:：]{_NUM}元[,，]商家优惠退款共[:：]{_NUM}元"
)

_FOOTERS = ((PAYMENT, "#交易合计", _PAYMENT_FOOTER), (REFUND, "#退款合计", _REFUND_FOOTER))


def looks_like(head: str) -> bool:
    """Format sniffing on the decoded first lines."""
    return head.startswith("#支付宝") or (TXN_ID in head and "商家实收" in head)


def parse(lines: Iterator[tuple[int, str]], totals: BillTotals) -> Iterator[SettlementLine]:
    """Yield the bill's transaction lines, then check the footer against them."""
    columns: Columns | None = None
    detail_ended = False
    sums = {PAYMENT: [0, 0, 0], REFUND: [0, 0, 0]}  # count, received, merchant discount
    footers: dict[str, tuple[int, tuple[int, int, int]]] = {}
    last_line = 0
    for line_no, text in lines:
        last_line = line_no
        stripped = text.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if _DETAIL_END in stripped:
                detail_ended = True
            _read_footer(stripped, line_no, footers)
            continue
        if detail_ended:
            raise BillFormatError(
                "data row after the end of the detail list", channel=CHANNEL, line=line_no
            )
        cells = split_csv_line(text)
        if columns is None:
            columns = Columns(CHANNEL, cells, line_no, REQUIRED)
            continue
        columns.check_width(cells, line_no)
        row = RowReader(columns, cells, line_no)
        line, discount = _line(row)
        bucket = sums[line.kind]
        bucket[0] += 1
        bucket[1] += line.amount_minor
        bucket[2] += discount
        totals.add(line)
        yield line
    if columns is None:
        raise BillFormatError("no header line found", channel=CHANNEL, line=last_line or None)
    _check_footers(footers, sums, last_line)


def _line(row: RowReader) -> tuple[SettlementLine, int]:
    business_type = row.required(BUSINESS_TYPE)
    kind = KINDS.get(business_type)
    if kind is None:
        raise row.fail(f"unknown business type {business_type!r} (交易 or 退款)", BUSINESS_TYPE)
    amount = row.amount(RECEIVED, 2)
    # Alipay prints the service fee as a charge (negative); a refund returns it (positive).
    fee = -row.amount(FEE, 2)
    refund_no = row.text(REFUND_NO) or None
    if kind == REFUND:
        if refund_no is None:
            raise row.fail("refund row without a refund batch number", REFUND_NO)
        if amount > 0:
            raise row.fail("refund amount must not be positive", RECEIVED)
    elif amount < 0:
        raise row.fail("payment amount must not be negative", RECEIVED)
    occurred_column = COMPLETED_AT if row.text(COMPLETED_AT) else CREATED_AT
    line = settlement_line(
        row,
        kind=kind,
        gateway_txn_id=row.required(TXN_ID),
        order_no=row.text(ORDER_NO) or None,
        amount_minor=amount,
        fee_minor=fee,
        currency=CURRENCY,
        occurred_at=row.cst_datetime(occurred_column),
        masked_card=row.masked_card(COUNTERPARTY),
        refund_no=refund_no,
    )
    return line, row.amount(MERCHANT_DISCOUNT, 2) if row.text(MERCHANT_DISCOUNT) else 0


def _read_footer(
    text: str, line_no: int, footers: dict[str, tuple[int, tuple[int, int, int]]]
) -> None:
    for kind, prefix, pattern in _FOOTERS:
        if not text.startswith(prefix):
            continue
        found = pattern.fullmatch(text)
        if found:
            count, received, discount = found.groups()
            footers[kind] = (
                line_no,
                (int(count), decimal_to_minor(received, 2), decimal_to_minor(discount, 2)),
            )
        else:
            raise BillFormatError("unreadable footer total", channel=CHANNEL, line=line_no)


def _check_footers(
    footers: dict[str, tuple[int, tuple[int, int, int]]],
    sums: dict[str, list[int]],
    last_line: int,
) -> None:
    for kind, label in ((PAYMENT, "交易合计"), (REFUND, "退款合计")):
        if kind not in footers:
            raise BillFormatError(
                f"footer total #{label} is missing (truncated file?)",
                channel=CHANNEL,
                line=last_line,
            )
        line_no, (count, received, discount) = footers[kind]
        row_count, row_received, row_discount = sums[kind]
        # Refund totals appear with or without the minus sign; the rows decide the sign.
        if kind == REFUND:
            received, discount = -abs(received), -abs(discount)
            row_discount = -abs(row_discount)
        problems = []
        if count != row_count:
            problems.append(f"{count} rows stated, {row_count} found")
        if received != row_received:
            problems.append(f"amount {received} stated, rows sum to {row_received} (fen)")
        if discount != row_discount:
            problems.append(f"discount {discount} stated, rows sum to {row_discount} (fen)")
        if problems:
            raise BillFormatError(
                f"footer #{label} does not match the rows: " + "; ".join(problems),
                channel=CHANNEL,
                line=line_no,
            )
