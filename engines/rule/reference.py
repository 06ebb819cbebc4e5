"""Plain-Python reference evaluator of the whole condition model: the source of truth.

It evaluates groups recursively (no OR expansion), compares exact Python values (Decimal,
date, aware datetime) and computes windows by scanning the full event history with an
explicit clock. Slow on purpose and simple enough to read; the engine path is tested
against it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engines.rule.model import schema_key, trigger_applies
from engines.rule.values import DATETIME, LIST, category_of, local_date, parse_value, timestamp_ms


@dataclass
class ReferenceFire:
    rule_key: str
    event_ref: Any
    true_terms: set[str] = field(default_factory=set)


@dataclass
class _Seen:
    event: Mapping[str, Any]
    ets: int
    index: int


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return left is not None and left == right
    if op == "ne":
        return left is None or left != right
    if left is None:
        return False
    return {"lt": left < right, "lte": left <= right, "gt": left > right,
            "gte": left >= right}[op]


class ReferenceEvaluator:
    """Feed events in arrival order with `process`; call `advance_clock` for absences."""

    def __init__(
        self,
        rules: Iterable[Mapping[str, Any]],
        schemas: Mapping[str, Mapping[str, Any]],
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.rules = [r for r in rules if r.get("options", {}).get("enabled", True)]
        self.schemas = schemas
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.clock = 0
        self.history: list[_Seen] = []
        self.absence_done: set[tuple[str, int]] = set()

    def _fields(self, rule: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.schemas[schema_key(rule)]

    def _value(self, rule: Mapping[str, Any], source: Mapping[str, Any] | None, name: str) -> Any:
        category = category_of(self._fields(rule)[name])
        return parse_value(category, (source or {}).get(name))

    def _in_stream(self, rule: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
        if not trigger_applies(rule, event):
            return False
        if rule["trigger"]["type"] == "field_changed":
            name = rule["trigger"]["field"]
            return self._value(rule, event.get("data"), name) != self._value(
                rule, event.get("old"), name)
        return True

    def process(self, events: Iterable[Mapping[str, Any]]) -> list[ReferenceFire]:
        fires: list[ReferenceFire] = []
        for event in events:
            self.clock = max(self.clock, timestamp_ms(event["ts"]))
            seen = _Seen(event, self.clock, len(self.history))
            self.history.append(seen)
            for rule in self.rules:
                if not self._in_stream(rule, event):
                    continue
                if any("pattern" in t and t["pattern"] == "absence"
                       for t in _leaves(rule.get("condition"))):
                    continue  # decided at the deadline, in advance_clock
                true_terms: set[str] = set()
                if self._eval(rule, rule.get("condition"), "condition", seen, self.clock,
                              true_terms):
                    fires.append(ReferenceFire(rule["key"], event.get("ref"), true_terms))
        return fires

    def advance_clock(self, now_s: Any) -> list[ReferenceFire]:
        """Fire absence rules whose deadline passed with no `then` event for the key."""
        self.clock = max(self.clock, timestamp_ms(now_s))
        fires: list[ReferenceFire] = []
        for rule in self.rules:
            absence = next((t for t in _leaves(rule.get("condition"))
                            if t.get("pattern") == "absence"), None)
            if absence is None:
                continue
            for seen in self.history:
                done_key = (rule["key"], seen.index)
                if done_key in self.absence_done or not self._in_stream(rule, seen.event):
                    continue
                key = self._value(rule, seen.event.get("data"), absence["key"])
                deadline = seen.ets + absence["within_s"] * 1000
                if key is None:
                    self.absence_done.add(done_key)
                    continue
                if deadline > self.clock:
                    continue
                self.absence_done.add(done_key)
                if self._then_seen(rule, absence, seen, key, deadline):
                    continue
                true_terms: set[str] = set()
                if self._eval(rule, rule.get("condition"), "condition", seen, self.clock,
                              true_terms, absence_due=True):
                    fires.append(ReferenceFire(rule["key"], seen.event.get("ref"), true_terms))
        return fires

    def _then_seen(self, rule: Mapping, absence: Mapping, first: _Seen, key: Any,
                   deadline: int) -> bool:
        for later in self.history[first.index + 1:]:
            event = later.event
            if (event.get("trigger") == "event" and event.get("type") == absence["then"]
                    and later.ets <= deadline
                    and self._value(rule, event.get("data"), absence["key"]) == key):
                return True
        return False

    def _eval(self, rule: Mapping, node: Mapping | None, path: str, seen: _Seen, now: int,
              true_terms: set[str], absence_due: bool = False) -> bool:
        if not node:
            return True
        if "all" in node:
            results = [self._eval(rule, child, f"{path}.all[{i}]", seen, now, true_terms,
                                  absence_due) for i, child in enumerate(node["all"])]
            return all(results)
        if "any" in node:
            results = [self._eval(rule, child, f"{path}.any[{i}]", seen, now, true_terms,
                                  absence_due) for i, child in enumerate(node["any"])]
            return any(results)
        if "pattern" in node:
            held = absence_due if node["pattern"] == "absence" else self._pattern(rule, node,
                                                                                  seen)
        else:
            held = self._term(rule, node, seen.event, now)
        if held:
            true_terms.add(path)
        return held

    def _term(self, rule: Mapping, term: Mapping, event: Mapping, now: int) -> bool:
        name, op = term["field"], term["op"]
        source = event.get("data")
        if name.startswith("old."):
            name, source = name[4:], event.get("old")
        category = category_of(self._fields(rule)[name])
        value = parse_value(category, (source or {}).get(name))
        if op in ("is_empty", "is_not_empty"):
            empty = value is None or value == "" or value == []
            return empty if op == "is_empty" else not empty
        if op.startswith("changed"):
            old = parse_value(category, (event.get("old") or {}).get(name))
            if old == value:
                return False
            if op == "changed":
                return True
            target = parse_value(category, term["value"])
            return (old if op == "changed_from" else value) == target
        if op == "contains":
            return value is not None and term["value"] in value
        if op in ("in", "not_in"):
            options = [parse_value(category, v) for v in term["value"]]
            inside = value is not None and value in options
            return inside if op == "in" else (value is None or not inside)
        raw = term["value"]
        if isinstance(raw, dict) and "field" in raw:
            other = parse_value(category, (event.get("data") or {}).get(raw["field"]))
            if other is None and op not in ("eq", "ne"):
                return False
            return _compare(op, value, other)
        if isinstance(raw, dict):
            target = local_date(now, self.tz) + dt.timedelta(days=raw.get("offset_days", 0))
            if value is not None and category == DATETIME:
                value = value.astimezone(self.tz).date()
            return _compare(op, value, target)
        assert category != LIST
        return _compare(op, value, parse_value(category, raw))

    def _pattern(self, rule: Mapping, term: Mapping, seen: _Seen) -> bool:
        key = self._value(rule, seen.event.get("data"), term["key"])
        if key is None:
            return False
        if term["pattern"] == "sequence":
            since = seen.ets - term["within_s"] * 1000
            return any(
                e.event.get("trigger") == "event" and e.event.get("type") == term["first"]
                and e.ets >= since
                and self._value(rule, e.event.get("data"), term["key"]) == key
                for e in self.history[: seen.index]
            )
        since = seen.ets - term["window_s"] * 1000
        window = [
            e for e in self.history[: seen.index + 1]
            if e.ets > since and self._in_stream(rule, e.event)
            and self._value(rule, e.event.get("data"), term["key"]) == key
        ]
        if term["pattern"] == "count":
            return _compare(term["op"], len(window), term["n"])
        total = sum((self._value(rule, e.event.get("data"), term["field"]) or Decimal(0)
                     for e in window), Decimal(0))
        return _compare(term["op"], total, parse_value("decimal", term["value"]))


def _leaves(node: Mapping | None) -> list[Mapping]:
    if not node:
        return []
    if "all" in node or "any" in node:
        return [leaf for child in node.get("all", node.get("any", [])) for leaf in _leaves(child)]
    return [node]
