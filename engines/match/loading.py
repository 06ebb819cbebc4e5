"""Loading one side of a reconciliation into compact parallel columns.

A million records must not stay alive as a million dicts or objects: only the fields
the matcher needs are kept, in parallel lists (pointers to values the records already
held), with a dict per kind from primary key to the record's position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter, itemgetter
from typing import Any

from engines.match.errors import MatchInputError

FieldName = str | int


@dataclass(frozen=True)
class MatchConfig:
    """Which field of a left/right record plays which role, and the matching tolerances.

    Every role is a pair (left field, right field). A field is a mapping key or an
    attribute name (an int indexes tuple records). ``currency`` None on a side means
    every record of that side is in ``default_currency``; ``ref`` None means the
    record's position in its input. ``window`` None switches the date check off.
    Refund amounts are compared as negative numbers: with ``normalize_refund_sign`` a
    side that stores refunds as positive amounts is flipped on load.
    """

    primary_key: tuple[FieldName, FieldName] = ("gateway_txn_id", "gateway_txn_id")
    fallback_key: tuple[FieldName, FieldName] | None = ("order_no", "order_no")
    amount: tuple[FieldName, FieldName] = ("amount", "amount_minor")
    currency: tuple[FieldName | None, FieldName | None] = ("currency", "currency")
    instant: tuple[FieldName, FieldName] | None = ("paid_at", "occurred_at")
    kind: tuple[FieldName, FieldName] = ("kind", "kind")
    ref: tuple[FieldName | None, FieldName | None] = ("id", "line_no")
    default_currency: str = "CNY"
    window: timedelta | None = timedelta(days=1)
    window_before: timedelta = timedelta(0)
    refund_kind: Any = "refund"
    normalize_refund_sign: bool = True
    naive_as_utc: bool = False

    def __post_init__(self) -> None:
        if self.window is not None and self.window < timedelta(0):
            raise MatchInputError("window must not be negative", field="window")
        if self.window_before < timedelta(0):
            raise MatchInputError("window_before must not be negative", field="window_before")


class SideColumns:
    """Parallel columns of one side plus its duplicate map and primary-key index."""

    __slots__ = (
        "name",
        "kinds",
        "primary",
        "fallback",
        "amounts",
        "currencies",
        "instants",
        "refs",
        "duplicate_of",
        "primary_index",
        "totals",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.kinds: list[Any] = []
        self.primary: list[Any] = []
        self.fallback: list[Any] = []
        self.amounts: list[int] = []
        self.currencies: list[str] = []
        self.instants: list[Any] = []
        self.refs: list[Any] = []
        self.duplicate_of: dict[int, int] = {}
        self.primary_index: dict[Any, dict[Any, int]] = {}
        self.totals: dict[str, int] = {}


def _getter(sample: Any, fields: Sequence[FieldName]) -> Any:
    if isinstance(sample, Mapping) or (
        isinstance(sample, Sequence) and all(isinstance(f, int) for f in fields)
    ):
        return itemgetter(*fields)
    if any(isinstance(f, int) for f in fields):
        raise MatchInputError("integer field positions need tuple or list records")
    return attrgetter(*fields)


def load_side(records: Iterable[Any], index: int, name: str, config: MatchConfig) -> SideColumns:
    """Read every record once into columns; flags duplicates (same kind and key)."""
    side = SideColumns(name)
    roles = {
        "kind": config.kind[index],
        "primary_key": config.primary_key[index],
        "amount": config.amount[index],
    }
    optional = {
        "fallback_key": config.fallback_key[index] if config.fallback_key else None,
        "currency": config.currency[index],
        "instant": (
            config.instant[index] if config.instant and config.window is not None else None
        ),
        "ref": config.ref[index],
    }
    roles.update({role: f for role, f in optional.items() if f is not None})
    position = {role: pos for pos, role in enumerate(roles)}
    fields = list(roles.values())
    pos_fallback = position.get("fallback_key", 0)
    pos_currency = position.get("currency", 0)
    pos_instant = position.get("instant", 0)
    pos_ref = position.get("ref", 0)
    default_currency = config.default_currency
    refund_kind = config.refund_kind
    flip_refunds = config.normalize_refund_sign
    naive_as_utc = config.naive_as_utc
    kinds, primary, fallback = side.kinds, side.primary, side.fallback
    amounts, currencies, instants, refs = side.amounts, side.currencies, side.instants, side.refs
    duplicate_of = side.duplicate_of
    fallback_seen: dict[Any, dict[Any, int]] = {}
    get = None
    last_kind: Any = object()
    kind_index: dict[Any, int] = {}
    for i, record in enumerate(records):
        if get is None:
            get = _getter(record, fields)
        try:
            values = get(record)
        except (KeyError, AttributeError, IndexError, TypeError) as exc:
            raise MatchInputError(
                f"{name} record {i}: cannot read field {exc}", element=name, record=i
            ) from None
        kind = values[0]
        key = values[1]
        amount = values[2]
        if type(amount) is not int:
            raise MatchInputError(
                f"{name} record {i}: amount must be integer minor units, got {amount!r}",
                element=name,
                field=str(roles["amount"]),
                record=i,
            )
        if flip_refunds and kind == refund_kind and amount > 0:
            amount = -amount
        if pos_instant:
            instant = values[pos_instant]
            if type(instant) is not datetime or instant.tzinfo is None:
                instant = _checked_instant(instant, naive_as_utc, name, i, roles["instant"])
            instants.append(instant)
        kinds.append(kind)
        primary.append(key)
        fallback_key = values[pos_fallback] if pos_fallback else None
        fallback.append(fallback_key)
        amounts.append(amount)
        currencies.append(values[pos_currency] if pos_currency else default_currency)
        refs.append(values[pos_ref] if pos_ref else i)
        if key:
            if kind != last_kind:
                kind_index = side.primary_index.setdefault(kind, {})
                last_kind = kind
            first = kind_index.setdefault(key, i)
            if first != i:
                duplicate_of[i] = first
        elif fallback_key:
            # No primary key: the fallback key identifies the record for duplicate checks.
            first = fallback_seen.setdefault(kind, {}).setdefault(fallback_key, i)
            if first != i:
                duplicate_of[i] = first
    side.totals = _totals_by_currency(currencies, amounts)
    return side


def _checked_instant(instant: Any, naive_as_utc: bool, name: str, i: int, field: Any) -> Any:
    """Slow path for instants that are not plain aware datetimes."""
    if not isinstance(instant, datetime):
        raise MatchInputError(
            f"{name} record {i}: instant must be a datetime, got {instant!r}",
            element=name,
            field=str(field),
            record=i,
        )
    if instant.tzinfo is not None:
        return instant  # an aware datetime subclass (e.g. a pandas Timestamp)
    if not naive_as_utc:
        raise MatchInputError(
            f"{name} record {i}: naive datetime {instant} (no time zone); pass aware "
            "datetimes or set naive_as_utc",
            element=name,
            field=str(field),
            record=i,
        )
    return instant.replace(tzinfo=UTC)


def _totals_by_currency(currencies: list[str], amounts: list[int]) -> dict[str, int]:
    distinct = set(currencies)
    if len(distinct) == 1:
        return {distinct.pop(): sum(amounts)}
    totals: dict[str, int] = {}
    for code, amount in zip(currencies, amounts, strict=True):
        totals[code] = totals.get(code, 0) + amount
    return totals
