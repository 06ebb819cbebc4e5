"""Parsing of whole numbers from URLs and headers. ``str.isdigit`` accepts superscripts and
other scripts' digits that ``int`` refuses, and unbounded numbers overflow the database's
64-bit integers; both must be a 400, not a 500."""

from __future__ import annotations

import re

MAX_INT = 2**63 - 1
_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def whole_number(raw: str, limit: int = MAX_INT) -> int | None:
    """The non-negative integer ``raw`` spells in ASCII digits, or None when it is not one
    or exceeds ``limit``."""
    if not _ASCII_DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= limit else None
