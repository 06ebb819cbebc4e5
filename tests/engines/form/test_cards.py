"""Card numbers: checksum, brand, normalization, tokens and masking, on the public test
numbers card schemes and payment processors publish."""

import hashlib
import hmac

import pytest

from engines.form.cards import (
    CardNumberError,
    CardToken,
    card_brand,
    luhn_valid,
    mask,
    normalize_pan,
    tokenize,
)
from engines.form.errors import FieldProblem

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))

KNOWN = [
    ("4111111111111111", "visa"), ("4012888888881881", "visa"), ("4222222222222", "visa"),
    ("5555555555554444", "mastercard"), ("5105105105105100", "mastercard"),
    ("2223003122003222", "mastercard"),
    ("378282246310005", "amex"), ("371449635398431", "amex"),
    ("6212345678901232", "unionpay"), ("6200000000000005", "unionpay"),
    ("6205500000000000004", "unionpay"), ("8171999927660000", "unionpay"),
    ("3566002020360505", "jcb"), ("3530111333300000", "jcb"),
    ("6011111111111117", "discover"), ("6011000990139424", "discover"),
    ("30569309025904", "diners"), ("38520000023237", "diners"), ("36227206271667", "diners"),
    ("6759649826438453", "maestro"), ("6304000000000000", "maestro"),
    ("6799990100000000019", "maestro"),
]


@pytest.mark.parametrize(("pan", "brand"), KNOWN)
def test_known_test_numbers_pass_luhn_and_have_their_brand(pan, brand):
    assert luhn_valid(pan)
    assert card_brand(pan) == brand


@pytest.mark.parametrize(
    "pan",
    ["4111111111111112", "4111111111111121", "5555555555554440", "378282246310006",
     "6212345678901233", "0", "", "41111111111111x1", "abc", "４１１１"],
)
def test_mistyped_or_junk_numbers_fail_luhn(pan):
    assert not luhn_valid(pan)


def test_luhn_by_hand():
    # 79927398713, worked by hand: from the right, double every second digit
    # (1->2, 8->16->7, 3->6, 2->4, 9->18->9): 3+2+7+7+9+6+7+4+9+9+7 = 70, divisible by 10
    assert luhn_valid("79927398713")
    assert not luhn_valid("79927398710")
    assert luhn_valid("4111 1111-1111 1111")
    assert not luhn_valid(None)


@pytest.mark.parametrize(
    "pan",
    ["1234567812345670",  # Luhn-valid, but no scheme starts with 1
     "55555555555544",  # mastercard prefix with 14 digits
     "37828224631000",  # amex prefix with 14 digits
     "99999999999999"],
)
def test_unknown_prefix_or_wrong_length_has_no_brand(pan):
    assert card_brand(pan) is None


def test_brand_of_junk_is_none():
    assert card_brand("not a card") is None
    assert card_brand("4111") is None


@pytest.mark.parametrize(
    ("raw", "digits"),
    [("4111 1111 1111 1111", "4111111111111111"), ("3782-822463-10005", "378282246310005"),
     ("  6212 3456 7890 1232 ", "6212345678901232"), ("123456789012", "123456789012")],
)
def test_normalize_strips_spaces_and_dashes(raw, digits):
    assert normalize_pan(raw) == digits


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [("4111.1111.1111.1111", "only digits"), ("4111111111111111a", "only digits"),
     ("４１１１１１１１１１１１１１１１", "only digits"), ("12345678901", "got 11"),
     ("12345678901234567890", "got 20"), (4111111111111111, "must be text")],
)
def test_normalize_rejects_bad_input_without_echoing_it(raw, fragment):
    with pytest.raises(CardNumberError) as info:
        normalize_pan(raw)
    assert fragment in str(info.value)
    assert "4111111111" not in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, FieldProblem)


def test_token_is_the_keyed_hmac_of_the_digits():
    token = tokenize("4111 1111 1111 1111", SECRET)
    expected = hmac.new(SECRET, b"loom-card-token-v1:4111111111111111", hashlib.sha256)
    assert token == CardToken("tok_" + expected.hexdigest(), "1111", "visa")
    assert len(token.token) == 4 + 64


def test_token_is_deterministic_per_card_and_secret():
    first = tokenize("5555555555554444", SECRET)
    assert tokenize("5555-5555-5555-4444", SECRET) == first
    assert tokenize("5555555555554444", OTHER_SECRET).token != first.token
    assert tokenize("4111111111111111", SECRET).token != first.token
    assert first.last4 == "4444" and first.brand == "mastercard"


def test_token_never_contains_the_number():
    for pan, _ in KNOWN:
        token = tokenize(pan, SECRET)
        assert pan not in token.token and pan not in repr(token)


def test_tokenize_refuses_bad_numbers_and_weak_secrets():
    with pytest.raises(CardNumberError, match="checksum"):
        tokenize("4111111111111112", SECRET)
    assert tokenize("4111111111111112", SECRET, require_luhn=False).last4 == "1112"
    with pytest.raises(CardNumberError):
        tokenize("4111", SECRET)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        tokenize("4111111111111111", b"short")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        tokenize("4111111111111111", "a text secret is not bytes")


def test_mask_for_display():
    assert mask("1234") == "**** **** **** 1234"
    assert mask("1111", "visa") == "**** **** **** 1111"
    assert mask("0005", "amex") == "**** ****** *0005"
    assert mask("5904", "diners") == "**** ****** 5904"
    for bad in ("123", "12345", "12a4", 1234):
        with pytest.raises(ValueError):
            mask(bad)
