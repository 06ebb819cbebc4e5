"""Window state for correlation patterns, kept in the caller (not in durable_rules).

Why here: durable_rules timers run on the wall clock, joins consume events (one A pairs
with one B) and pending partial joins grow without bound, while our semantics are "exists
/ how many within T" on an explicit clock. Keeping the windows here makes them exact,
lets them survive a worker crash untouched, and keeps the engine at one context per
ruleset (far under its 1,024 limit). `export()` / `restore()` carry them over a restart.

Memory is bounded: entries older than the window are dropped on access and each term
keeps at most `max_keys` keys (least recently used evicted).
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from engines.rule.compile import CompiledRule, TermPlan
from engines.rule.values import DECIMAL, category_of, parse_value

_STATE_IDS: dict[tuple[str, int], str] = {}


def state_id(compiled: CompiledRule, plan: TermPlan) -> str:
    """Window identity: rule key + term path + the pattern itself, so a new version of a
    rule with an unchanged pattern keeps counting where the old one was, while two equal
    patterns in one rule do not count each event twice."""
    cache_key = (compiled.name, plan.index)
    found = _STATE_IDS.get(cache_key)
    if found is None:
        if len(_STATE_IDS) > 100_000:
            _STATE_IDS.clear()
        found = _STATE_IDS[cache_key] = json.dumps([compiled.key, plan.path, plan.term],
                                                      sort_keys=True)
    return found


def _encode_key(key: Any) -> list[str]:
    return ["d", str(key)] if isinstance(key, Decimal) else ["s", key]


def _decode_key(tagged: list[str]) -> Any:
    return Decimal(tagged[1]) if tagged[0] == "d" else tagged[1]


class WindowState:
    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self.clock = 0
        # state_id -> key -> deque of [ets_ms, value]; used by count, sum and sequence
        self.series: dict[str, OrderedDict[Any, deque[list[Any]]]] = {}
        # rule key -> list of pending absences (ordered by deadline)
        self.pending: dict[str, deque[dict[str, Any]]] = {}

    # -- helpers -----------------------------------------------------------------------
    def _entries(self, sid: str, key: Any) -> deque[list[Any]]:
        keys = self.series.setdefault(sid, OrderedDict())
        entries = keys.get(key)
        if entries is None:
            entries = keys[key] = deque()
            if len(keys) > self.max_keys:
                keys.popitem(last=False)
        else:
            keys.move_to_end(key)
        return entries

    @staticmethod
    def key_of(compiled: CompiledRule, plan: TermPlan, data: Mapping[str, Any] | None) -> Any:
        category = category_of(compiled.fields[plan.term["key"]])
        return parse_value(category or "", (data or {}).get(plan.term["key"]))

    # -- patterns ----------------------------------------------------------------------
    def aggregate(self, compiled: CompiledRule, plan: TermPlan, event: Mapping[str, Any],
                  ets: int) -> Any:
        """Count, sum or sequence value for the current event; count/sum include it."""
        key = self.key_of(compiled, plan, event.get("data"))
        if plan.mode == "sequence":
            if key is None:
                return False
            entries = self._entries(state_id(compiled, plan), key)
            horizon = ets - plan.term["within_s"] * 1000
            while entries and entries[0][0] < horizon:
                entries.popleft()
            return bool(entries)
        if key is None:
            return None  # no key, no window: the pattern does not hold
        entries = self._entries(state_id(compiled, plan), key)
        horizon = ets - plan.term["window_s"] * 1000
        while entries and entries[0][0] <= horizon:
            entries.popleft()
        amount = Decimal(0)
        if plan.mode == "sum":
            amount = parse_value(DECIMAL, (event.get("data") or {}).get(plan.term["field"]))
        entries.append([ets, amount or Decimal(0)])
        if plan.mode == "count":
            return len(entries)
        return sum((e[1] for e in entries), Decimal(0))

    def observe_sequence_first(self, compiled: CompiledRule, plan: TermPlan,
                               event: Mapping[str, Any], ets: int) -> None:
        """Record an event of the pattern's `first` type (after the current event was
        evaluated, so an event never pairs with itself)."""
        key = self.key_of(compiled, plan, event.get("data"))
        if key is not None:
            self._entries(state_id(compiled, plan), key).append([ets, None])

    def add_absence(self, compiled: CompiledRule, plan: TermPlan, event: Mapping[str, Any],
                    ets: int) -> None:
        key = self.key_of(compiled, plan, event.get("data"))
        if key is None:
            return
        self.pending.setdefault(compiled.key, deque()).append({
            "deadline": ets + plan.term["within_s"] * 1000,
            "key": _encode_key(key), "event": dict(event), "cancelled": False,
        })

    def cancel_absences(self, compiled: CompiledRule, plan: TermPlan,
                        event: Mapping[str, Any], ets: int) -> None:
        """A `then` event cancels every earlier pending absence of its key still open."""
        key = self.key_of(compiled, plan, event.get("data"))
        if key is None:
            return
        tagged = _encode_key(key)
        for pending in self.pending.get(compiled.key, ()):
            if pending["deadline"] >= ets and pending["key"] == tagged:
                pending["cancelled"] = True

    def due_absences(self, rule_key: str) -> list[dict[str, Any]]:
        """Pop the absences whose deadline passed (clock already advanced)."""
        queue = self.pending.get(rule_key)
        due = []
        while queue and queue[0]["deadline"] <= self.clock:
            pending = queue.popleft()
            if not pending["cancelled"]:
                due.append(pending["event"])
        return due

    # -- persistence -------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        """JSON-serializable snapshot (events must be JSON-serializable themselves)."""
        return {
            "clock": self.clock,
            "series": {
                sid: [[_encode_key(k), [[e[0], None if e[1] is None else str(e[1])]
                                       for e in entries]] for k, entries in keys.items()]
                for sid, keys in self.series.items()
            },
            "pending": {rule: list(queue) for rule, queue in self.pending.items()},
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        self.clock = int(snapshot["clock"])
        self.series = {
            sid: OrderedDict(
                (_decode_key(k), deque([e[0], None if e[1] is None else Decimal(e[1])]
                                       for e in entries))
                for k, entries in keys
            )
            for sid, keys in snapshot["series"].items()
        }
        self.pending = {rule: deque(dict(p) for p in queue)
                        for rule, queue in snapshot["pending"].items()}
