"""Turn one incoming event into the message a compiled rule's ruleset receives: one
feature `t<i>` per condition term, all ints or ASCII strings (see compile.py for why)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from engines.rule.compile import INT_LIMIT, CompiledRule, FieldRef, TermPlan, encode_string
from engines.rule.values import (
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    epoch_microseconds,
    parse_value,
)


def _field_value(plan: TermPlan, event: Mapping[str, Any], source: str | None = None) -> Any:
    record = event.get(source or plan.source) or {}
    return parse_value(plan.category or "", record.get(plan.field))


def _flag(plan: TermPlan, event: Mapping[str, Any]) -> bool:
    value = _field_value(plan, event)
    op = plan.op
    if op == "is_empty":
        return value is None or value == "" or value == []
    if op == "is_not_empty":
        return not (value is None or value == "" or value == [])
    if op == "contains":
        return value is not None and plan.constant in value
    if op == "in":
        return value is not None and value in plan.constant
    if op == "not_in":
        return value is None or value not in plan.constant
    if op in ("eq", "ne", "lt", "lte", "gt", "gte"):
        if isinstance(plan.constant, FieldRef):
            other = parse_value(plan.category or "", (event.get("data") or {}).get(
                plan.constant.name))
            if other is None and op not in ("eq", "ne"):
                return False
            plan = replace(plan, constant=other)
        if op == "eq":
            return value is not None and value == plan.constant
        if op == "ne":
            return value is None or value != plan.constant
        return value is not None and {
            "lt": value < plan.constant, "lte": value <= plan.constant,
            "gt": value > plan.constant, "gte": value >= plan.constant}[op]
    old = _field_value(plan, event, "old")
    if value == old:
        return False
    if op == "changed":
        return True
    return (old if op == "changed_from" else value) == plan.constant


def _round_scaled(value: Decimal, plan: TermPlan) -> int | None:
    """value * 10**scale as an int, rounded per the operator; None if `exact` is impossible."""
    scaled = value.scaleb(plan.scale)
    if plan.rounding == "floor":
        return math.floor(scaled)
    if plan.rounding == "ceil":
        return math.ceil(scaled)
    integral = scaled.to_integral_value()
    return int(integral) if integral == scaled else None


def _sentinel(plan: TermPlan) -> Any:
    """A value unequal to the term's constant, of the same type (mixed types misbehave)."""
    return "~" if isinstance(plan.constant, str) else plan.constant + 1


def encode_value(plan: TermPlan, value: Any, today: dt.date, tz: dt.tzinfo) -> Any:
    """Encoded feature for a `value`/`sum` term, or None when the feature must be absent."""
    equality = plan.op in ("eq", "ne")
    if value is None:
        return _sentinel(plan) if equality else None
    if plan.relative_offset is not None:
        day = value.astimezone(tz).date() if plan.category == DATETIME else value
        encoded: Any = (day - today).days
    elif plan.category == DECIMAL:
        encoded = _round_scaled(value, plan)
        if encoded is None:
            return _sentinel(plan)
    elif plan.category == DATE:
        encoded = value.toordinal()
    elif plan.category == DATETIME:
        encoded = epoch_microseconds(value)
    elif plan.category == BOOL:
        encoded = int(value)
    else:
        return encode_string(value)
    if abs(encoded) >= INT_LIMIT:
        if equality:
            return _sentinel(plan)
        return INT_LIMIT if encoded > 0 else -INT_LIMIT
    return encoded


def encode_event(
    compiled: CompiledRule,
    event: Mapping[str, Any],
    today: dt.date,
    tz: dt.tzinfo,
    window_values: Mapping[int, Any],
    absence_due: bool = False,
) -> dict[str, Any]:
    """The engine message for `event`; `window_values` maps term index -> count (int),
    sum (Decimal) or sequence (bool) computed by the caller's window state."""
    message: dict[str, Any] = {"_k": 1}
    for plan in compiled.terms:
        mode = plan.mode
        if mode == "value":
            encoded = encode_value(plan, _field_value(plan, event), today, tz)
        elif mode == "flag":
            encoded = int(_flag(plan, event))
        elif mode in ("count", "sum") and window_values[plan.index] is None:
            encoded = None  # absent feature: every comparison on it is false
        elif mode == "count":
            encoded = min(int(window_values[plan.index]), INT_LIMIT)
        elif mode == "sum":
            encoded = encode_value(plan, window_values[plan.index], today, tz)
        elif mode == "sequence":
            encoded = int(bool(window_values[plan.index]))
        else:
            encoded = int(absence_due)
        if encoded is not None:
            message[plan.feature] = encoded
    return message


__all__ = ["encode_event", "encode_value"]
