"""Accounting vouchers (记账凭证) for the settlement lines a reconciliation matched.

Per channel, day and currency one voucher: the channel settles what customers paid, so
the merchant debits the channel clearing account with the net, debits fee expense with
the fee and credits accounts receivable with the gross; refunds post the same entries
with the opposite sign (debit receivable, credit clearing and the returned fee).
Voucher numbers derive from (day, channel, currency), so re-running a batch yields the
same numbers and an import system can refuse the repeat instead of booking it twice.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from typing import Any, TextIO

from engines.match.bills.model import CHINA_STANDARD_TIME, PAYMENT, SettlementLine
from engines.match.errors import VoucherError
from engines.match.money import minor_to_decimal_text
from engines.match.results import MatchBatch

CSV_HEADER = ("日期", "凭证号", "摘要", "科目代码", "科目名称", "借方金额", "贷方金额")
CHANNEL_NAMES = {"alipay": "支付宝", "wechat": "微信支付", "unionpay": "银联", "stripe": "Stripe"}


@dataclass(frozen=True)
class Account:
    """A ledger account of the chart of accounts (科目)."""

    code: str
    name: str


@dataclass(frozen=True)
class VoucherAccounts:
    """Which accounts the vouchers post to; ``clearing_by_channel`` overrides per channel
    (e.g. 101201 其他货币资金-支付宝)."""

    receivable: Account = Account("1122", "应收账款")
    clearing: Account = Account("1012", "其他货币资金-渠道清算")
    fee: Account = Account("6603", "财务费用-手续费")
    clearing_by_channel: Mapping[str, Account] = field(default_factory=dict)

    def clearing_for(self, channel: str) -> Account:
        """The clearing account of one channel."""
        return self.clearing_by_channel.get(channel, self.clearing)


@dataclass(frozen=True)
class VoucherEntry:
    """One line of a voucher: exactly one of debit/credit is non-zero (minor units)."""

    summary: str
    account: Account
    debit_minor: int
    credit_minor: int


@dataclass(frozen=True)
class Voucher:
    """A balanced voucher for one channel, day and currency."""

    voucher_no: str
    day: date
    channel: str
    currency: str
    entries: tuple[VoucherEntry, ...]
    payments: int
    refunds: int

    @property
    def total_debit_minor(self) -> int:
        """Sum of the debit side."""
        return sum(entry.debit_minor for entry in self.entries)

    @property
    def total_credit_minor(self) -> int:
        """Sum of the credit side."""
        return sum(entry.credit_minor for entry in self.entries)


@dataclass
class _Group:
    payments: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # count, gross, fee, net
    refunds: list[int] = field(default_factory=lambda: [0, 0, 0, 0])


def voucher_day(line: SettlementLine) -> date:
    """The booking day: the settlement date when the channel states one, otherwise the
    transaction's date in China Standard Time (the merchant's books are kept in CST)."""
    if line.settle_date is not None:
        return line.settle_date
    return line.occurred_at.astimezone(CHINA_STANDARD_TIME).date()


def build_vouchers(
    lines: Iterable[SettlementLine],
    accounts: VoucherAccounts | None = None,
    *,
    prefix: str = "记",
) -> list[Voucher]:
    """Aggregate matched settlement lines into vouchers, ordered by day, channel, currency."""
    accounts = accounts or VoucherAccounts()
    groups: dict[tuple[date, str, str], _Group] = {}
    for line in lines:
        if line.net_minor != line.amount_minor - line.fee_minor:
            raise VoucherError(
                f"{line.channel} line {line.line_no}: net != amount - fee",
                element=line.channel,
                line=line.line_no,
            )
        group = groups.setdefault((voucher_day(line), line.channel, line.currency), _Group())
        sums = group.payments if line.kind == PAYMENT else group.refunds
        sums[0] += 1
        sums[1] += line.amount_minor
        sums[2] += line.fee_minor
        sums[3] += line.net_minor
    vouchers = []
    for (day, channel, currency), group in sorted(groups.items()):
        label = f"{CHANNEL_NAMES.get(channel, channel)} {day.isoformat()}"
        entries: list[VoucherEntry] = []
        for (count, gross, fee, net), what in ((group.payments, "收款"), (group.refunds, "退款")):
            if count:
                text = f"{label} {what}{count}笔"
                entries += _entries(
                    text,
                    accounts.clearing_for(channel),
                    net,
                    accounts.fee,
                    fee,
                    accounts.receivable,
                    gross,
                )
        voucher = Voucher(
            voucher_no=f"{prefix}-{day:%Y%m%d}-{channel}-{currency}",
            day=day,
            channel=channel,
            currency=currency,
            entries=tuple(entries),
            payments=group.payments[0],
            refunds=group.refunds[0],
        )
        if voucher.total_debit_minor != voucher.total_credit_minor:
            raise VoucherError(
                f"voucher {voucher.voucher_no} does not balance: debit "
                f"{voucher.total_debit_minor} != credit {voucher.total_credit_minor}",
                element=voucher.voucher_no,
            )
        vouchers.append(voucher)
    return vouchers


def _entries(
    text: str,
    clearing: Account,
    net: int,
    fee_account: Account,
    fee: int,
    receivable: Account,
    gross: int,
) -> list[VoucherEntry]:
    """Debit clearing with net and fee expense with fee, credit receivable with gross.

    The figures are signed (refunds negative), so a refund lands on the opposite sides
    by itself; a zero figure (no fee) gives no entry.
    """
    entries = []
    for summary, account, signed_debit in (
        (f"{text} 结算净额", clearing, net),
        (f"{text} 手续费", fee_account, fee),
        (f"{text} 冲应收账款", receivable, -gross),
    ):
        if signed_debit > 0:
            entries.append(VoucherEntry(summary, account, signed_debit, 0))
        elif signed_debit < 0:
            entries.append(VoucherEntry(summary, account, 0, -signed_debit))
    return entries


def vouchers_for_batch(
    batch: MatchBatch,
    lines: Iterable[SettlementLine],
    accounts: VoucherAccounts | None = None,
    *,
    ref: Callable[[SettlementLine], Any] = attrgetter("line_no"),
    prefix: str = "记",
) -> list[Voucher]:
    """Vouchers for the lines the batch matched; ``ref`` must give the same value the
    matcher's right ``ref`` field gave (the line number by default)."""
    matched = batch.matched_right_refs()
    return build_vouchers((line for line in lines if ref(line) in matched), accounts, prefix=prefix)


def voucher_csv_rows(vouchers: Iterable[Voucher]) -> Iterator[list[str]]:
    """Rows in the voucher-import layout, header first; amounts as decimal strings."""
    yield list(CSV_HEADER)
    for voucher in vouchers:
        for entry in voucher.entries:
            yield [
                voucher.day.isoformat(),
                voucher.voucher_no,
                entry.summary,
                entry.account.code,
                entry.account.name,
                minor_to_decimal_text(entry.debit_minor, voucher.currency),
                minor_to_decimal_text(entry.credit_minor, voucher.currency),
            ]


def write_vouchers_csv(vouchers: Iterable[Voucher], stream: TextIO) -> None:
    """Write the import CSV (open the stream with newline='' and e.g. utf-8-sig)."""
    csv.writer(stream).writerows(voucher_csv_rows(vouchers))
