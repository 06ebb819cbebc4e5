"""The normalized settlement line every channel parser produces, and shared row helpers.

Channel files differ in encoding, column names, signs and time zones; after parsing
they all look like ``SettlementLine`` so the matcher and the voucher builder never see a
channel quirk.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone

from engines.match.errors import BillFormatError
from engines.match.money import contains_full_card_number, decimal_to_minor

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
_LOCAL_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
PAYMENT = "payment"
REFUND = "refund"


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One transaction line of a channel bill, in integer minor units and UTC.

    ``amount_minor`` is signed (refunds negative); ``fee_minor`` is what the channel
    charged for this line (negative when a refund gives the fee back);
    ``net_minor == amount_minor - fee_minor`` is what reaches the merchant's account.
    """

    channel: str
    kind: str
    gateway_txn_id: str
    order_no: str | None
    amount_minor: int
    fee_minor: int
    net_minor: int
    currency: str
    occurred_at: datetime
    settle_date: date | None
    masked_card: str | None
    line_no: int
    refund_no: str | None = None


@dataclass(slots=True)
class BillTotals:
    """Running totals of what a parser yielded, per currency; filled while iterating."""

    payments: int = 0
    refunds: int = 0
    amount_minor: dict[str, int] = field(default_factory=dict)
    fee_minor: dict[str, int] = field(default_factory=dict)
    net_minor: dict[str, int] = field(default_factory=dict)

    def add(self, line: SettlementLine) -> None:
        """Count one yielded line."""
        if line.kind == PAYMENT:
            self.payments += 1
        else:
            self.refunds += 1
        cur = line.currency
        self.amount_minor[cur] = self.amount_minor.get(cur, 0) + line.amount_minor
        self.fee_minor[cur] = self.fee_minor.get(cur, 0) + line.fee_minor
        self.net_minor[cur] = self.net_minor.get(cur, 0) + line.net_minor


def split_csv_line(text: str) -> list[str]:
    """Split one physical line with the csv module's quoting rules."""
    return next(csv.reader((text,)))


class Columns:
    """Header name -> position for one bill, checked against the columns a parser needs."""

    def __init__(
        self, channel: str, header: Sequence[str], line_no: int, required: Sequence[str]
    ) -> None:
        self.channel = channel
        self.names = [name.strip() for name in header]
        self.position = {name: i for i, name in enumerate(self.names)}
        for name in required:
            if name not in self.position:
                raise BillFormatError("missing column", channel=channel, line=line_no, field=name)

    def check_width(self, cells: list[str], line_no: int) -> None:
        """Reject rows with a different number of cells; tolerate one trailing empty cell."""
        width = len(self.names)
        if len(cells) == width + 1 and not cells[-1].strip():
            cells.pop()
        if len(cells) != width:
            raise BillFormatError(
                f"expected {width} columns, found {len(cells)}",
                channel=self.channel,
                line=line_no,
            )


class RowReader:
    """Typed access to the cells of one row, raising errors that name line and column."""

    __slots__ = ("channel", "columns", "cells", "line_no")

    def __init__(self, columns: Columns, cells: list[str], line_no: int) -> None:
        self.channel = columns.channel
        self.columns = columns
        self.cells = cells
        self.line_no = line_no

    def fail(self, problem: str, column: str | None = None) -> BillFormatError:
        """Build the error for this row (the caller raises it)."""
        return BillFormatError(problem, channel=self.channel, line=self.line_no, field=column)

    def text(self, column: str) -> str:
        """The stripped cell value ('' when empty)."""
        return self.cells[self.columns.position[column]].strip()

    def required(self, column: str) -> str:
        """The stripped cell value, which must not be empty."""
        value = self.text(column)
        if not value:
            raise self.fail("value is empty", column)
        return value

    def amount(self, column: str, exponent: int, *, round_half_up: bool = False) -> int:
        """The cell as integer minor units."""
        try:
            return decimal_to_minor(self.required(column), exponent, round_half_up=round_half_up)
        except ValueError as exc:
            raise self.fail(f"bad amount: {exc}", column) from None

    def cst_datetime(self, column: str) -> datetime:
        """A 'YYYY-MM-DD HH:MM:SS' China Standard Time cell as an aware UTC datetime."""
        return self.parse_cst(self.required(column), column)

    def parse_cst(self, value: str, column: str) -> datetime:
        """Parse 'YYYY-MM-DD HH:MM:SS' local China Standard Time and convert to UTC."""
        if _LOCAL_DATETIME_RE.fullmatch(value) is None:
            raise self.fail(f"bad date/time {value!r}, expected YYYY-MM-DD HH:MM:SS", column)
        try:
            local = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(f"bad date/time {value!r}", column) from None
        return local.replace(tzinfo=CHINA_STANDARD_TIME).astimezone(UTC)

    def masked_card(self, column: str) -> str | None:
        """A card/account cell that must already be masked; a full PAN refuses the line."""
        value = self.text(column)
        if contains_full_card_number(value):
            raise self.fail("contains an unmasked card number; refusing the line", column)
        return value or None


def settlement_line(
    row: RowReader,
    *,
    kind: str,
    gateway_txn_id: str,
    order_no: str | None,
    amount_minor: int,
    fee_minor: int,
    currency: str,
    occurred_at: datetime,
    settle_date: date | None = None,
    masked_card: str | None = None,
    refund_no: str | None = None,
    net_minor: int | None = None,
) -> SettlementLine:
    """Build a line, checking the channel's own net figure when it prints one."""
    computed_net = amount_minor - fee_minor
    if net_minor is not None and net_minor != computed_net:
        raise row.fail(f"net {net_minor} != amount {amount_minor} - fee {fee_minor} (minor units)")
    return SettlementLine(
        channel=row.channel,
        kind=kind,
        gateway_txn_id=gateway_txn_id,
        order_no=order_no,
        amount_minor=amount_minor,
        fee_minor=fee_minor,
        net_minor=computed_net,
        currency=currency,
        occurred_at=occurred_at,
        settle_date=settle_date,
        masked_card=masked_card,
        line_no=row.line_no,
        refund_no=refund_no,
    )


def parse_header_and_rows(lines: Iterator[tuple[int, str]], totals: BillTotals,
                          channel: str, required: Sequence[str],
                          make_line: Callable[[RowReader], SettlementLine],
                          ) -> Iterator[SettlementLine]:
    """The plain layout (UnionPay, Stripe): one header line, then one transaction per
    line, blank lines skipped, no footer to check."""
    columns: Columns | None = None
    for line_no, text in lines:
        if not text.strip():
            continue
        cells = split_csv_line(text)
        if columns is None:
            columns = Columns(channel, cells, line_no, required)
            continue
        columns.check_width(cells, line_no)
        line = make_line(RowReader(columns, cells, line_no))
        totals.add(line)
        yield line
    if columns is None:
        raise BillFormatError("no header line found", channel=channel)
