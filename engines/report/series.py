"""Time-series shaping done on the (small) grouped result: gap filling, moving averages.

A daily trend with a quiet day must still show that day (as zero), otherwise the line
skips it and a 7-day moving average silently averages over 8 calendar days.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from engines.report.measures import Measure
from engines.report.query import GroupRow

DEFAULT_MOVING_AVERAGE_WINDOW = 7


def fill_time_gaps(rows: Sequence[GroupRow], labels: Sequence[str]) -> list[GroupRow]:
    """Rows for every label in ``labels`` (in that order); missing buckets get empty parts.

    Empty parts (all None) make counts and sums 0 and averages/min/max null, which is what
    "no records in this bucket" means. Rows outside ``labels`` (e.g. NULL dates) follow.
    """
    by_label = {row.dims[0]: row for row in rows}
    part_labels = list(rows[0].parts) if rows else []
    filled = [
        by_label.get(label) or GroupRow((label,), dict.fromkeys(part_labels), (None,))
        for label in labels
    ]
    known = set(labels)
    return filled + [row for row in rows if row.dims[0] not in known]


def moving_average(values: Sequence[object], window: int, places: int) -> list[Decimal | None]:
    """Trailing mean over ``window`` points; None until the window is full or if a point is."""
    quantum = Decimal(1).scaleb(-places)
    averages: list[Decimal | None] = []
    for index in range(len(values)):
        if index + 1 < window:
            averages.append(None)
            continue
        chunk = values[index + 1 - window : index + 1]
        if any(value is None for value in chunk):
            averages.append(None)
            continue
        total = sum(Decimal(value) for value in chunk)
        averages.append((total / window).quantize(quantum, rounding=ROUND_HALF_UP))
    return averages


def average_places(measure: Measure) -> int:
    """Money keeps its scale; ratios keep 4 places; counts and numbers get 2."""
    if measure.value_type == "money":
        return measure.ref.scale
    if measure.agg == "ratio":
        return 4
    return 2
