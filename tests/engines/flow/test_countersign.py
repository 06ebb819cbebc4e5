"""Countersign fixtures, one per mode: who gets a task, when the vote ends, its outcome."""

from __future__ import annotations

import pytest

from engines.flow.deploy import deploy

MEMBERS = ["m1", "m2", "m3", "m4", "m5"]


def vote(runtime, deployed, votes: dict[str, str]):
    """Start with five members; each listed member votes in order while tasks remain."""
    result = runtime.start(deployed, {"board_members": MEMBERS}, initiator="alice")
    assert sorted(a for t in result.tasks for a in t.assignees) == MEMBERS
    for member, decision in votes.items():
        task = next((t for t in result.tasks if t.assignees == [member]), None)
        if task is None:
            break  # the vote already ended: remaining tasks were cancelled
        result = runtime.complete(result.state, task.task_id, decision, {}, member)
    return result


CASES = [
    # mode, votes in order, expected state, tasks still open after the votes
    ("all", dict.fromkeys(MEMBERS, "approve"), "completed", 0),
    ("all", {"m1": "approve", "m2": "reject", "m3": "approve"}, "rejected", 0),
    ("all", {"m1": "approve", "m2": "approve"}, "running", 3),
    ("any", {"m3": "approve", "m1": "reject"}, "completed", 0),
    ("any", {"m4": "reject", "m1": "approve"}, "rejected", 0),
    ("n_of_m", {"m1": "reject", "m2": "approve", "m3": "approve"}, "completed", 0),
    ("n_of_m", {"m1": "approve"}, "running", 4),
    ("n_of_m", {"m1": "reject", "m2": "reject", "m3": "reject", "m4": "reject"}, "rejected", 0),
    # 60 % of 5 = 3 approvals needed; 3 rejections make 3 approvals impossible
    ("percentage", {"m1": "approve", "m2": "reject", "m3": "approve", "m4": "approve"},
     "completed", 0),
    ("percentage", {"m1": "reject", "m2": "approve", "m3": "reject", "m4": "reject"},
     "rejected", 0),
    ("percentage", {"m1": "approve", "m2": "approve"}, "running", 3),
]  # fmt: skip


@pytest.mark.parametrize(("mode", "votes", "expected", "open_tasks"), CASES)
def test_countersign_modes(runtime, read_fixture, mode, votes, expected, open_tasks) -> None:
    deployed = deploy(read_fixture(f"countersign_{mode}.bpmn"))
    result = vote(runtime, deployed, votes)
    assert result.status["state"] == expected
    assert len(result.tasks) == open_tasks


def test_task_views_carry_the_running_tally(runtime, read_fixture) -> None:
    deployed = deploy(read_fixture("countersign_n_of_m.bpmn"))
    result = vote(runtime, deployed, {"m1": "approve"})
    tally = result.tasks[0].countersign
    assert tally == {"mode": "n_of_m", "n": 2, "pct": None, "total": 5, "approved": 1,
                     "rejected": 0, "pending": 4}  # fmt: skip
    assert deployed.user_tasks["board"].countersign.collection == "board_members"
