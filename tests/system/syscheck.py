"""Assertions shared by the system tests (imported by name: conftest puts this folder on
sys.path)."""

from __future__ import annotations

import re
from typing import Any

ENVELOPE_KEYS = {"code", "message", "details", "request_id"}
# a run of digits standing on its own: runs inside hex identifiers (request ids, token
# digests: "ecafab8ba15340389760844815b82ee8") are random and pass Luhn one time in ten.
# The cards a test used are also searched glued to anything (``known`` below).
DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z_])\d{13,19}(?![0-9A-Za-z_])")


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.request.method, str(response.url),
                                            response.status_code, response.text[:500])
    return response.json() if response.content else None


def assert_envelope(response: Any) -> dict[str, Any]:
    """The one error shape: {"error": {"code", "message", "details", "request_id"}}."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == ENVELOPE_KEYS, body
    return body["error"]


def luhn_valid(digits: str) -> bool:
    """Independent of engines/form/cards.py on purpose: the scan must not share a bug
    with the code it checks."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_numbers_in(text: str, known: list[str] = ()) -> list[str]:
    """Every free-standing run of 13-19 digits that passes Luhn, plus each of the
    ``known`` cards anywhere, also written with spaces or dashes between its digits."""
    hits = [m.group() for m in DIGIT_RUN.finditer(text) if luhn_valid(m.group())]
    for card in known:
        digits = re.sub(r"\D", "", card)
        grouped = "[ -]?".join(digits)
        hits += re.findall(rf"(?<!\d){grouped}(?!\d)", text)
    return hits
