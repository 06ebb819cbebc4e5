"""Random rules + event streams for the differential test and the long bench run.

Every case gets its own entity / event types / process so that all cases can share one
worker pool and be sent in large batches, while each case keeps its own reference
evaluator. Values come from small pools (so equalities and boundaries actually hit) that
include the shapes durable_rules gets wrong: strings with spaces, `!`, quotes, backslashes,
NUL and CJK; 2 vs 2.0 vs "2.00"; exponent floats; huge ints; None; field names `id`,
`sid`, `label`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from engines.rule.conditions import MAX_BRANCHES, to_dnf
from engines.rule.reference import ReferenceEvaluator

FIELDS = {
    "n_int": "number", "n_dec": {"type": "number", "scale": 3}, "amount": "money",
    "pct": "percent", "day": "date", "moment": "datetime", "flag": "boolean",
    "channel": "select", "note": "text", "tags": "multiselect", "owner": "relation",
    "id": "number", "sid": "text", "label": "text", "card": "text",
}
CATEGORY_OF = {
    "n_int": "int", "n_dec": "dec", "amount": "money", "pct": "dec", "day": "date",
    "moment": "datetime", "flag": "bool", "channel": "str", "note": "str", "tags": "list",
    "owner": "int", "id": "int", "sid": "str", "label": "str", "card": "str",
}
STRINGS = ["a", "a ", "a!", "a b", 'q"t', "b\\s", "支付宝", "", "A", "ab", "z\x00z", "$x"]
INTS = [-3, 0, 1, 2, 5, 7, 10**15, -(10**15)]
DECS = ["0", "1.5", "1.50", "2", "2.0", "-0.01", "1234.5678", "1E+3", "0.005", "7", "1.55",
        "1.45", "1.999", "2.001", "0.0051", "-0.011", "-0.009"]
FLOATS = [0.1, 2.0, 1e-07, 1.5, 1e20]
MONEY = ["0.00", "1.00", "1", "12.34", "-5.5", "1000000.01", "0.01", "7", "12.3", "12.35",
         "-5.49", "0.5", "-5.51"]
TAGS = ["x", "y", "z y"]
OPS = {
    "int": ["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "is_empty", "is_not_empty"],
    "dec": ["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "is_empty"],
    "money": ["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "is_not_empty"],
    "date": ["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "is_empty"],
    "datetime": ["eq", "ne", "lt", "lte", "gt", "gte", "is_empty"],
    "bool": ["eq", "ne", "is_empty"],
    "str": ["eq", "ne", "in", "not_in", "contains", "is_empty", "is_not_empty"],
    "list": ["contains", "is_empty", "is_not_empty"],
}
TRIGGERS = ["record_created", "record_updated", "field_changed", "record_deleted", "event",
            "event", "event", "schedule", "process_completed", "step_reached"]
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
CASE_SPAN_S = 200_000


@dataclass
class Case:
    rule: dict[str, Any]
    schema_key: str
    events: list[dict[str, Any]] = field(default_factory=list)
    end_ts: int = 0


def _value(rng: random.Random, cat: str, base_day: dt.date, for_rule: bool) -> Any:
    if cat == "int":
        return rng.choice(INTS)
    if cat == "dec":
        if rng.random() < 0.2:
            return rng.choice(FLOATS)
        return rng.choice(DECS) if for_rule or rng.random() < 0.7 else rng.choice(INTS[:6])
    if cat == "money":
        return rng.choice(MONEY)
    if cat == "date":
        return (base_day + dt.timedelta(days=rng.randint(-3, 3))).isoformat()
    if cat == "datetime":
        moment = dt.datetime.combine(base_day, dt.time(rng.choice([0, 12, 15, 16, 23]),
                                                       rng.choice([0, 59])))
        moment += dt.timedelta(days=rng.randint(-2, 2))
        suffix = rng.choice(["Z", "+08:00", "", "-05:00"])
        return moment.isoformat() + suffix
    if cat == "bool":
        return rng.random() < 0.5
    if cat == "str":
        return rng.choice(STRINGS)
    return sorted(rng.sample(TAGS, rng.randint(0, 2)))


def _compare(rng: random.Random, trigger: str, base_day: dt.date) -> dict[str, Any]:
    name = rng.choice(list(FIELDS))
    cat = CATEGORY_OF[name]
    ops = list(OPS[cat])
    if trigger in ("record_updated", "field_changed") and cat != "list":
        ops += ["changed", "changed_from", "changed_to"]
    op = rng.choice(ops)
    term: dict[str, Any] = {"field": name, "op": op}
    if trigger in ("record_updated", "field_changed") and not op.startswith("changed") \
            and rng.random() < 0.25:
        term["field"] = "old." + name
    if op in ("is_empty", "is_not_empty", "changed"):
        return term
    if op in ("in", "not_in"):
        term["value"] = [_value(rng, cat, base_day, True) for _ in range(rng.randint(1, 3))]
    elif op == "contains":
        term["value"] = rng.choice(TAGS) if cat == "list" else rng.choice(["a", "!", " ", "b"])
    elif cat in ("date", "datetime") and op in ("eq", "ne", "lt", "lte", "gt", "gte") \
            and rng.random() < 0.5:
        term["value"] = {"relative": "today", "offset_days": rng.randint(-2, 2)}
    else:
        term["value"] = _value(rng, cat, base_day, True)
    return term


def _pattern(rng: random.Random, trigger: str, k: int) -> dict[str, Any]:
    kinds = ["count", "sum"] + (["sequence"] if trigger == "event" else [])
    kind = rng.choice(kinds)
    key = rng.choice(["card", "owner"])
    if kind == "count":
        return {"pattern": "count", "key": key, "window_s": rng.choice([30, 60, 600]),
                "op": rng.choice(["gt", "gte", "eq", "lt"]), "n": rng.randint(0, 3)}
    if kind == "sum":
        return {"pattern": "sum", "key": key, "field": rng.choice(["amount", "n_dec"]),
                "window_s": rng.choice([30, 60, 600]), "op": rng.choice(["gt", "lte", "eq"]),
                "value": rng.choice(["2", "12.34", "0", "1000"])}
    return {"pattern": "sequence", "key": key, "first": f"a{k}", "within_s": rng.choice([20, 60])}


def _tree(rng: random.Random, trigger: str, base_day: dt.date, depth: int, k: int,
          patterns: bool) -> dict[str, Any]:
    if depth == 0 or rng.random() < 0.35:
        if patterns and rng.random() < 0.2:
            return _pattern(rng, trigger, k)
        return _compare(rng, trigger, base_day)
    group = rng.choice(["all", "any"])
    return {group: [_tree(rng, trigger, base_day, depth - 1, k, patterns)
                    for _ in range(rng.randint(1, 3))]}


def make_case(rng: random.Random, k: int) -> Case:
    trigger_type = rng.choice(TRIGGERS)
    start = T0 + k * CASE_SPAN_S
    base_day = (dt.datetime.fromtimestamp(start, dt.UTC) + dt.timedelta(hours=8)).date()
    trigger: dict[str, Any] = {"type": trigger_type}
    rule: dict[str, Any] = {"key": f"r{k}", "name": f"rule {k}", "trigger": trigger,
                            "version": rng.randint(1, 3), "actions": []}
    if trigger_type == "event":
        trigger["event_type"] = f"b{k}"
        schema_key = f"event:b{k}"
    else:
        rule["entity"] = schema_key = f"e{k}"
        if trigger_type == "field_changed":
            trigger["field"] = rng.choice(list(FIELDS))
        if trigger_type == "schedule":
            trigger.update(cron="0 9 * * *", timezone="Asia/Shanghai")
        if trigger_type in ("process_completed", "step_reached"):
            trigger["process"] = f"p{k}"
        if trigger_type == "step_reached":
            trigger["step"] = "s1"
    patterns = trigger_type not in ("schedule",)
    while True:  # the compiler refuses more than MAX_BRANCHES OR-branches (tested apart)
        condition = _tree(rng, trigger_type, base_day, rng.randint(0, 3), k, patterns)
        try:
            if len(to_dnf(condition)) <= MAX_BRANCHES:
                break
        except ValueError:
            continue
    if trigger_type == "event" and rng.random() < 0.15:
        condition = {"all": [{"pattern": "absence", "key": "card", "then": f"c{k}",
                              "within_s": rng.choice([30, 90])},
                             _tree(rng, trigger_type, base_day, 1, k, False)]}
    if rng.random() < 0.1:
        condition = {"all": []}
    rule["condition"] = condition
    if rng.random() < 0.05:
        rule["options"] = {"priority": rng.randint(-5, 5)}
    case = Case(rule, schema_key)
    ts = start
    for i in range(rng.randint(4, 12)):
        ts += rng.choice([0, 1, 5, 10, 25, 40])
        jitter = -rng.choice([1, 30]) if rng.random() < 0.1 else 0
        case.events.append(_event(rng, rule, k, i, ts + jitter, base_day))
    case.end_ts = ts
    return case


def _record(rng: random.Random, base_day: dt.date) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in FIELDS:
        roll = rng.random()
        if roll < 0.12:
            continue
        data[name] = None if roll < 0.22 else _value(rng, CATEGORY_OF[name], base_day, False)
    if rng.random() < 0.7:
        data["card"] = rng.choice(["c1", "c2"])
        data["owner"] = rng.choice([1, 2])
    return data


def _event(rng: random.Random, rule: dict, k: int, i: int, ts: int,
           base_day: dt.date) -> dict[str, Any]:
    kind = rule["trigger"]["type"]
    event: dict[str, Any] = {"ref": f"{k}:{i}", "ts": ts, "data": _record(rng, base_day)}
    if rng.random() < 0.2 and kind != "event":
        event["ts"] = ts + 0.25 if rng.random() < 0.5 else f"{ts}.5"
    if kind == "event":
        event.update(trigger="event", type=rng.choice([f"b{k}", f"b{k}", f"a{k}", f"c{k}"]))
    elif kind in ("record_created", "record_updated", "record_deleted", "field_changed"):
        choices = ["record_created", "record_updated", "record_deleted"]
        event.update(trigger=rng.choice(choices), entity=rng.choice([f"e{k}", f"e{k}", "zz"]))
        if event["trigger"] == "record_updated":
            old = dict(event["data"]) if rng.random() < 0.5 else _record(rng, base_day)
            for name in rng.sample(list(FIELDS), 3):
                old[name] = _value(rng, CATEGORY_OF[name], base_day, False)
            event["old"] = old
    elif kind == "schedule":
        event.update(trigger="schedule", rule=rng.choice([f"r{k}", f"r{k}", "other"]),
                     entity=f"e{k}")
    else:
        event.update(trigger=rng.choice([kind, "process_started"]), process=f"p{k}",
                     step=rng.choice(["s1", "s2"]))
    return event


def make_cases(seed: int, count: int) -> list[Case]:
    rng = random.Random(seed)
    return [make_case(rng, k) for k in range(count)]


def schemas_for(cases: list[Case]) -> dict[str, Any]:
    return {case.schema_key: FIELDS for case in cases}


def run_differential(pool: Any, cases: list[Case], parts: int = 8) -> tuple[list[str], Counter]:
    """Send the cases through `pool` in `parts` batches (with an absence tick after each)
    and through one reference evaluator per case; return (mismatches, stats)."""
    schemas = schemas_for(cases)
    pool.load([c.rule for c in cases], schemas)
    references = [ReferenceEvaluator([c.rule], {c.schema_key: FIELDS}) for c in cases]
    expected: Counter = Counter()
    actual: Counter = Counter()
    true_terms: dict[tuple[str, str], set[str]] = {}
    mismatches: list[str] = []
    stats: Counter = Counter()
    size = -(-len(cases) // parts)
    done: list[int] = []
    for start in range(0, len(cases), size):
        batch = list(range(start, min(start + size, len(cases))))
        events = [e for k in batch for e in cases[k].events]
        stats["events"] += len(events)
        fired = pool.match(events)
        tick = cases[batch[-1]].end_ts + 45
        fired += pool.advance_clock(tick)
        for k in batch:
            for fire in references[k].process(cases[k].events):
                expected[(fire.rule_key, fire.event_ref)] += 1
                true_terms[(fire.rule_key, fire.event_ref)] = fire.true_terms
        done.extend(batch)
        for k in done:
            for fire in references[k].advance_clock(tick):
                expected[(fire.rule_key, fire.event_ref)] += 1
                true_terms[(fire.rule_key, fire.event_ref)] = fire.true_terms
        for result in fired:
            if result.error:
                mismatches.append(f"{result.rule_key} {result.event_ref}: {result.error}")
                continue
            key = (result.rule_key, result.event_ref)
            actual[key] += 1
            extra = set(result.conditions) - true_terms.get(key, set())
            if key in true_terms and extra:
                mismatches.append(f"{key}: engine says {sorted(extra)} held, reference not")
    for key in sorted(set(expected) | set(actual)):
        if expected[key] != actual[key]:
            rule = cases[int(key[0][1:])].rule
            mismatches.append(f"{key}: reference {expected[key]} fires, engine {actual[key]}; "
                              f"rule {rule}")
    stats["fires"] = sum(expected.values())
    stats["rules_that_fired"] = len({k[0] for k in expected})
    return mismatches, stats
