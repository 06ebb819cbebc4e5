"""Format detection, fingerprints, streaming and the money/card helpers behind the parsers."""

import hashlib
import importlib.util
import io
import tracemalloc
from pathlib import Path

import pytest

from engines.match.bills import detect_format, file_fingerprint, open_bill, parse_bill
from engines.match.errors import BillFormatError, MatchError
from engines.match.money import (
    contains_full_card_number,
    decimal_to_minor,
    luhn_valid,
    minor_to_decimal_text,
)

DATA = Path(__file__).parent / "data"
UNIONPAY_HEADER = (
    "清算日期,交易日期,交易时间,商户号,终端号,卡号,交易类型,交易金额,手续费,清算金额,"
    "系统参考号,商户订单号"
)


@pytest.mark.parametrize(
    ("name", "channel"),
    [
        ("alipay_20261120.csv", "alipay"),
        ("alipay_utf8.csv", "alipay"),  # recognised, then refused for its encoding
        ("wechat_20261120_bom.csv", "wechat"),
        ("wechat_20261120.csv", "wechat"),
        ("unionpay_20261121.csv", "unionpay"),
        ("stripe_20261120.csv", "stripe"),
    ],
)
def test_detect_format_from_path_and_bytes(name: str, channel: str) -> None:
    path = DATA / name
    assert detect_format(path) == channel
    assert detect_format(path.read_bytes()) == channel


def test_detect_format_rewinds_a_file_object_and_parsing_sniffs_the_channel() -> None:
    with open(DATA / "stripe_20261120.csv", "rb") as stream:
        assert detect_format(stream) == "stripe"
        assert len(parse_bill(stream)) == 4


def test_unknown_format_is_refused() -> None:
    with pytest.raises(BillFormatError, match="unrecognised"):
        detect_format(b"a,b,c\n1,2,3\n")
    with pytest.raises(BillFormatError, match="unknown channel"):
        open_bill(b"a,b\n", "paypal")


def test_fingerprint_is_sha256_of_the_bytes_and_the_reader_computes_the_same() -> None:
    path = DATA / "wechat_20261120_bom.csv"
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert file_fingerprint(path) == expected
    assert file_fingerprint(path.read_bytes()) == expected
    reader = open_bill(path)
    assert reader.fingerprint is None
    list(reader)
    assert reader.fingerprint == expected
    # same transactions, no BOM and LF endings: a different file
    assert file_fingerprint(DATA / "wechat_20261120.csv") != expected


def test_a_reader_is_single_pass_and_incomplete_until_the_footer_checked() -> None:
    reader = open_bill(DATA / "alipay_20261120.csv")
    iterator = iter(reader)
    next(iterator)
    assert not reader.complete
    with pytest.raises(MatchError, match="only once"):
        iter(reader)


def test_text_mode_stream_is_refused() -> None:
    with pytest.raises(BillFormatError, match="binary"):
        parse_bill(io.StringIO("x"), "stripe")


def test_big_bill_streams_in_constant_memory(tmp_path: Path) -> None:
    rows = 20_000
    path = tmp_path / "unionpay_big.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(UNIONPAY_HEADER + "\r\n")
        for i in range(rows):
            out.write(
                f"20261121,20261120,100102,898310048990001,01234567,622588******1234,"
                f"消费,1.00,0.01,0.99,{i:012d},ORD-{i}\r\n"
            )
    tracemalloc.start()
    try:
        count = total = 0
        for line in open_bill(path):
            count += 1
            total += line.amount_minor
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, total) == (rows, rows * 100)
    assert path.stat().st_size > 2_000_000
    assert peak < 1_000_000, peak  # the file is > 2 MB; a streaming parse holds ~1 row


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        # 撤销 (void) is not a type this format settles
        (
            "20261121,20261120,100102,8983,0123,6225****1234,撤销,1.00,0.01,0.99,1,O",
            2,
            "交易类型",
            "unknown transaction type",
        ),
        (
            "20261121,20261120,100102,8983,0123,6225****1234,消费,-1.00,0.01,-1.01,1,O",
            2,
            "交易金额",
            "unsigned",
        ),
        (
            "20261121,20261120,100102,8983,0123,6225****1234,消费,1.00,0.01,0.99,1",
            2,
            None,
            "expected 12 columns, found 11",
        ),
        (
            "20261321,20261120,100102,8983,0123,6225****1234,消费,1.00,0.01,0.99,1,O",
            2,
            "清算日期",
            "bad date",
        ),
    ],
)
def test_unionpay_row_defects(text: str, line: int, field: str | None, words: str) -> None:
    data = f"{UNIONPAY_HEADER}\n{text}\n".encode()
    with pytest.raises(BillFormatError) as caught:
        parse_bill(data, "unionpay")
    assert (caught.value.line, caught.value.field) == (line, field)
    assert words in str(caught.value)


def test_stripe_other_reporting_categories_are_refused() -> None:
    text = (DATA / "stripe_20261120.csv").read_text().replace(",charge,", ",payout,", 1)
    with pytest.raises(BillFormatError) as caught:
        parse_bill(text.encode(), "stripe")
    assert (caught.value.line, caught.value.field) == (2, "reporting_category")


def test_alipay_row_after_the_detail_end_is_refused() -> None:
    lines = (DATA / "alipay_20261120.csv").read_bytes().decode("gbk").split("\r\n")
    lines.insert(9, lines[5])  # a copy of line 6 after "业务明细列表结束" (line 9)
    with pytest.raises(BillFormatError) as caught:
        parse_bill("\r\n".join(lines).encode("gbk"), "alipay")
    assert caught.value.line == 10


def test_decimal_to_minor() -> None:
    assert decimal_to_minor("100.00", 2) == 10000
    assert decimal_to_minor("-0.60", 2) == -60
    assert decimal_to_minor("1000", 0) == 1000
    assert decimal_to_minor("1.234", 3) == 1234
    assert decimal_to_minor("0.00500", 2, round_half_up=True) == 1
    assert decimal_to_minor("-0.00500", 2, round_half_up=True) == -1
    assert decimal_to_minor("0.00499", 2, round_half_up=True) == 0
    # a float would make 1.005 * 100 = 100.49999...; Decimal keeps it exact
    assert decimal_to_minor("1.005", 2, round_half_up=True) == 101
    for bad in ("1.001", "1,000.00", "1e3", "", " 1.00", "+1.00", "NaN"):
        with pytest.raises(ValueError):
            decimal_to_minor(bad, 2)


def test_minor_to_decimal_text() -> None:
    assert minor_to_decimal_text(123450, "CNY") == "1234.50"
    assert minor_to_decimal_text(-5, "CNY") == "-0.05"
    assert minor_to_decimal_text(1000, "JPY") == "1000"
    assert minor_to_decimal_text(1234, "KWD") == "1.234"


def test_card_number_checks() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert contains_full_card_number("card 6011111111111117 used")
    assert not contains_full_card_number("622588******1234")
    assert not contains_full_card_number("4111111111111112")  # not Luhn-valid
    assert not contains_full_card_number("2026112022001412340000000001")  # 28-digit id
    assert not contains_full_card_number("411111111111")  # 12 digits: too short


def test_committed_fixtures_are_what_the_script_writes(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_fixtures", DATA / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in DATA.glob("*.csv"))
    for name in written:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
