"""The credit approval fixture end to end: routing by amount, approvals, rejection, return."""

from __future__ import annotations

import pytest

from engines.flow.errors import FlowRuntimeError, TaskNotReady
from engines.flow.runtime import FlowRuntime

SMALL = {"amount": 4_999_999, "applicant_dept": "retail"}  # minor units: 49,999.99 CNY
LARGE = {"amount": 5_000_000, "applicant_dept": "retail"}  # exactly 50,000.00 CNY


def only(result):
    assert len(result.tasks) == 1, result.tasks
    return result.tasks[0]


def test_small_amount_goes_to_the_department_head_and_is_approved(runtime, credit) -> None:
    result = runtime.start(credit, SMALL, initiator="alice")
    task = only(result)
    assert (task.node_id, task.assignees, task.candidate_roles) == (
        "dept_manager", ["head_retail"], [],
    )  # fmt: skip
    done = runtime.complete(result.state, task.task_id, "approve", {"comment": "ok"}, "head_retail")
    assert done.status == {"state": "completed", "end": "approved_end"}
    assert done.tasks == []
    assert [(h["node_id"], h["action"], h["user"]) for h in runtime.history(done.state)] == [
        ("dept_manager", "approve", "head_retail")
    ]


def test_large_amount_needs_risk_then_finance(runtime, credit) -> None:
    result = runtime.start(credit, LARGE, initiator="alice")
    risk = only(result)
    assert (risk.node_id, risk.candidate_roles) == ("risk_specialist", ["risk_specialist"])
    assert risk.field_permissions[0] == {"key": "risk_level", "access": "edit", "required": True}
    result = runtime.complete(result.state, risk.task_id, "approve", {"risk_level": "B"}, "rita")
    finance = only(result)
    assert finance.node_id == "finance_director"
    result = runtime.complete(result.state, finance.task_id, "approve", {}, "fred")
    assert result.status["state"] == "completed"


@pytest.mark.parametrize("reject_at", ["risk_specialist", "finance_director"])
def test_a_rejection_ends_the_instance_as_rejected(runtime, credit, reject_at) -> None:
    result = runtime.start(credit, LARGE, initiator="alice")
    while result.tasks:
        task = only(result)
        action = "reject" if task.node_id == reject_at else "approve"
        result = runtime.complete(result.state, task.task_id, action, {}, "someone")
    assert result.status == {"state": "rejected", "end": "rejected_end"}
    assert runtime.status(result.state)["state"] == "rejected"


def test_completing_twice_is_refused(runtime, credit) -> None:
    result = runtime.start(credit, SMALL, initiator="alice")
    task = only(result)
    runtime.complete(result.state, task.task_id, "approve", {}, "head_retail")
    # the stale state is what a second, concurrent request would hold; the new state has no task
    done = runtime.complete(result.state, task.task_id, "approve", {}, "head_retail")
    with pytest.raises(TaskNotReady):
        runtime.complete(done.state, task.task_id, "approve", {}, "head_retail")


def test_return_to_the_previous_step_reopens_it(runtime, credit) -> None:
    result = runtime.start(credit, LARGE, initiator="alice")
    risk = only(result)
    result = runtime.complete(result.state, risk.task_id, "approve", {"risk_level": "C"}, "rita")
    finance = only(result)
    returned = runtime.complete(result.state, finance.task_id, "return", {}, "fred")
    again = only(returned)
    assert again.node_id == "risk_specialist"
    # SpiffWorkflow reopens the same task, so the inbox tells rounds apart by ``attempt``
    assert (again.task_id, risk.attempt, again.attempt) == (risk.task_id, 1, 2)
    history = runtime.history(returned.state)
    assert history[-1] == {
        "task_id": finance.task_id, "node_id": "finance_director", "action": "return",
        "user": "fred", "at": history[-1]["at"], "to": "risk_specialist",
    }  # fmt: skip
    result = runtime.complete(returned.state, again.task_id, "approve", {"risk_level": "A"}, "rita")
    assert only(result).node_id == "finance_director"


def test_return_to_a_node_that_is_not_behind_the_task_is_refused(runtime, credit) -> None:
    result = runtime.start(credit, LARGE, initiator="alice")
    with pytest.raises(FlowRuntimeError):
        runtime.return_to(result.state, only(result).task_id, "dept_manager")
    with pytest.raises(FlowRuntimeError):  # the credit fixture has no initiator step
        runtime.return_to(result.state, only(result).task_id, "initiator")


@pytest.mark.parametrize("key", ["action", "loom", "_secret", "not valid"])
def test_reserved_or_invalid_data_keys_are_refused(runtime, credit, key) -> None:
    with pytest.raises(FlowRuntimeError):
        runtime.start(credit, {**SMALL, key: 1}, initiator="alice")


def test_unknown_action_is_refused(runtime, credit) -> None:
    result = runtime.start(credit, SMALL, initiator="alice")
    with pytest.raises(FlowRuntimeError):
        runtime.complete(result.state, only(result).task_id, "maybe", {}, "x")


def test_a_new_runtime_continues_with_a_definition_loader(credit, clock, directory) -> None:
    first = FlowRuntime(directory=directory, clock=clock)
    result = first.start(credit, SMALL, initiator="alice")
    loaded = []

    def load(content_hash: str):
        loaded.append(content_hash)
        return credit

    second = FlowRuntime(directory=directory, clock=clock, definitions=load)
    done = second.complete(result.state, only(result).task_id, "approve", {}, "head_retail")
    assert done.status["state"] == "completed"
    assert loaded == [credit.content_hash]
