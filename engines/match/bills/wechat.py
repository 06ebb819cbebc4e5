"""WeChat Pay merchant bill (微信支付对账单): UTF-8 CSV, optional BOM, backtick values.

Every value is prefixed with a backtick (so spreadsheets keep long ids as text); fees
are printed with 5 decimals and settle rounded half-up per row; the file ends with a
summary header plus one summary row whose totals must equal the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

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
from engines.match.money import currency_exponent, decimal_to_minor, is_currency_code

CHANNEL = "wechat"
ENCODING = "utf-8"

TRADE_TIME = "交易时间"
TXN_ID = "微信订单号"
ORDER_NO = "商户订单号"
STATUS = "交易状态"
CURRENCY = "货币种类"
SETTLED_AMOUNT = "应结订单金额"
REFUND_ID = "微信退款单号"
MERCHANT_REFUND_NO = "商户退款单号"
REFUND_AMOUNT = "退款金额"
FEE = "手续费"
ORDER_AMOUNT = "订单金额"
REQUESTED_REFUND = "申请退款金额"
REQUIRED = (
    TRADE_TIME,
    TXN_ID,
    ORDER_NO,
    STATUS,
    CURRENCY,
    SETTLED_AMOUNT,
    REFUND_ID,
    MERCHANT_REFUND_NO,
    REFUND_AMOUNT,
    FEE,
    ORDER_AMOUNT,
    REQUESTED_REFUND,
)
KINDS = {"SUCCESS": PAYMENT, "REFUND": REFUND}

SUMMARY_COUNT = "总交易单数"
# summary column -> the row column it totals
SUMMARY_TOTALS = {
    "应结订单总金额": SETTLED_AMOUNT,
    "退款总金额": REFUND_AMOUNT,
    "手续费总金额": FEE,
    "订单总金额": ORDER_AMOUNT,
    "申请退款总金额": REQUESTED_REFUND,
}


def looks_like(head: str) -> bool:
    """Format sniffing on the decoded first lines."""
    return TXN_ID in head and "公众账号ID" in head


def parse(lines: Iterator[tuple[int, str]], totals: BillTotals) -> Iterator[SettlementLine]:
    """Yield the bill's transaction lines, then check the summary row against them."""
    columns: Columns | None = None
    sums = dict.fromkeys(SUMMARY_TOTALS.values(), 0)
    exact_fee_sum = Decimal(0)  # unrounded fees, for summaries that total them unrounded
    rows = 0
    currencies: set[str] = set()
    summary_header: tuple[int, list[str]] | None = None
    summary: tuple[int, list[str]] | None = None
    last_line = 0
    for line_no, text in lines:
        last_line = line_no
        if not text.strip():
            continue
        cells = split_csv_line(text)
        if summary is not None:
            raise BillFormatError("content after the summary row", channel=CHANNEL, line=line_no)
        if summary_header is not None:
            summary = (line_no, [_unquote(cell) for cell in cells])
            continue
        if cells[0].strip() == SUMMARY_COUNT:
            summary_header = (line_no, [cell.strip() for cell in cells])
            continue
        if columns is None:
            columns = Columns(CHANNEL, cells, line_no, REQUIRED)
            continue
        columns.check_width(cells, line_no)
        row = RowReader(columns, [_unquote(cell) for cell in cells], line_no)
        line = _line(row, sums)
        exact_fee_sum += Decimal(row.text(FEE))
        rows += 1
        currencies.add(line.currency)
        totals.add(line)
        yield line
    if columns is None:
        raise BillFormatError("no header line found", channel=CHANNEL, line=last_line or None)
    if summary_header is None or summary is None:
        raise BillFormatError(
            "summary lines are missing (truncated file?)", channel=CHANNEL, line=last_line
        )
    if len(currencies) > 1:
        raise BillFormatError(
            f"one bill mixes currencies {sorted(currencies)}; its summary cannot be checked",
            channel=CHANNEL,
            line=summary[0],
        )
    exponent = currency_exponent(currencies.pop()) if currencies else 2
    _check_summary(summary_header, summary, rows, sums, exponent, exact_fee_sum)


def _unquote(cell: str) -> str:
    cell = cell.strip()
    return cell[1:] if cell.startswith("`") else cell


def _line(row: RowReader, sums: dict[str, int]) -> SettlementLine:
    status = row.required(STATUS)
    kind = KINDS.get(status)
    if kind is None:
        raise row.fail(f"unsupported trade status {status!r} (SUCCESS or REFUND)", STATUS)
    currency = row.required(CURRENCY).upper()
    if not is_currency_code(currency):
        raise row.fail(f"bad currency {currency!r}", CURRENCY)
    exponent = currency_exponent(currency)
    amounts = {}
    for column in SUMMARY_TOTALS.values():
        amounts[column] = row.amount(column, exponent, round_half_up=column == FEE)
        sums[column] += amounts[column]
    refund_id = None
    if kind == PAYMENT:
        amount = amounts[SETTLED_AMOUNT]
        if amount < 0:
            raise row.fail("payment amount must not be negative", SETTLED_AMOUNT)
    else:
        refund_id = row.required(REFUND_ID)
        row.required(MERCHANT_REFUND_NO)
        if amounts[REFUND_AMOUNT] <= 0:
            raise row.fail("refund amount must be positive", REFUND_AMOUNT)
        amount = -amounts[REFUND_AMOUNT]
    return settlement_line(
        row,
        kind=kind,
        gateway_txn_id=row.required(TXN_ID),
        order_no=row.text(ORDER_NO) or None,
        amount_minor=amount,
        fee_minor=amounts[FEE],
        currency=currency,
        occurred_at=row.cst_datetime(TRADE_TIME),
        refund_no=refund_id,
    )


def _check_summary(
    header: tuple[int, list[str]],
    summary: tuple[int, list[str]],
    rows: int,
    sums: dict[str, int],
    exponent: int,
    exact_fee_sum: Decimal,
) -> None:
    header_line, names = header
    line_no, values = summary
    if len(values) != len(names):
        raise BillFormatError(
            f"summary row has {len(values)} values for {len(names)} headers",
            channel=CHANNEL,
            line=line_no,
        )
    stated = dict(zip(names, values, strict=True))
    for name in (SUMMARY_COUNT, *SUMMARY_TOTALS):
        if name not in stated:
            raise BillFormatError(
                "missing summary column", channel=CHANNEL, line=header_line, field=name
            )
    if not stated[SUMMARY_COUNT].isdigit() or int(stated[SUMMARY_COUNT]) != rows:
        raise BillFormatError(
            f"summary states {stated[SUMMARY_COUNT]!r} rows, the bill has {rows}",
            channel=CHANNEL,
            line=line_no,
            field=SUMMARY_COUNT,
        )
    for name, column in SUMMARY_TOTALS.items():
        try:
            value = decimal_to_minor(stated[name], exponent, round_half_up=column == FEE)
        except ValueError as exc:
            raise BillFormatError(
                f"bad amount: {exc}", channel=CHANNEL, line=line_no, field=name
            ) from None
        # The fee total may be the sum of the per-row rounded fees or the exact sum of
        # the printed 5-decimal fees; after rounding, either must agree with the rows.
        if column == FEE and Decimal(stated[name]) == exact_fee_sum:
            continue
        if value != sums[column]:
            raise BillFormatError(
                f"summary total {value} does not match the rows' sum {sums[column]} (fen)",
                channel=CHANNEL,
                line=line_no,
                field=name,
            )
