"""Check digits of official identifiers a text field can be told to verify (``"check"``).

Why in the form engine: a typo in a unified social credit code sends a credit limit to
the wrong company, and the check digit catches nearly every single-character slip at
entry time, in the API and in imports alike. Each check is a function returning the
problem (a message) or None, registered by name in ``CHECKS``; the text field's settings
schema offers exactly these names.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# GB 32100-2015: 31 characters (no I, O, Z, S, V), weights 3^i mod 31 over 17 positions.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

# GB 11643-1999 resident identity number: weights 2^(17-i) mod 11, check "10X98765432".
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")


def uscc_check_char(first17: str) -> str:
    """The 18th character of a unified social credit code whose first 17 are given."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    """Why ``value`` is not a valid unified social credit code (统一社会信用代码), or None."""
    if len(value) != 18:
        return "is not a unified social credit code (18 characters)"
    if not _USCC_SHAPE.match(value):
        return ("is not a unified social credit code (digits and capitals except I, O, S, "
                "V, Z; characters 3-8 are the region code)")
    if uscc_check_char(value[:17]) != value[17]:
        return "is not a valid unified social credit code (check digit)"
    return None


def resident_id_check_char(first17: str) -> str:
    """The 18th character of a resident identity number whose first 17 digits are given."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def resident_id_problem(value: str) -> str | None:
    """Why ``value`` is not a valid 18-digit resident identity number, or None."""
    if not _ID_SHAPE.match(value):
        return "is not a resident identity number (17 digits and a digit or X)"
    if resident_id_check_char(value[:17]) != value[17]:
        return "is not a valid resident identity number (check digit)"
    return None


CHECKS: dict[str, Callable[[str], str | None]] = {
    "uscc": uscc_problem,
    "cn_resident_id": resident_id_problem,
}


def identifier_problem(check: str, value: str) -> str | None:
    """Run the named check; an unknown name is a programming error (KeyError)."""
    return CHECKS[check](value)
