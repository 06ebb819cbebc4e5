"""Vouchers from matched settlement lines: balanced, reversed for refunds, reproducible."""

import csv
import dataclasses
import io
from datetime import date
from pathlib import Path

import pytest

from engines.match.bills import parse_bill
from engines.match.errors import VoucherError
from engines.match.matcher import reconcile
from engines.match.vouchers import (
    Account,
    VoucherAccounts,
    build_vouchers,
    voucher_csv_rows,
    vouchers_for_batch,
    write_vouchers_csv,
)

DATA = Path(__file__).parent / "data"


def alipay_batch():
    lines = parse_bill(DATA / "alipay_20261120.csv")
    ledger = [
        {
            "id": 101,
            "kind": line.kind,
            "gateway_txn_id": line.gateway_txn_id,
            "order_no": line.order_no,
            "currency": "CNY",
            "paid_at": line.occurred_at,
            # the ledger booked line 7's payment as 58.00: an amount mismatch, no voucher
            "amount": 5800 if line.line_no == 7 else line.amount_minor,
        }
        for line in lines
    ]
    return reconcile(ledger, lines), lines


def test_matched_alipay_lines_give_one_balanced_voucher_with_refund_reversed() -> None:
    batch, lines = alipay_batch()
    assert batch.summary.counts["matched"] == 2
    [voucher] = vouchers_for_batch(batch, lines)
    assert (voucher.voucher_no, voucher.day) == ("记-20261120-alipay-CNY", date(2026, 11, 20))
    assert (voucher.payments, voucher.refunds) == (1, 1)
    rows = [(e.account.code, e.debit_minor, e.credit_minor) for e in voucher.entries]
    assert rows == [
        ("1012", 9940, 0),
        ("6603", 60, 0),
        ("1122", 0, 10000),  # payment 100.00, fee 0.60
        ("1012", 0, 2982),
        ("6603", 0, 18),
        ("1122", 3000, 0),  # refund 30.00, fee back 0.18
    ]
    assert voucher.total_debit_minor == voucher.total_credit_minor == 13000
    assert voucher.entries[0].summary == "支付宝 2026-11-20 收款1笔 结算净额"
    assert voucher.entries[3].summary.startswith("支付宝 2026-11-20 退款1笔")


def test_csv_layout_with_decimal_strings() -> None:
    batch, lines = alipay_batch()
    out = io.StringIO(newline="")
    write_vouchers_csv(vouchers_for_batch(batch, lines), out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["日期", "凭证号", "摘要", "科目代码", "科目名称", "借方金额", "贷方金额"]
    assert rows[1] == [
        "2026-11-20",
        "记-20261120-alipay-CNY",
        "支付宝 2026-11-20 收款1笔 结算净额",
        "1012",
        "其他货币资金-渠道清算",
        "99.40",
        "0.00",
    ]
    assert [row[5:] for row in rows[2:]] == [
        ["0.60", "0.00"],
        ["0.00", "100.00"],
        ["0.00", "29.82"],
        ["0.00", "0.18"],
        ["30.00", "0.00"],
    ]
    assert rows[3][3:5] == ["1122", "应收账款"]
    assert rows[2][3:5] == ["6603", "财务费用-手续费"]


def test_rerunning_gives_the_same_vouchers() -> None:
    batch, lines = alipay_batch()
    again, lines_again = alipay_batch()
    assert vouchers_for_batch(batch, lines) == vouchers_for_batch(again, lines_again)


def test_days_currencies_and_zero_decimal_amounts() -> None:
    vouchers = build_vouchers(parse_bill(DATA / "stripe_20261120.csv"))
    assert [v.voucher_no for v in vouchers] == [
        "记-20261122-stripe-JPY",
        "记-20261122-stripe-KRW",
        "记-20261122-stripe-USD",
        "记-20261123-stripe-USD",
    ]  # by settlement date (available_on_utc)
    jpy_rows = [row for row in voucher_csv_rows(vouchers) if row[1].endswith("JPY")]
    assert [row[5:] for row in jpy_rows] == [["934", "0"], ["66", "0"], ["0", "1000"]]
    refund = vouchers[3]
    # Stripe keeps its fee on refunds: no fee entry, receivable reversed with 25.00
    assert [(e.account.code, e.debit_minor, e.credit_minor) for e in refund.entries] == [
        ("1012", 0, 2500),
        ("1122", 2500, 0),
    ]
    assert all(v.total_debit_minor == v.total_credit_minor for v in vouchers)


def test_day_without_settle_date_is_the_china_date() -> None:
    # line 7 completed at 00:00:03 CST on the 21st (16:00:03 UTC on the 20th)
    lines = parse_bill(DATA / "alipay_20261120.csv")
    days = [v.day for v in build_vouchers(lines)]
    assert days == [date(2026, 11, 20), date(2026, 11, 21)]


def test_accounts_are_configurable_per_channel() -> None:
    accounts = VoucherAccounts(
        receivable=Account("112201", "应收账款-客户"),
        clearing_by_channel={"wechat": Account("101202", "其他货币资金-微信")},
    )
    [voucher] = build_vouchers(parse_bill(DATA / "wechat_20261120.csv"), accounts)
    codes = {e.account.code for e in voucher.entries}
    assert codes == {"101202", "6603", "112201"}
    # payments 100.00 + 60.50 + 1.00, fees 0.60 + 0.36 + 0.01; refund 20.00, fee back 0.12
    assert voucher.total_debit_minor == (16150 - 97) + 97 + 2000
    assert voucher.total_credit_minor == 16150 + (2000 - 12) + 12


def test_inconsistent_line_is_refused() -> None:
    [line] = parse_bill(DATA / "unionpay_20261121.csv")[:1]
    broken = dataclasses.replace(line, net_minor=line.net_minor + 1)
    with pytest.raises(VoucherError) as caught:
        build_vouchers([broken])
    assert caught.value.detail["line"] == 2
