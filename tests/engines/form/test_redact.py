"""Card numbers are masked in free text and in log records, and ordinary numbers are
left alone."""

import io
import logging
import time

import pytest

from engines.form.redact import PanMatch, PanRedactingFilter, find_pans, redact_pans


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111111111111111 declined", "card ************1111 declined"),
        ("card 4111 1111 1111 1111 exp 12/25", "card **** **** **** 1111 exp 12/25"),
        ("pan=5555-5555-5555-4444&cvv=123", "pan=****-****-****-4444&cvv=123"),
        ("amex 3782 822463 10005.", "amex **** ****** *0005."),
        ("银联卡6212345678901232已扣款", "银联卡************1232已扣款"),
        ("PAN4111111111111111", "PAN************1111"),
        ("two: 4111111111111111,378282246310005",
         "two: ************1111,***********0005"),
        ("6205500000000000004", "***************0004"),
        # a date, then a card, then a CVV-ish number in one run of groups
        ("2024-06-15 4111 1111 1111 1111 123", "2024-06-15 **** **** **** 1111 123"),
    ],
)
def test_card_numbers_are_masked_except_the_last_four(text, expected):
    assert redact_pans(text) == expected
    assert find_pans(redact_pans(text)) == []


@pytest.mark.parametrize(
    "text",
    [
        "order 20240615000012 shipped",  # not Luhn-valid
        "ts=1718000000000 user 13800138000",  # ms timestamp, China mobile (start with 1)
        "4111111111111111234",  # 19 digits, Luhn-invalid as a whole
        "id 41111111111111110000",  # 20+ digits: an identifier, not searched inside
        "4111111111111112",  # one digit off
        "amounts 4111 1111",  # too short
        "version 1.2.3, port 5432, pid 4111",
        "1234567812345670",  # Luhn-valid, but no card starts with 1
        "",
    ],
)
def test_ordinary_numbers_are_left_alone(text):
    assert redact_pans(text) == text
    assert find_pans(text) == []


def test_find_pans_reports_spans_and_digits():
    text = "a 4111 1111 1111 1111 b 378282246310005"
    assert find_pans(text) == [PanMatch(2, 21, "4111111111111111"),
                               PanMatch(24, 39, "378282246310005")]
    assert text[2:21] == "4111 1111 1111 1111"


def test_overlapping_candidates_are_all_masked():
    # 4111111111111111 followed by a group that, with the last groups, also passes Luhn:
    text = "4111 1111 1111 1111 4111 1111 1111 1111"
    redacted = redact_pans(text)
    assert redacted == "**** **** **** 1111 **** **** **** 1111"
    assert find_pans(redacted) == []


def test_redaction_is_fast_on_big_logs():
    text = ("txn 4111111111111111 amt 12.30 order 20240615000012 ts 1718000000000\n" * 2000)
    started = time.perf_counter()
    redacted = redact_pans(text)
    assert time.perf_counter() - started < 1.0
    assert redacted.count("************1111") == 2000
    assert "4111111111111111" not in redacted


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(PanRedactingFilter())
    logger = logging.getLogger("loom.test.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_log_message_and_args_are_masked(captured):
    logger, stream = captured
    logger.info("charging card 4111 1111 1111 1111")
    logger.info("charging %s for %s", "5555555555554444", "ACME")
    logger.info("raw pan %d", 378282246310005)
    logger.info("by name %(pan)s", {"pan": "6212345678901232"})
    logger.getChild("child").warning("child logger %s", "4111111111111111")
    output = stream.getvalue()
    assert find_pans(output) == []
    assert "charging card **** **** **** 1111" in output
    assert "charging ************4444 for ACME" in output
    assert "raw pan ***********0005" in output
    assert "by name ************1232" in output
    assert "child logger ************1111" in output


def test_records_without_card_numbers_are_untouched():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "order %s", ("20240615",), None)
    assert PanRedactingFilter().filter(record) is True
    assert record.msg == "order %s" and record.args == ("20240615",)


def test_exception_text_and_stack_are_masked(captured):
    logger, stream = captured
    try:
        raise ValueError("card 4111111111111111 rejected by bank")
    except ValueError:
        logger.exception("payment failed for %s", "5555 5555 5555 4444")
    logger.info("where am I", stack_info=True, extra={"unused": "4111111111111111"})
    output = stream.getvalue()
    assert "ValueError: card ************1111 rejected by bank" in output
    assert "payment failed for **** **** **** 4444" in output
    assert "Stack (most recent call last)" in output
    assert find_pans(output) == []


def test_broken_format_strings_still_get_masked():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "pan %s %s",
                               ("4111111111111111",), None)
    assert PanRedactingFilter().filter(record) is True
    assert record.args == ("************1111",)
