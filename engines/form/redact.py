"""Keep card numbers (PANs) out of logs and other text.

What counts as a card number here: 13 to 19 digits, written together or in groups split
by single spaces or dashes ("4111 1111 1111 1111", "3782-822463-10005"), that pass the
Luhn checksum and start with a digit card schemes use (2-6 or 8: Mastercard 2-series,
Amex/JCB/Diners, Visa, Mastercard/Maestro, UnionPay/Discover, UnionPay 81).

The trade-off: about one in ten random numbers passes Luhn, so a 13-19 digit order number
or a national ID starting with 2-6 or 8 is masked about one time in ten. We accept that
over-masking (those are often sensitive too) to never miss a real card. Two rules keep it
rare: a contiguous run of 20 or more digits is an identifier and is never searched inside,
and numbers starting with 0, 1, 7 or 9 are left alone, so millisecond timestamps
(1718...), most database ids and phone numbers (1xx in China) survive. Numbers glued to
letters are still checked: "pan=4111..." and "PAN4111..." are both masked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from engines.form.cards import luhn_valid

MIN_LENGTH, MAX_LENGTH = 13, 19
CARD_LEADING_DIGITS = frozenset("234568")
MASK_CHAR = "*"

# Digit groups joined by one space or dash; a digit run is never split in the middle.
_GROUPS = re.compile(r"(?<!\d)\d+(?:[ -]\d+)*")
_GROUP = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class PanMatch:
    start: int  # offsets into the text, end exclusive, separators included
    end: int
    digits: str


def _windows(text: str) -> list[tuple[PanMatch, list[int]]]:
    """Every run of whole groups that looks like a card, with its digits' offsets."""
    found: list[tuple[PanMatch, list[int]]] = []
    for sequence in _GROUPS.finditer(text):
        groups = [(m.start() + sequence.start(), m.group()) for m in _GROUP.finditer(
            sequence.group())]
        for first in range(len(groups)):
            if groups[first][1][0] not in CARD_LEADING_DIGITS:
                continue
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last][1]
                if len(digits) > MAX_LENGTH:
                    break
                if len(digits) >= MIN_LENGTH and luhn_valid(digits):
                    start = groups[first][0]
                    end = groups[last][0] + len(groups[last][1])
                    offsets = [start + i for i in range(end - start) if text[start + i].isdigit()]
                    found.append((PanMatch(start, end, digits), offsets))
    return found


def find_pans(text: str) -> list[PanMatch]:
    """Every card-number-like span in ``text`` (spans may overlap when groups of digits
    sit next to each other). Leak-scanning tests assert this is empty."""
    return [match for match, _ in _windows(text)]


def redact_pans(text: str) -> str:
    """``text`` with every card-number-like span masked except its last four digits,
    separators kept: "4111 1111 1111 1111" -> "**** **** **** 1111"."""
    if not isinstance(text, str) or len(text) < MIN_LENGTH:
        return text
    masked: set[int] = set()
    for _, offsets in _windows(text):
        masked.update(offsets[:-4])  # overlapping spans: masked by any span stays masked
    if not masked:
        return text
    chars = list(text)
    for offset in masked:
        chars[offset] = MASK_CHAR
    return "".join(chars)


class PanRedactingFilter(logging.Filter):
    """Masks card numbers in a log record: the formatted message (msg with its args, so
    a number passed as an int argument is caught too), the exception text and the stack.

    Attach it to handlers (``handler.addFilter(PanRedactingFilter())``): a filter on a
    logger does not see records propagated from child loggers. The exception traceback is
    formatted here with the default formatter and cached in ``record.exc_text``, so a
    formatter's custom ``formatException`` is not used for records that carry one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it, but mask parts
            if isinstance(record.msg, str):
                record.msg = redact_pans(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(redact_pans(a) if isinstance(a, str) else a
                                    for a in record.args)
        else:
            redacted = redact_pans(message)
            if redacted != message:
                record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_pans(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_pans(record.stack_info)
        return True
