"""Approver timeouts on a controllable clock: remind, escalate, auto approve/reject."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engines.flow.designer import deploy_designer
from engines.flow.runtime import FlowRuntime


def definition(timeout: dict) -> dict:
    return {
        "key": "timed",
        "nodes": [
            {"id": "start", "type": "start"},
            {"id": "check", "type": "approver",
             "settings": {"assignee": {"kind": "user", "value": "ann"}, "timeout": timeout}},
            {"id": "sign", "type": "approver",
             "settings": {"assignee": {"kind": "user", "value": "bob"}}},
        ],
    }  # fmt: skip


def test_due_time_is_computed_on_the_runtime_clock(runtime, clock) -> None:
    deployed = deploy_designer(definition({"after": "P1DT2H", "action": "remind"}))
    result = runtime.start(deployed, {}, initiator="alice")
    expected = datetime(2030, 3, 2, 11, 0, tzinfo=UTC)
    assert runtime.next_timer_due(result.state) == expected
    assert result.tasks[0].due_at == expected.isoformat()


def test_month_durations_follow_the_calendar(runtime, clock) -> None:
    clock.now = datetime(2030, 1, 31, 12, 0, tzinfo=UTC)
    deployed = deploy_designer(definition({"after": "P1M", "action": "remind"}))
    result = runtime.start(deployed, {}, initiator="alice")
    # SpiffWorkflow adds the length of the starting month (January: 31 days)
    assert runtime.next_timer_due(result.state) == datetime(2030, 3, 3, 12, 0, tzinfo=UTC)


def test_nothing_fires_before_the_due_time(runtime, clock) -> None:
    deployed = deploy_designer(definition({"after": "PT4H", "action": "auto_approve"}))
    result = runtime.start(deployed, {}, initiator="alice")
    early = runtime.fire_due_timers(result.state, clock.now + timedelta(hours=3, minutes=59))
    assert [t.node_id for t in early.tasks] == ["check"]
    assert early.effects == []


def test_remind_keeps_the_task_open_and_emits_an_effect(runtime, clock) -> None:
    deployed = deploy_designer(definition({"after": "P1D", "action": "remind"}))
    result = runtime.start(deployed, {}, initiator="alice")
    task_id = result.tasks[0].task_id
    fired = runtime.fire_due_timers(result.state, clock.advance(days=1, seconds=1))
    assert [e["kind"] for e in fired.effects] == ["timer", "remind"]
    assert fired.effects[1] == {"kind": "remind", "node": "check"}
    assert [t.task_id for t in fired.tasks] == [task_id]
    assert runtime.next_timer_due(fired.state) is None  # reminds once
    again = runtime.fire_due_timers(fired.state, clock.advance(days=5))
    assert again.effects == []
    done = runtime.complete(again.state, task_id, "approve", {}, "ann")
    assert [t.node_id for t in done.tasks] == ["sign"]


def test_escalate_cancels_the_task_and_opens_one_for_the_escalation_target(runtime, clock):
    deployed = deploy_designer(definition(
        {"after": "PT8H", "action": "escalate", "escalate_to": {"kind": "user", "value": "boss"}}
    ))  # fmt: skip
    result = runtime.start(deployed, {}, initiator="alice")
    fired = runtime.fire_due_timers(result.state, clock.advance(hours=8))
    assert [(t.node_id, t.assignees) for t in fired.tasks] == [("check__escalated", ["boss"])]
    rejected = runtime.complete(fired.state, fired.tasks[0].task_id, "reject", {}, "boss")
    assert rejected.status == {"state": "rejected", "end": "check__rejected"}


@pytest.mark.parametrize(("action", "expected"), [("auto_approve", "sign"), ("auto_reject", None)])
def test_auto_decisions(runtime, clock, action, expected) -> None:
    deployed = deploy_designer(definition({"after": "PT1H", "action": action}))
    result = runtime.start(deployed, {}, initiator="alice")
    fired = runtime.fire_due_timers(result.state, clock.advance(hours=2))
    assert [t.node_id for t in fired.tasks] == ([expected] if expected else [])
    assert fired.status["state"] == ("running" if expected else "rejected")


def test_completing_in_time_cancels_the_timer(runtime, clock) -> None:
    deployed = deploy_designer(definition({"after": "PT1H", "action": "auto_reject"}))
    result = runtime.start(deployed, {}, initiator="alice")
    done = runtime.complete(result.state, result.tasks[0].task_id, "approve", {}, "ann")
    assert runtime.next_timer_due(done.state) is None
    later = runtime.fire_due_timers(done.state, clock.advance(days=30))
    assert [t.node_id for t in later.tasks] == ["sign"]


def test_due_times_survive_save_restore_in_another_runtime(clock, directory) -> None:
    deployed = deploy_designer(definition({"after": "P2D", "action": "auto_approve"}))
    first = FlowRuntime(directory=directory, clock=clock)
    result = first.start(deployed, {}, initiator="alice")
    due = first.next_timer_due(result.state)
    clock.advance(days=1)
    second = FlowRuntime(directory=directory, clock=clock, definitions=lambda h: deployed)
    assert second.next_timer_due(result.state) == due
    assert second.fire_due_timers(result.state).tasks[0].node_id == "check"  # not yet due
    clock.advance(days=1)
    assert second.fire_due_timers(result.state).tasks[0].node_id == "sign"


def test_can_migrate_checks_waiting_elements(runtime) -> None:
    v1 = deploy_designer(definition({"after": "P1D", "action": "remind"}))
    v2 = deploy_designer({**definition({"after": "P2D", "action": "remind"}), "name": "v2"})
    renamed = definition({"after": "P1D", "action": "remind"})
    renamed["nodes"][1]["id"] = "review"
    v3 = deploy_designer(renamed)
    result = runtime.start(v1, {}, initiator="alice")
    ok = runtime.can_migrate(result.state, v2)
    assert ok.ok and "check" in ok.waiting and "check__timeout" in ok.waiting
    blocked = runtime.can_migrate(result.state, v3)
    assert not blocked.ok
    assert set(blocked.missing) == {"check", "check__timeout"}
