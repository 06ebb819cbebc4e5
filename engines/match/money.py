"""Money helpers: decimal text <-> integer minor units, currency exponents, card checks.

Amounts cross the engine boundary as integers in the currency's minor unit; these
helpers are the only place where decimal text is turned into such integers, always via
Decimal so no binary float ever rounds a fen away.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 currencies whose minor unit differs from 2 decimals (Stripe's list of
# zero-decimal currencies plus the three-decimal dinars).
_EXPONENT_OVERRIDES = {
    **dict.fromkeys("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD JOD KWD OMR TND".split(), 3),
}
_AMOUNT_RE = re.compile(r"-?\d+(?:\.\d+)?")
_DIGIT_RUN_RE = re.compile(r"\d+")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")


def currency_exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (JPY 0, CNY 2, KWD 3)."""
    return _EXPONENT_OVERRIDES.get(currency.upper(), 2)


def is_currency_code(text: str) -> bool:
    """True for an upper-case three-letter ISO 4217 style code."""
    return _CURRENCY_RE.fullmatch(text) is not None


def decimal_to_minor(text: str, exponent: int, *, round_half_up: bool = False) -> int:
    """Convert decimal text such as ``"-12.30"`` to integer minor units.

    Raises ValueError when the text is not a plain decimal number or carries more
    decimals than the currency has (unless ``round_half_up`` is set, for channels such
    as WeChat Pay that print fees with 5 decimals and settle them rounded per row).
    Half-up means half away from zero (四舍五入), the same for fees and refunds.
    """
    if _AMOUNT_RE.fullmatch(text) is None:
        raise ValueError(f"not a decimal amount: {text!r}")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the regex already filters
        raise ValueError(f"not a decimal amount: {text!r}") from exc
    scaled = value.scaleb(exponent)
    integral = scaled.to_integral_value(rounding=ROUND_HALF_UP)
    if integral != scaled and not round_half_up:
        raise ValueError(f"{text!r} has more than {exponent} decimals")
    return int(integral)


def minor_to_decimal_text(amount_minor: int, currency: str) -> str:
    """Format integer minor units as a decimal string ("1234.50"), the JSON money form."""
    exponent = currency_exponent(currency)
    value = Decimal(amount_minor).scaleb(-exponent)
    return f"{value:.{exponent}f}"


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def contains_full_card_number(text: str) -> bool:
    """True when the text holds a 13-19 digit run that passes Luhn: an unmasked PAN.

    Such a value must never be stored; bills are expected to carry masked numbers.
    """
    for run in _DIGIT_RUN_RE.findall(text):
        if 13 <= len(run) <= 19 and luhn_valid(run):
            return True
    return False
