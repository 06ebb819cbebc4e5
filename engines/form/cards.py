"""Card numbers (PANs) for the ``card_number`` field type.

Loom never stores a card number. A record keeps a token (a keyed HMAC of the number, so
the same card always gives the same token and rules can count transactions per card, but
nobody without the secret can test guesses against it), the last four digits and the
brand, which is everything settlement screens and rules need.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from engines.form.errors import FieldProblem

MIN_PAN_LENGTH, MAX_PAN_LENGTH = 12, 19
MIN_SECRET_BYTES = 16
TOKEN_PREFIX = "tok_"
_TOKEN_CONTEXT = b"loom-card-token-v1:"  # lets a future scheme coexist with this one

# (brand, prefix ranges as (low, high) inclusive strings of equal length, allowed lengths).
# Order matters: narrower ranges come before broad ones (Maestro is a catch-all).
_BRANDS: list[tuple[str, list[tuple[str, str]], range]] = [
    ("amex", [("34", "34"), ("37", "37")], range(15, 16)),
    ("diners", [("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")], range(14, 20)),
    ("jcb", [("3528", "3589")], range(16, 20)),
    ("visa", [("4", "4")], range(13, 20)),
    ("mastercard", [("51", "55"), ("2221", "2720")], range(16, 17)),
    ("discover", [("6011", "6011"), ("644", "649"), ("65", "65")], range(16, 20)),
    # UnionPay: 62 (including the 622126-622925 range co-branded with Discover) and the
    # newer 81 range; lengths 16-19.
    ("unionpay", [("62", "62"), ("81", "81")], range(16, 20)),
    ("maestro", [("5018", "5018"), ("5020", "5020"), ("5038", "5038"), ("5893", "5893"),
                 ("6304", "6304"), ("6759", "6759"), ("6761", "6763"), ("50", "50"),
                 ("56", "58"), ("67", "67")], range(12, 20)),
]


class CardNumberError(FieldProblem, ValueError):
    """A value is not a card number (wrong characters or length, failed checksum). It is a
    FieldProblem so a field parser can let it through; its message never repeats the
    number."""


@dataclass(frozen=True, slots=True)
class CardToken:
    token: str
    last4: str
    brand: str | None


def normalize_pan(value: str) -> str:
    """Digits only: spaces and dashes are dropped; anything else, or a length outside
    12-19 digits, raises CardNumberError."""
    if not isinstance(value, str):
        raise CardNumberError("card number must be text")
    digits = value.replace(" ", "").replace("-", "")
    if not digits.isascii() or not digits.isdigit():
        raise CardNumberError("card number may contain only digits, spaces and dashes")
    if not MIN_PAN_LENGTH <= len(digits) <= MAX_PAN_LENGTH:
        raise CardNumberError(
            f"card number must have {MIN_PAN_LENGTH} to {MAX_PAN_LENGTH} digits, "
            f"got {len(digits)}"
        )
    return digits


def luhn_valid(value: str) -> bool:
    """The Luhn (mod 10) checksum every payment card number carries; spaces and dashes
    are ignored. Catches all single-digit typos and most swaps of neighbours."""
    digits = value.replace(" ", "").replace("-", "") if isinstance(value, str) else ""
    if len(digits) < 2 or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_brand(value: str) -> str | None:
    """The card scheme from the number's prefix and length, or None when unknown:
    visa, mastercard, amex, unionpay, jcb, discover, diners or maestro."""
    try:
        digits = normalize_pan(value)
    except CardNumberError:
        return None
    for brand, ranges, lengths in _BRANDS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            if low <= digits[: len(low)] <= high:
                return brand
    return None


def tokenize(pan: str, secret: bytes, *, require_luhn: bool = True) -> CardToken:
    """Token, last four digits and brand of a card number.

    The token is ``tok_`` + hex HMAC-SHA256(secret, number): deterministic per secret,
    not reversible. Keep the secret out of the database: the number space is small
    (a bank's prefix plus 9 digits and a checksum), so whoever holds the secret and a token
    can find the number by trying them all. Some old UnionPay cards fail Luhn; pass
    ``require_luhn=False`` to accept them.
    """
    if not isinstance(secret, bytes | bytearray) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the tokenization secret must be at least {MIN_SECRET_BYTES} bytes")
    digits = normalize_pan(pan)
    if require_luhn and not luhn_valid(digits):
        raise CardNumberError("card number fails its checksum (mistyped digit?)")
    mac = hmac.new(bytes(secret), _TOKEN_CONTEXT + digits.encode("ascii"), hashlib.sha256)
    return CardToken(TOKEN_PREFIX + mac.hexdigest(), digits[-4:], card_brand(digits))


def mask(last4: str, brand: str | None = None) -> str:
    """Display form: ``**** **** **** 1234``; American Express and Diners keep their own
    grouping (``**** ****** *1234``, ``**** ****** 1234``)."""
    if not (isinstance(last4, str) and len(last4) == 4 and last4.isascii() and last4.isdigit()):
        raise ValueError("last4 must be four digits")
    if brand == "amex":
        return f"**** ****** *{last4}"
    if brand == "diners":
        return f"**** ****** {last4}"
    return f"**** **** **** {last4}"
