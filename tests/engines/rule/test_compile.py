"""Compiled rulesets use only the shapes proven safe on durable_rules 2.0.28."""

import json

import pytest

from engines.rule.compile import compile_rule
from engines.rule.errors import RuleDefinitionError

FIELDS = {"amount": "money", "id": "number", "label": "text", "n": "number", "due": "date"}


def rule(condition):
    return {"key": "r", "name": "r", "entity": "e", "trigger": {"type": "record_created"},
            "condition": condition, "actions": []}


def walk(node):
    yield node
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_or_groups_become_flat_branches_ending_with_the_guard_term():
    compiled = compile_rule(rule({"all": [
        {"any": [{"field": "id", "op": "gt", "value": 5},
                 {"field": "label", "op": "eq", "value": "x y!"}]},
        {"any": [{"field": "amount", "op": "lte", "value": "1e-7"},
                 {"field": "n", "op": "in", "value": [1, 2.0]}]},
    ]}), FIELDS)
    rules = compiled.ruleset[compiled.name]
    assert len(rules) == 4 and compiled.branches == [[0, 2], [0, 3], [1, 2], [1, 3]]
    for engine_rule in rules.values():
        terms = engine_rule["all"][0]["m"]["$and"]
        assert terms[-1] == {"_k": 1}
    tokens = list(walk(compiled.ruleset))
    assert "$or" not in tokens and "id" not in tokens and "label" not in tokens
    assert not any(isinstance(t, float) for t in tokens)
    assert "e-" not in json.dumps(compiled.ruleset).lower()
    # 1e-7 money compares as the scaled integer 1 at scale 7; label as ASCII JSON text
    assert {"$lte": {"t2": 1}} in rules["b0"]["all"][0]["m"]["$and"]
    assert {"t1": '"x y!"'} in rules["b2"]["all"][0]["m"]["$and"]
    assert {"t3": 1} in rules["b1"]["all"][0]["m"]["$and"]  # `in` decided in Python


def test_too_many_branches_is_refused_at_save():
    wide = {"any": [{"field": "n", "op": "eq", "value": i} for i in range(9)]}
    with pytest.raises(RuleDefinitionError) as info:
        compile_rule(rule({"all": [wide, wide]}), FIELDS)
    assert info.value.details[0]["path"] == "condition"
    assert "64" in info.value.details[0]["message"]


def test_ruleset_names_are_versioned_by_content():
    first = compile_rule(rule({"field": "n", "op": "eq", "value": 1}), FIELDS)
    again = compile_rule(rule({"field": "n", "op": "eq", "value": 1}), FIELDS)
    other = compile_rule(rule({"field": "n", "op": "eq", "value": 2}), FIELDS)
    assert first.name == again.name != other.name


def test_huge_constants_are_decided_in_python():
    compiled = compile_rule(rule({"field": "n", "op": "gt", "value": 1e20}), FIELDS)
    assert compiled.terms[0].mode == "flag"
