"""Engine path (compile -> encode -> worker subprocess -> durable_rules) against the
plain-Python reference on 1,000 random rules and their event streams, fixed seed.
A longer randomized run: `python bench/rules_engine.py --differential N`."""

import importlib.util
import sys
from pathlib import Path

from engines.rule.worker import RuleWorkerPool

SEED = 20240501
CASES = 1000


def _rule_cases():
    path = Path(__file__).with_name("rule_cases.py")
    spec = importlib.util.spec_from_file_location("rule_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["rule_cases"] = module
    spec.loader.exec_module(module)
    return module


def test_engine_agrees_with_reference_on_1000_random_rules():
    rule_cases = _rule_cases()
    cases = rule_cases.make_cases(SEED, CASES)
    with RuleWorkerPool() as pool:
        mismatches, stats = rule_cases.run_differential(pool, cases)
    assert mismatches == []
    # the generator must exercise the engine, not just agree on "nothing fires"
    assert stats["events"] > 5 * CASES
    assert stats["fires"] > CASES
    assert stats["rules_that_fired"] > CASES // 3


def test_generator_covers_every_shape():
    rule_cases = _rule_cases()
    cases = rule_cases.make_cases(SEED, CASES)
    seen_ops, seen_patterns, seen_triggers, relative = set(), set(), set(), 0

    def walk(node):
        nonlocal relative
        if "all" in node or "any" in node:
            for child in node.get("all", node.get("any")):
                walk(child)
        elif "pattern" in node:
            seen_patterns.add(node["pattern"])
        else:
            seen_ops.add(node["op"])
            relative += isinstance(node.get("value"), dict)

    for case in cases:
        seen_triggers.add(case.rule["trigger"]["type"])
        walk(case.rule["condition"])
    assert seen_ops == {"eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains",
                        "is_empty", "is_not_empty", "changed", "changed_from", "changed_to"}
    assert seen_patterns == {"count", "sum", "sequence", "absence"}
    assert seen_triggers >= {"record_created", "record_updated", "field_changed", "event",
                             "schedule", "process_completed", "step_reached", "record_deleted"}
    assert relative > 20
