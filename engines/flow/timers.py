"""Timer due times on the runtime's own clock.

Why not SpiffWorkflow's: it computes and compares due times with the wall clock
(``datetime.now``) inside the timer event definitions, so nothing can be tested without
waiting, and a scheduler cannot ask "what is due at 09:00?". We compute each waiting
timer's due time when it starts waiting, from an injected clock, keep it in the instance
metadata, and fire due timers through the public catch API (``task_spec.catch`` then
``refresh_timers``): no library class is patched. SpiffWorkflow's own wall-clock firing
still happens on ``do_engine_steps``; in production both clocks are the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from . import sandbox
from .errors import FlowRuntimeError


def waiting_timer_tasks(workflow: Any) -> list[Any]:
    return [
        task
        for task in workflow.get_tasks(state=TaskState.WAITING)
        if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)
    ]


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise FlowRuntimeError("clock must return timezone-aware datetimes")
    return moment.astimezone(UTC)


def compute_due(task: Any, now: datetime) -> datetime:
    """Due time of a timer task that starts waiting at ``now`` (sandboxed expression)."""
    definition = task.task_spec.event_definition
    if isinstance(definition, CycleTimerEventDefinition):
        raise FlowRuntimeError("cycle timers are not supported", element=task.task_spec.bpmn_id)
    value = sandbox.evaluate(definition.expression, task.data)
    if not isinstance(value, str):
        raise FlowRuntimeError(
            "a timer expression must give an ISO 8601 string", element=task.task_spec.bpmn_id
        )
    try:
        if isinstance(definition, DurationTimerEventDefinition):
            parsed = TimerEventDefinition.parse_iso_duration(value)
            return now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
        return TimerEventDefinition.get_datetime(value)
    except Exception as err:  # the library raises bare Exception for bad durations
        raise FlowRuntimeError(
            f"invalid timer value '{value}': {err}", element=task.task_spec.bpmn_id
        ) from None


def register(workflow: Any, timers: dict[str, str], now: datetime) -> None:
    """Give every newly waiting timer a due time; forget timers no longer waiting."""
    now = _as_utc(now)
    waiting = {str(task.id): task for task in waiting_timer_tasks(workflow)}
    for task_id in list(timers):
        if task_id not in waiting:
            del timers[task_id]
    for task_id, task in waiting.items():
        if task_id not in timers:
            timers[task_id] = compute_due(task, now).isoformat()


def fire_due(workflow: Any, timers: dict[str, str], now: datetime) -> list[str]:
    """Fire every timer due at ``now``; returns the BPMN ids of the fired timers."""
    now = _as_utc(now)
    fired = []
    for task in waiting_timer_tasks(workflow):
        due = timers.get(str(task.id))
        if due is not None and datetime.fromisoformat(due) <= now:
            task.task_spec.catch(task, BpmnEvent(task.task_spec.event_definition))
            fired.append(task.task_spec.bpmn_id)
    if fired:
        workflow.refresh_timers()
    return fired


def attached_due(task: Any, timers: dict[str, str]) -> str | None:
    """Earliest due time of the boundary timers attached to ``task`` (or its MI parent)."""
    dues = []
    node = task
    for _ in range(2):  # the task itself, then its multi-instance wrapper
        parent = node.parent
        if parent is None:
            break
        for sibling in parent.children:
            due = timers.get(str(sibling.id))
            if sibling is not node and due is not None:
                dues.append(due)
        node = parent
    return min(dues) if dues else None
