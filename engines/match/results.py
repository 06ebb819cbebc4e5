"""What a reconciliation run returns: one item per pair or unpaired record, plus totals.

Items are NamedTuples (compact: a million of them must fit in memory next to the
inputs) and the summary is plain data the platform can store or serialize.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engines.match.money import minor_to_decimal_text

MATCHED = "matched"
AMOUNT_MISMATCH = "amount_mismatch"
OUT_OF_WINDOW = "out_of_window"
MISSING_IN_CHANNEL = "missing_in_channel"
MISSING_IN_LEDGER = "missing_in_ledger"
DUPLICATE = "duplicate"
STATUSES = (
    MATCHED,
    AMOUNT_MISMATCH,
    OUT_OF_WINDOW,
    MISSING_IN_CHANNEL,
    MISSING_IN_LEDGER,
    DUPLICATE,
)
PRIMARY = "primary"
FALLBACK = "fallback"


class MatchItem(NamedTuple):
    """One result row: a pair (both refs set) or a record found on one side only.

    ``difference`` is right amount - left amount, a missing side counting as 0, so the
    batch difference is simply the sum over items (None for a pair whose two sides are
    in different currencies). For a ``duplicate`` item,
    ``duplicate_of`` is the ref of the first record with the same key on that side.
    """

    status: str
    kind: Any
    currency: str
    left_ref: Any
    right_ref: Any
    left_amount: int | None
    right_amount: int | None
    difference: int | None
    matched_by: str | None
    key: str | None
    duplicate_of: Any = None


@dataclass(slots=True)
class CurrencyTotals:
    """Sums over every item of one currency, in minor units."""

    left_total: int = 0
    right_total: int = 0

    @property
    def difference(self) -> int:
        """right - left: positive means the channel holds more than the ledger."""
        return self.right_total - self.left_total


@dataclass(slots=True)
class MatchSummary:
    """Counts per status and amounts per currency for one batch."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    currencies: dict[str, CurrencyTotals] = field(default_factory=dict)
    left_records: int = 0
    right_records: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form: minor-unit integers plus the decimal strings the API shows."""
        return {
            "counts": dict(self.counts),
            "left_records": self.left_records,
            "right_records": self.right_records,
            "currencies": {
                code: {
                    "left_total_minor": totals.left_total,
                    "right_total_minor": totals.right_total,
                    "difference_minor": totals.difference,
                    "left_total": minor_to_decimal_text(totals.left_total, code),
                    "right_total": minor_to_decimal_text(totals.right_total, code),
                    "difference": minor_to_decimal_text(totals.difference, code),
                }
                for code, totals in sorted(self.currencies.items())
            },
        }


@dataclass(slots=True)
class MatchBatch:
    """The reconciled batch: items in a deterministic order and their summary."""

    items: list[MatchItem]
    summary: MatchSummary

    def by_status(self, status: str) -> list[MatchItem]:
        """Items of one status, in batch order."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return [item for item in self.items if item.status == status]

    def matched_right_refs(self) -> set[Any]:
        """Refs of the right-side records that matched (the input of voucher building)."""
        return {item.right_ref for item in self.items if item.status == MATCHED}
