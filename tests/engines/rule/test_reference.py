"""The reference evaluator on hand-worked cases (expected values computed by hand)."""

from engines.rule.reference import ReferenceEvaluator

FIELDS = {"amount": "money", "n": "number", "name": "text", "due": "date",
          "at": "datetime", "status": "select", "card": "text"}
SCHEMAS = {"payment": FIELDS, "event:txn": FIELDS, "event:login": FIELDS,
           "event:ack": FIELDS}
DAY = 1_709_251_200  # 2024-03-01T00:00:00Z = 08:00 in Shanghai


def rule(condition, trigger=None, key="r"):
    return {"key": key, "name": key, "entity": "payment",
            "trigger": trigger or {"type": "record_updated"}, "condition": condition,
            "actions": []}


def updated(ref, data, old=None, ts=DAY):
    return {"ref": ref, "trigger": "record_updated", "entity": "payment", "ts": ts,
            "data": data, "old": old or {}}


def refs(fires):
    return [f.event_ref for f in fires]


def run(condition, events, trigger=None):
    return refs(ReferenceEvaluator([rule(condition, trigger)], SCHEMAS).process(events))


def test_numbers_compare_exactly():
    events = [updated(1, {"n": 2}), updated(2, {"n": "2.0"}), updated(3, {"n": "2.000001"}),
              updated(4, {"n": None}), updated(5, {})]
    assert run({"field": "n", "op": "eq", "value": "2.00"}, events) == [1, 2]
    assert run({"field": "n", "op": "ne", "value": 2}, events) == [3, 4, 5]
    assert run({"field": "n", "op": "lte", "value": 2}, events) == [1, 2]


def test_strings_with_awkward_characters():
    events = [updated(1, {"name": 'a "b\\!'}), updated(2, {"name": "a"}),
              updated(3, {"name": "支付 宝"})]
    assert run({"field": "name", "op": "eq", "value": 'a "b\\!'}, events) == [1]
    assert run({"field": "name", "op": "contains", "value": " "}, events) == [1, 3]
    assert run({"field": "name", "op": "in", "value": ["a", "支付 宝"]}, events) == [2, 3]


def test_relative_dates_use_the_event_clock_in_the_timezone():
    # event at 2024-03-01 08:00 Shanghai: today is 2024-03-01, 7 days ago is 2024-02-23
    events = [updated(1, {"due": "2024-02-22"}), updated(2, {"due": "2024-02-23"}),
              updated(3, {"at": "2024-02-22T16:30:00Z"}),  # 2024-02-23 00:30 Shanghai
              updated(4, {"at": "2024-02-22T15:59:00Z"})]
    week_ago = {"relative": "today", "offset_days": -7}
    assert run({"field": "due", "op": "lt", "value": week_ago}, events) == [1]
    assert run({"field": "at", "op": "lt", "value": week_ago}, events) == [4]


def test_changes_between_old_and_new():
    events = [updated(1, {"status": "paid"}, {"status": "new"}),
              updated(2, {"status": "paid"}, {"status": "paid"}),
              updated(3, {"status": "new"}, {"status": "paid"})]
    assert run({"field": "status", "op": "changed"}, events) == [1, 3]
    assert run({"field": "status", "op": "changed_to", "value": "paid"}, events) == [1]
    assert run({"all": [{"field": "status", "op": "changed_from", "value": "paid"},
                        {"field": "old.status", "op": "eq", "value": "paid"}]}, events) == [3]
    changed = {"type": "field_changed", "field": "status"}
    assert run({}, events, changed) == [1, 3]


def txn(ref, ts, card="c1", amount="10.00", kind="txn"):
    return {"ref": ref, "trigger": "event", "type": kind, "ts": ts,
            "data": {"card": card, "amount": amount}}


def test_count_and_sum_windows():
    on_txn = {"type": "event", "event_type": "txn"}
    events = [txn(1, 0), txn(2, 30), txn(3, 59, "c2"), txn(4, 60), txn(5, 61, amount="0.01")]
    count = {"pattern": "count", "key": "card", "window_s": 60, "op": "gte", "n": 3}
    # at 60 the window (0, 60] holds events 2 and 4 only (0 is out); at 61 it holds 2,4,5
    assert run(count, events, on_txn) == [5]
    total = {"pattern": "sum", "key": "card", "field": "amount", "window_s": 60,
             "op": "gt", "value": "20.00"}
    assert run(total, events, on_txn) == [5]


def test_sequence_and_absence():
    on_txn = {"type": "event", "event_type": "txn"}
    seq = {"pattern": "sequence", "key": "card", "first": "login", "within_s": 30}
    events = [txn(1, 0, kind="login"), txn(2, 20), txn(3, 31), txn(4, 40, "c2")]
    assert run(seq, events, on_txn) == [2]
    absence = {"pattern": "absence", "key": "card", "then": "ack", "within_s": 30}
    evaluator = ReferenceEvaluator([rule(absence, on_txn)], SCHEMAS)
    assert evaluator.process([txn(1, 0), txn(2, 10, "c2"), txn(3, 25, "c2", kind="ack"),
                              txn(4, 50)]) == []
    assert refs(evaluator.advance_clock(30)) == [1]
    assert refs(evaluator.advance_clock(100)) == [4]
