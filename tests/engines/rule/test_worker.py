"""The supervised worker pool: matching, crash/hang/memory isolation, retry, replacement
of rules, window state surviving a restart of the pool."""

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from engines.rule.errors import RuleDefinitionError
from engines.rule.worker import RuleWorkerPool

FAULTY = str(Path(__file__).with_name("faulty_worker.py"))
SCHEMAS = {
    "payment": {"amount": "money", "channel": "select", "note": "text", "id": "number"},
    "event:card_txn": {"card": "text", "amount": "money"},
    "event:card_ack": {"card": "text"},
}
BIG = {
    "key": "big", "name": "大额", "entity": "payment", "trigger": {"type": "record_created"},
    "condition": {"all": [{"field": "amount", "op": "gt", "value": "1000.00"},
                          {"any": [{"field": "channel", "op": "eq", "value": "alipay"},
                                   {"field": "note", "op": "contains", "value": "!"}]}]},
    "actions": [{"type": "notify", "to": ["ops"], "message": "big payment"}],
}
ID_RULE = {
    "key": "id_gt", "name": "id", "entity": "payment", "trigger": {"type": "record_created"},
    "condition": {"field": "id", "op": "gt", "value": 5}, "actions": [],
}
VELOCITY = {
    "key": "velocity", "name": "刷卡频率", "trigger": {"type": "event", "event_type": "card_txn"},
    "condition": {"pattern": "count", "key": "card", "window_s": 60, "op": "gt", "n": 2},
    "actions": [],
}
NO_ACK = {
    "key": "no_ack", "name": "未确认", "trigger": {"type": "event", "event_type": "card_txn"},
    "condition": {"all": [{"pattern": "absence", "key": "card", "then": "card_ack",
                           "within_s": 30}]},
    "actions": [],
}


def payment(ref, amount, channel="wechat", note="", ts=1000, **extra):
    data = {"amount": amount, "channel": channel, "note": note, **extra}
    return {"ref": ref, "trigger": "record_created", "entity": "payment", "ts": ts,
            "data": data}


def txn(ref, card, ts, kind="card_txn"):
    return {"ref": ref, "trigger": "event", "type": kind, "ts": ts,
            "data": {"card": card, "amount": "1.00"}}


def fired(results):
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return [(r.rule_key, r.event_ref) for r in results]


def test_matches_with_conditions_and_field_named_id():
    with RuleWorkerPool(SCHEMAS) as pool:
        pool.load([BIG, ID_RULE])
        results = pool.match([
            payment(1, "1000.01", "alipay", id=6),
            payment(2, "1000.00", "alipay", id=5),
            payment(3, "5000", "wechat", "好!"),
            payment(4, "5000", "wechat", "ok"),
        ])
        assert fired(results) == [("big", 1), ("id_gt", 1), ("big", 3)]
        by_ref = {r.event_ref: r for r in results if r.rule_key == "big"}
        assert by_ref[1].conditions == ("condition.all[0]", "condition.all[1].any[0]")
        assert by_ref[3].conditions == ("condition.all[0]", "condition.all[1].any[1]")
        assert by_ref[1].rule_version == 1


def test_velocity_window_and_absence_on_explicit_clock():
    with RuleWorkerPool(SCHEMAS) as pool:
        pool.load([VELOCITY, NO_ACK])
        results = pool.match([txn("a", "c1", 100), txn("b", "c1", 130), txn("c", "c2", 131),
                              txn("d", "c1", 159), txn("e", "c1", 161),
                              txn("ack", "c2", 150, "card_ack")])
        # c1 events at 100,130,159 -> 3 in (99,159]; at 161 window (101,161] holds 3 again
        assert fired(results) == [("velocity", "d"), ("velocity", "e")]
        # deadlines (ts + 30): a 130, b 160, c 161, d 189, e 191. The ack's clock time is
        # clamped to 161 (it came after an event at 161), still in time to cancel c.
        # the clock never goes back: it is already at 161, so a and b are due
        assert fired(pool.advance_clock(120)) == [("no_ack", "a"), ("no_ack", "b")]
        assert fired(pool.advance_clock(188)) == []
        assert fired(pool.advance_clock(190)) == [("no_ack", "d")]
        assert fired(pool.advance_clock(10_000)) == [("no_ack", "e")]


def test_window_state_survives_a_new_pool():
    with RuleWorkerPool(SCHEMAS) as first:
        first.load([VELOCITY])
        assert fired(first.match([txn(1, "c9", 10), txn(2, "c9", 20)])) == []
        snapshot = first.export_state()
    with RuleWorkerPool(SCHEMAS) as second:
        second.load([VELOCITY])
        second.restore_state(snapshot)
        assert fired(second.match([txn(3, "c9", 30)])) == [("velocity", 3)]


def test_killed_worker_is_replaced_between_calls():
    with RuleWorkerPool(SCHEMAS) as pool:
        pool.load([BIG])
        (pid,) = pool.worker_pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        assert fired(pool.match([payment(1, "2000", "alipay")])) == [("big", 1)]
        assert pool.worker_pids() != [pid]


def _faulty_pool(mode, tmp_path, **options):
    argv = [sys.executable, FAULTY, mode, str(tmp_path / "marker")]
    return RuleWorkerPool(SCHEMAS, worker_argv=argv, **options)


def test_crash_during_a_batch_is_retried_once_on_a_fresh_worker(tmp_path):
    with _faulty_pool("crash_once", tmp_path) as pool:
        pool.load([BIG])
        events = [payment(1, "2000", "alipay"), payment(2, "2000", "__boom__", note="x!")]
        assert fired(pool.match(events)) == [("big", 1), ("big", 2)]
        assert (tmp_path / "marker").exists()


@pytest.mark.parametrize("mode", ["crash", "hang", "oom"])
def test_a_batch_that_fails_twice_comes_back_as_errors(tmp_path, mode):
    with _faulty_pool(mode, tmp_path, timeout_s=1.5, memory_limit_mb=400) as pool:
        pool.load([BIG, ID_RULE])
        events = [payment(1, "2000", "alipay", id=9), payment(2, "5", "__boom__")]
        results = pool.match(events)
        assert [(r.rule_key, r.event_ref) for r in results] == [
            ("big", 1), ("id_gt", 1), ("big", 2), ("id_gt", 2)]
        assert all(not r.ok and "failed twice" in r.error for r in results)
        # the pool keeps working for the next batch
        assert fired(pool.match([payment(3, "3000", "alipay")])) == [("big", 3)]


def test_replacing_a_rule_registers_a_new_versioned_ruleset():
    with RuleWorkerPool(SCHEMAS) as pool:
        (old,) = pool.load([BIG])
        assert fired(pool.match([payment(1, "1500", "alipay")])) == [("big", 1)]
        changed = {**BIG, "version": 2,
                   "condition": {"field": "amount", "op": "gt", "value": "2000"}}
        (new,) = pool.load([changed])
        assert new.name != old.name and "_v2_" in new.name
        results = pool.match([payment(2, "1500", "alipay"), payment(3, "2500", "wechat")])
        assert [(r.rule_key, r.rule_version, r.event_ref) for r in results] == [("big", 2, 3)]


def test_bad_rules_are_refused_before_anything_changes():
    with RuleWorkerPool(SCHEMAS) as pool:
        pool.load([BIG])
        bad = {**ID_RULE, "condition": {"field": "nope", "op": "eq", "value": 1}}
        with pytest.raises(RuleDefinitionError) as info:
            pool.load([BIG, bad])
        assert info.value.details == [{"path": "id_gt.condition.field",
                                       "message": "field 'nope' does not exist"}]
        assert fired(pool.match([payment(1, "1500", "alipay")])) == [("big", 1)]


def test_bad_event_values_are_reported_not_dropped():
    with RuleWorkerPool(SCHEMAS) as pool:
        pool.load([BIG])
        results = pool.match([payment(1, "lots", "alipay"), payment(2, "1500", "alipay")])
        assert results[0].rule_key == "big" and "not a decimal" in results[0].error
        assert fired(results[1:]) == [("big", 2)]


def test_two_workers_give_the_same_answers():
    events = [payment(i, str(900 + i), "alipay" if i % 3 else "wechat") for i in range(300)]
    with RuleWorkerPool(SCHEMAS, workers=2, batch_size=50) as pool:
        pool.load([BIG])
        results = fired(pool.match(events))
        assert len(set(pool.worker_pids())) == 2
    expected = [("big", i) for i in range(101, 300) if i % 3]
    assert results == expected


def test_pipelined_chunks_retry_only_the_chunk_that_failed(tmp_path):
    events = [payment(i, "2000", "__boom__" if i == 250 else "alipay") for i in range(600)]
    with _faulty_pool("crash_once", tmp_path, pipeline_chunk=100) as pool:
        pool.load([BIG])
        assert fired(pool.match(events)) == [("big", i) for i in range(600) if i != 250]
    with _faulty_pool("crash", tmp_path, pipeline_chunk=100) as pool:
        pool.load([BIG])
        results = pool.match(events)
        failed = [r.event_ref for r in results if not r.ok]
        assert failed == list(range(200, 300))  # the chunk holding event 250, nothing else
        assert [r.event_ref for r in results if r.ok] == [
            i for i in range(600) if not 200 <= i < 300]


def test_two_equal_window_patterns_in_one_rule_count_each_event_once():
    count = VELOCITY["condition"]
    twice = {**VELOCITY, "condition": {"all": [count, {"any": [count]}]}}
    with RuleWorkerPool(SCHEMAS) as pool:
        pool.load([twice])
        events = [txn(i, "c1", i) for i in range(4)]
        # counted once per event: more than 2 from the 3rd event on (doubled, from the 2nd)
        assert fired(pool.match(events)) == [("velocity", 2), ("velocity", 3)]
