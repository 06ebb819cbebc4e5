"""Each channel parser on real fixture files (see data/make_fixtures.py).

Expected values are read off the fixture text by hand: e.g. "58.80" yuan = 5880 fen,
"2026-11-21 00:00:03" CST = 2026-11-20 16:00:03 UTC.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engines.match.bills import PAYMENT, REFUND, open_bill, parse_bill
from engines.match.errors import BillFormatError

DATA = Path(__file__).parent / "data"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_alipay_gbk_bill_with_comments_tabs_and_footer() -> None:
    reader = open_bill(DATA / "alipay_20261120.csv", "alipay")
    lines = list(reader)
    assert [(x.line_no, x.kind) for x in lines] == [(6, PAYMENT), (7, PAYMENT), (8, REFUND)]
    first, second, refund = lines
    assert first.gateway_txn_id == "2026112022001412340000000001"  # trailing tab stripped
    assert first.order_no == "ORD-20261120-000001"
    assert (first.amount_minor, first.fee_minor, first.net_minor) == (10000, 60, 9940)
    assert first.currency == "CNY"
    assert first.occurred_at == utc(2026, 11, 20, 2, 1, 5)  # 完成时间 10:01:05 CST
    assert first.masked_card == "138****0000"
    # 商家实收 is the order amount minus the merchant discount: 63.80 - 5.00
    assert (second.amount_minor, second.fee_minor, second.net_minor) == (5880, 35, 5845)
    assert second.occurred_at == utc(2026, 11, 20, 16, 0, 3)
    assert (refund.amount_minor, refund.fee_minor, refund.net_minor) == (-3000, -18, -2982)
    assert refund.refund_no == "2026112000001"
    assert refund.gateway_txn_id == first.gateway_txn_id
    assert reader.complete
    assert (reader.totals.payments, reader.totals.refunds) == (2, 1)
    assert reader.totals.amount_minor == {"CNY": 10000 + 5880 - 3000}


@pytest.mark.parametrize(
    ("name", "line", "field", "words"),
    [
        ("alipay_bad_amount.csv", 7, "商家实收（元）", "58.8O"),
        ("alipay_footer_mismatch.csv", 10, None, "15890"),
        ("alipay_truncated.csv", 8, None, "missing"),
        ("alipay_utf8.csv", 1, None, "UTF-8"),
        ("alipay_full_card.csv", 8, "对方账户", "unmasked card"),
        ("alipay_missing_column.csv", 5, "服务费（元）", "missing column"),
    ],
)
def test_alipay_malformed(name: str, line: int, field: str | None, words: str) -> None:
    with pytest.raises(BillFormatError) as caught:
        parse_bill(DATA / name, "alipay")
    error = caught.value
    assert (error.channel, error.line, error.field) == ("alipay", line, field)
    assert words in str(error)
    assert error.detail["line"] == line


def test_alipay_full_card_never_reaches_the_message() -> None:
    with pytest.raises(BillFormatError) as caught:
        parse_bill(DATA / "alipay_full_card.csv", "alipay")
    assert "4111111111111111" not in str(caught.value)


@pytest.mark.parametrize("name", ["wechat_20261120_bom.csv", "wechat_20261120.csv"])
def test_wechat_bill_with_and_without_bom(name: str) -> None:
    lines = parse_bill(DATA / name, "wechat")
    assert [x.line_no for x in lines] == [2, 3, 4, 5]
    first = lines[0]
    assert first.gateway_txn_id == "4200001234202611200000000002"  # backtick removed
    assert first.order_no == "ORD-20261120-000002"
    assert (first.amount_minor, first.fee_minor, first.net_minor) == (10000, 60, 9940)
    assert first.occurred_at == utc(2026, 11, 20, 2, 1, 2)
    assert lines[1].fee_minor == 36  # 0.36300 rounds down
    assert lines[2].fee_minor == 1  # 0.00500 rounds half-up (banker's would give 0)
    assert lines[2].occurred_at == utc(2026, 11, 20, 15, 59, 59)
    refund = lines[3]
    assert refund.kind == REFUND
    assert (refund.amount_minor, refund.fee_minor, refund.net_minor) == (-2000, -12, -1988)
    assert refund.refund_no == "50000000012026112000000001"


@pytest.mark.parametrize(
    ("name", "line", "field", "words"),
    [
        ("wechat_bad_amount.csv", 3, "应结订单金额", "60.5x"),
        ("wechat_fee_total_mismatch.csv", 7, "手续费总金额", "86"),
        ("wechat_missing_column.csv", 1, "手续费", "missing column"),
        ("wechat_no_summary.csv", 5, None, "summary"),
        ("wechat_gbk.csv", 1, None, "UTF-8"),
    ],
)
def test_wechat_malformed(name: str, line: int, field: str | None, words: str) -> None:
    with pytest.raises(BillFormatError) as caught:
        parse_bill(DATA / name, "wechat")
    error = caught.value
    assert (error.channel, error.line, error.field) == ("wechat", line, field)
    assert words in str(error)


def test_wechat_summary_of_rounded_fees_is_accepted() -> None:
    text = (DATA / "wechat_20261120.csv").read_text("utf-8")
    # 60 + 36 + 1 - 12 = 85 fen, the sum of the per-row rounded fees
    rounded = text.replace("`0.84800", "`0.85000").encode()
    assert sum(x.fee_minor for x in parse_bill(rounded, "wechat")) == 85


def test_unionpay_masked_cards_cst_dates_and_refund_direction() -> None:
    payment, night, refund = parse_bill(DATA / "unionpay_20261121.csv", "unionpay")
    assert payment.gateway_txn_id == "000123456789"  # 系统参考号, leading zeros kept
    assert payment.masked_card == "622588******1234"
    assert (payment.amount_minor, payment.fee_minor, payment.net_minor) == (10000, 55, 9945)
    assert payment.occurred_at == utc(2026, 11, 20, 2, 1, 2)
    assert payment.settle_date == date(2026, 11, 21)
    assert night.occurred_at == utc(2026, 11, 20, 16, 0, 1)  # 00:00:01 CST on the 21st
    assert refund.kind == REFUND
    assert (refund.amount_minor, refund.fee_minor, refund.net_minor) == (-5000, -28, -4972)
    assert refund.settle_date == date(2026, 11, 22)


@pytest.mark.parametrize(
    ("name", "line", "field", "words"),
    [
        ("unionpay_full_card.csv", 3, "卡号", "unmasked card"),
        ("unionpay_bad_net.csv", 2, None, "net 9946"),
        ("unionpay_bad_time.csv", 4, "交易时间", "6 digits"),
    ],
)
def test_unionpay_malformed(name: str, line: int, field: str | None, words: str) -> None:
    with pytest.raises(BillFormatError) as caught:
        parse_bill(DATA / name, "unionpay")
    error = caught.value
    assert (error.channel, error.line, error.field) == ("unionpay", line, field)
    assert words in str(error)


def test_stripe_utc_lower_case_and_zero_decimal_currencies() -> None:
    usd, jpy, refund, krw = parse_bill(DATA / "stripe_20261120.csv", "stripe")
    assert usd.currency == "USD"
    assert (usd.amount_minor, usd.fee_minor, usd.net_minor) == (10000, 320, 9680)
    assert usd.occurred_at == utc(2026, 11, 20, 2, 1, 2)
    assert usd.settle_date == date(2026, 11, 22)
    assert usd.gateway_txn_id == "ch_3PqR0000000000000000001"
    assert jpy.currency == "JPY"
    assert (jpy.amount_minor, jpy.fee_minor, jpy.net_minor) == (1000, 66, 934)
    assert jpy.order_no == "ORD-20261121-000008"  # after a quoted description with a comma
    assert refund.kind == REFUND
    assert (refund.amount_minor, refund.net_minor) == (-2500, -2500)
    assert refund.gateway_txn_id == "re_3PqR0000000000000000001"
    assert (krw.currency, krw.amount_minor, krw.order_no) == ("KRW", 15000, None)


@pytest.mark.parametrize(
    ("name", "line", "field", "words"),
    [
        ("stripe_jpy_decimals.csv", 3, "gross", "more than 0 decimals"),
        ("stripe_net_mismatch.csv", 2, None, "net 9670"),
        ("stripe_missing_column.csv", 1, "source_id", "missing column"),
    ],
)
def test_stripe_malformed(name: str, line: int, field: str | None, words: str) -> None:
    with pytest.raises(BillFormatError) as caught:
        parse_bill(DATA / name, "stripe")
    error = caught.value
    assert (error.channel, error.line, error.field) == ("stripe", line, field)
    assert words in str(error)
