"""Conditions over related-record fields (`customer.available_credit`, flattened into the
event data by the platform) and comparisons of two fields of one event."""

import pytest

from engines.rule.errors import RuleDefinitionError
from engines.rule.model import validate_rule
from engines.rule.reference import ReferenceEvaluator
from engines.rule.worker import RuleWorkerPool

FIELDS = {"amount": "money", "status": "select", "customer": "relation",
          "customer.available_credit": {"type": "number", "scale": 2},
          "customer.credit_status": "select", "customer.name": "text"}
SCHEMAS = {"sales_order": FIELDS}
CREDIT = {
    "key": "credit", "name": "额度检查", "entity": "sales_order",
    "trigger": {"type": "record_created"},
    "condition": {"any": [
        {"field": "amount", "op": "gt", "value": {"field": "customer.available_credit"}},
        {"field": "customer.credit_status", "op": "eq", "value": "frozen"}]},
    "actions": [],
}


def order(ref, amount, available, status="normal"):
    data = {"amount": amount, "customer": 1, "customer.available_credit": available,
            "customer.credit_status": status}
    return {"ref": ref, "trigger": "record_created", "entity": "sales_order", "ts": 1000,
            "data": data}


EVENTS = [
    order(1, "12000.01", "12000.00"),            # over by one fen -> fires
    order(2, "12000.00", "12000.00"),            # exactly the available amount -> passes
    order(3, "10", "12000.00", status="frozen"),  # frozen customer -> fires
    order(4, "10", None),                        # unknown available -> comparison is false
    order(5, "99999999999999999999.99", "0.5"),   # beyond int64 once scaled: still exact
]
EXPECTED = [1, 3, 5]


def test_reference_evaluator_compares_two_fields():
    fires = ReferenceEvaluator([CREDIT], SCHEMAS).process(EVENTS)
    assert [f.event_ref for f in fires] == EXPECTED


def test_engine_agrees_with_hand_worked_cases():
    with RuleWorkerPool(SCHEMAS) as pool:
        pool.load([CREDIT])
        results = pool.match(EVENTS)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assert [r.event_ref for r in results] == EXPECTED
    assert results[0].conditions == ("condition.any[0]",)


@pytest.mark.parametrize("term, message", [
    ({"field": "amount", "op": "gt", "value": {"field": "customer.nope"}}, "does not exist"),
    ({"field": "amount", "op": "gt", "value": {"field": "customer.name"}}, "cannot compare"),
    ({"field": "amount", "op": "in", "value": {"field": "customer.available_credit"}},
     "needs a list"),
    ({"field": "amount", "op": "gt", "value": {"field": "old.amount"}}, "current field"),
    ({"field": "customer.missing", "op": "eq", "value": "x"}, "does not exist"),
])
def test_bad_field_references_are_reported(term, message):
    with pytest.raises(RuleDefinitionError) as info:
        validate_rule({**CREDIT, "condition": term}, FIELDS)
    assert any(message in d["message"] for d in info.value.details), info.value.details
