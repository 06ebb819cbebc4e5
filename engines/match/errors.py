"""Exceptions of the reconciliation engine.

One small hierarchy so the web layer can map every failure to a 4xx with structured
detail (which channel/element, which field, which line) instead of parsing messages.
"""

from __future__ import annotations

from typing import Any


class MatchError(Exception):
    """Base of every error the match engine raises on purpose."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail: dict[str, Any] = {k: v for k, v in detail.items() if v is not None}


class BillFormatError(MatchError):
    """A settlement bill file is not in the shape its channel promises.

    Carries the physical line number (1-based) so a user can open the file and look.
    """

    def __init__(
        self,
        problem: str,
        *,
        channel: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = []
        if channel:
            where.append(channel)
        if line is not None:
            where.append(f"line {line}")
        if field:
            where.append(field)
        prefix = ", ".join(where)
        super().__init__(
            f"{prefix}: {problem}" if prefix else problem,
            element=channel,
            line=line,
            field=field,
        )
        self.problem = problem
        self.channel = channel
        self.line = line
        self.field = field


class MatchInputError(MatchError):
    """A record handed to the matcher lacks a field or holds an unusable value."""


class VoucherError(MatchError):
    """A voucher could not be built, e.g. its debits and credits would not balance."""
