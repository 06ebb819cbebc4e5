"""Generic reconciliation: pair a left record set (the ledger) with a right one (a channel).

Records are matched on (kind, primary key), then the leftovers on (kind, fallback key);
a pair is ``matched`` when currency and amount agree exactly in minor units and the
right's instant lies inside the date window after the left's. Instants are compared as
instants (aware datetimes), never as local dates, so 23:59 CST and 15:59 UTC agree.

Built for 1,000,000 x 1,000,000 in pure Python: inputs are consumed once from any
iterable, each side is kept as parallel lists of the few fields that matter (the
records themselves are not retained), and lookups go through dict[key] -> index.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from itertools import compress
from typing import Any

from engines.match.loading import MatchConfig, SideColumns, load_side
from engines.match.results import (
    AMOUNT_MISMATCH,
    DUPLICATE,
    FALLBACK,
    MATCHED,
    MISSING_IN_CHANNEL,
    MISSING_IN_LEDGER,
    OUT_OF_WINDOW,
    PRIMARY,
    CurrencyTotals,
    MatchBatch,
    MatchItem,
    MatchSummary,
)

__all__ = ["MatchConfig", "reconcile"]

_NO_PAIR = -1
_AMBIGUOUS = -2
_new_item = tuple.__new__


def reconcile(
    left: Iterable[Any], right: Iterable[Any], config: MatchConfig | None = None
) -> MatchBatch:
    """Match ledger records (left) against channel records (right); see MatchConfig.

    The result is deterministic: left records in input order (each with its partner),
    then the right records nobody claimed, in input order.
    """
    config = config or MatchConfig()
    # The run allocates millions of small acyclic containers; generational GC would
    # re-walk all of them (and the caller's records) over and over: measured 15.4 s
    # instead of 6 s for 1M x 1M. Nothing here creates cycles, so pause it meanwhile.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _reconcile(left, right, config)
    finally:
        if gc_was_enabled:
            gc.enable()


def _reconcile(left: Iterable[Any], right: Iterable[Any], config: MatchConfig) -> MatchBatch:
    left_side = load_side(left, 0, "left", config)
    right_side = load_side(right, 1, "right", config)
    left_pair, right_pair = _pair_by_primary(left_side, right_side)
    fallback_pairs: set[int] = set()
    if config.fallback_key is not None:
        fallback_pairs = _pair_by_fallback(left_side, right_side, left_pair, right_pair)
    summary = MatchSummary(left_records=len(left_side.refs), right_records=len(right_side.refs))
    for code in sorted(set(left_side.totals) | set(right_side.totals)):
        summary.currencies[code] = CurrencyTotals(
            left_side.totals.get(code, 0), right_side.totals.get(code, 0)
        )
    items: list[MatchItem] = []
    _emit_left(left_side, right_side, left_pair, fallback_pairs, config, items, summary)
    _emit_right(right_side, right_pair, items, summary)
    return MatchBatch(items=items, summary=summary)


def _pair_by_primary(left: SideColumns, right: SideColumns) -> tuple[list[int], list[int]]:
    left_pair = [_NO_PAIR] * len(left.refs)
    right_pair = [_NO_PAIR] * len(right.refs)
    for kind, left_index in left.primary_index.items():
        right_index = right.primary_index.get(kind)
        if not right_index:
            continue
        # Only first occurrences are in the indexes, so duplicates never pair.
        for key, i in left_index.items():
            j = right_index.get(key)
            if j is not None:
                left_pair[i] = j
                right_pair[j] = i
    return left_pair, right_pair


def _unpaired_by_fallback(side: SideColumns, pairs: list[int]) -> dict[tuple[Any, Any], int]:
    """(kind, fallback key) -> index among unpaired, non-duplicate records, or AMBIGUOUS."""
    found: dict[tuple[Any, Any], int] = {}
    duplicate_of, fallback, kinds = side.duplicate_of, side.fallback, side.kinds
    # compress/map run in C: only the (few) unpaired positions reach Python code.
    for i in compress(range(len(pairs)), map(_NO_PAIR.__eq__, pairs)):
        fallback_key = fallback[i]
        if not fallback_key or i in duplicate_of:
            continue
        key = (kinds[i], fallback_key)
        found[key] = _AMBIGUOUS if key in found else i
    return found


def _pair_by_fallback(
    left: SideColumns, right: SideColumns, left_pair: list[int], right_pair: list[int]
) -> set[int]:
    """Pair leftovers on the fallback key when it is unique on both sides and at least
    one of the two lacks a primary key (two different gateway ids are two payments)."""
    right_candidates = _unpaired_by_fallback(right, right_pair)
    if not right_candidates:
        return set()
    paired: set[int] = set()
    for key, i in _unpaired_by_fallback(left, left_pair).items():
        j = right_candidates.get(key, _AMBIGUOUS)
        if i == _AMBIGUOUS or j == _AMBIGUOUS:
            continue
        if left.primary[i] and right.primary[j]:
            continue
        left_pair[i] = j
        right_pair[j] = i
        paired.add(i)
    return paired


def _emit_left(
    left: SideColumns,
    right: SideColumns,
    left_pair: list[int],
    fallback_pairs: set[int],
    config: MatchConfig,
    items: list[MatchItem],
    summary: MatchSummary,
) -> None:
    append = items.append
    counts = summary.counts
    check_window = bool(left.instants) and bool(right.instants)
    latest = config.window
    earliest = -config.window_before
    r_amounts, r_currencies, r_refs = right.amounts, right.currencies, right.refs
    r_instants = right.instants
    l_instants = left.instants
    duplicate_of = left.duplicate_of
    matched = mismatched = late = missing = duplicates = 0
    columns = zip(
        left.kinds,
        left.primary,
        left.fallback,
        left.amounts,
        left.currencies,
        left.refs,
        left_pair,
        strict=True,
    )
    for i, (kind, key, fallback_key, amount, currency, ref, j) in enumerate(columns):
        if j >= 0:
            right_amount = r_amounts[j]
            right_currency = r_currencies[j]
            if i in fallback_pairs:
                how, pair_key = FALLBACK, fallback_key
            else:
                how, pair_key = PRIMARY, key
            if amount != right_amount or currency != right_currency:
                status = AMOUNT_MISMATCH
                mismatched += 1
            elif check_window and not (earliest <= r_instants[j] - l_instants[i] <= latest):
                status = OUT_OF_WINDOW
                late += 1
            else:
                status = MATCHED
                matched += 1
            # A cross-currency pair has no difference in one currency; the per-currency
            # summary still counts each side in its own currency.
            difference = right_amount - amount if currency == right_currency else None
            append(
                _new_item(
                    MatchItem,
                    (
                        status,
                        kind,
                        currency,
                        ref,
                        r_refs[j],
                        amount,
                        right_amount,
                        difference,
                        how,
                        pair_key,
                        None,
                    ),
                )
            )
        elif i in duplicate_of:
            duplicates += 1
            append(
                _new_item(
                    MatchItem,
                    (
                        DUPLICATE,
                        kind,
                        currency,
                        ref,
                        None,
                        amount,
                        None,
                        -amount,
                        None,
                        key or fallback_key,
                        left.refs[duplicate_of[i]],
                    ),
                )
            )
        else:
            missing += 1
            append(
                _new_item(
                    MatchItem,
                    (
                        MISSING_IN_CHANNEL,
                        kind,
                        currency,
                        ref,
                        None,
                        amount,
                        None,
                        -amount,
                        None,
                        key or fallback_key,
                        None,
                    ),
                )
            )
    counts[MATCHED] += matched
    counts[AMOUNT_MISMATCH] += mismatched
    counts[OUT_OF_WINDOW] += late
    counts[MISSING_IN_CHANNEL] += missing
    counts[DUPLICATE] += duplicates


def _emit_right(
    right: SideColumns, right_pair: list[int], items: list[MatchItem], summary: MatchSummary
) -> None:
    append = items.append
    duplicate_of = right.duplicate_of
    missing = duplicates = 0
    columns = zip(
        right.kinds,
        right.primary,
        right.fallback,
        right.amounts,
        right.currencies,
        right.refs,
        right_pair,
        strict=True,
    )
    for j, (kind, key, fallback_key, amount, currency, ref, i) in enumerate(columns):
        if i >= 0:
            continue
        if j in duplicate_of:
            duplicates += 1
            append(
                _new_item(
                    MatchItem,
                    (
                        DUPLICATE,
                        kind,
                        currency,
                        None,
                        ref,
                        None,
                        amount,
                        amount,
                        None,
                        key or fallback_key,
                        right.refs[duplicate_of[j]],
                    ),
                )
            )
        else:
            missing += 1
            append(
                _new_item(
                    MatchItem,
                    (
                        MISSING_IN_LEDGER,
                        kind,
                        currency,
                        None,
                        ref,
                        None,
                        amount,
                        amount,
                        None,
                        key or fallback_key,
                        None,
                    ),
                )
            )
    summary.counts[MISSING_IN_LEDGER] += missing
    summary.counts[DUPLICATE] += duplicates
