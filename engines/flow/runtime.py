"""``FlowRuntime``: run deployed processes on plain data (state in, state out).

Why this shape: the platform keeps an instance as one JSON text column and completes
tasks under a row lock, so every operation here takes the saved ``state`` string and
returns a ``FlowResult`` with the new state, the READY user tasks (assignment resolved),
the status, and the effects (CC, reminders, platform actions) to act on. Instances are
pinned to the definition they started on: the state names its content hash and the
runtime restores exactly that spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import timers
from .assignment import Directory
from .errors import FlowError, FlowRuntimeError, InstanceErrored, TaskNotReady
from .model import DeployedProcess, TaskSpecView
from .runtime_support import Action, Step, countersign_tally, multi_instance_parent, task_view
from .sandbox_guards import measure
from .script_engine import RestrictedEnvironment, RestrictedScriptEngine
from .serializer import FlowSerializer

ACTIONS = ("approve", "reject", "return", "submit")
RESERVED_KEYS = frozenset({"action", "countersign", "loom"})


@dataclass
class FlowResult:
    """What one runtime operation produced; ``state`` is what the platform stores."""

    state: str
    status: dict[str, Any]
    tasks: list[TaskSpecView]
    effects: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class MigrationCheck:
    """Whether an instance's waiting elements all exist in another version."""

    ok: bool
    waiting: list[str]
    missing: list[str]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def clean_input(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Form data from a user: no reserved or ``_`` keys, bounded size."""
    cleaned: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise FlowRuntimeError(f"data key {key!r} is not a valid name", field=str(key))
        if key in RESERVED_KEYS:
            raise FlowRuntimeError(f"data key '{key}' is reserved", field=key)
        cleaned[key] = value
    measure(cleaned)
    return cleaned


class FlowRuntime:
    """Starts and advances instances; holds no per-instance state between calls."""

    def __init__(
        self,
        *,
        actions: Mapping[str, Action] | None = None,
        directory: Directory | None = None,
        clock: Callable[[], datetime] = _utc_now,
        definitions: Callable[[str], DeployedProcess] | None = None,
        serializer: FlowSerializer | None = None,
        time_limit: float = 1.0,
    ) -> None:
        self.actions = dict(actions or {})
        self.directory = directory
        self.clock = clock
        self.serializer = serializer or FlowSerializer()
        self.time_limit = time_limit
        self._load_definition = definitions
        self._definitions: dict[str, DeployedProcess] = {}

    # -- plumbing ----------------------------------------------------------------------
    def register(self, deployed: DeployedProcess) -> None:
        """Make a definition known so states that reference it can be restored."""
        self._definitions[deployed.content_hash] = deployed

    def definition(self, content_hash: str) -> DeployedProcess:
        deployed = self._definitions.get(content_hash)
        if deployed is None and self._load_definition is not None:
            deployed = self._load_definition(content_hash)
            self.register(deployed)
        if deployed is None:
            raise FlowRuntimeError("unknown process definition", definition=content_hash)
        return deployed

    def _step(self, deployed: DeployedProcess, meta: dict[str, Any], now: datetime | None) -> Step:
        return Step(deployed, meta, now or self.clock(), self.actions, self.directory)

    def _engine(self, step: Step) -> RestrictedScriptEngine:
        return RestrictedScriptEngine(
            RestrictedEnvironment(step.call_service, time_limit=self.time_limit)
        )

    def _open(self, state: str, now: datetime | None = None) -> tuple[BpmnWorkflow, Step]:
        deployed = self.definition(self.serializer.definition_of(state))
        step = self._step(deployed, {}, now)
        workflow, meta = self.serializer.load(state, deployed, self._engine(step))
        step.meta = meta
        if meta.get("error"):
            raise InstanceErrored("instance is in error", error=meta["error"])
        return workflow, step

    @staticmethod
    def _advance(step: Step, run: Callable[[], None]) -> None:
        """Run engine work; a failure inside the flow marks the instance errored."""
        try:
            run()
        except FlowError as err:
            step.meta["error"] = {"code": err.code, "message": err.message, **err.detail}
        except SpiffWorkflowException as err:
            task = getattr(err, "task", None)
            element = getattr(getattr(task, "task_spec", None), "bpmn_id", None)
            step.meta["error"] = {"code": "instance_errored", "message": str(err),
                                  "element": element}  # fmt: skip

    def _status(self, workflow: BpmnWorkflow, step: Step) -> dict[str, Any]:
        if step.meta.get("error"):
            return {"state": "errored", **step.meta["error"]}
        if not workflow.is_completed():
            return {"state": "running"}
        outcomes = step.deployed.end_outcomes
        ends = [
            t.task_spec.bpmn_id
            for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if outcomes.get(getattr(t.task_spec, "bpmn_id", None), "side") != "side"
        ]
        rejected = [end for end in ends if outcomes[end] == "rejected"]
        if rejected:
            return {"state": "rejected", "end": rejected[0]}
        return {"state": "completed", "end": ends[0] if ends else None}

    def _finish(self, workflow: BpmnWorkflow, step: Step) -> FlowResult:
        timer_meta = step.meta.setdefault("timers", {})
        if not step.meta.get("error"):
            self._advance(step, lambda: timers.register(workflow, timer_meta, step.now))
        tasks: list[TaskSpecView] = []
        if not step.meta.get("error"):
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            try:
                tasks = [task_view(task, step) for task in ready]
            except FlowError as err:
                step.meta["error"] = {"code": err.code, "message": err.message, **err.detail}
                tasks = []
        status = self._status(workflow, step)
        step.meta["status"] = status
        state = self.serializer.dump(workflow, step.deployed, step.meta)
        return FlowResult(state, status, tasks, step.effects)

    def _record(self, step: Step, task: Any, action: str, user: str | None, **extra: Any) -> None:
        step.meta.setdefault("history", []).append(
            {"task_id": str(task.id), "node_id": task.task_spec.bpmn_id, "action": action,
             "user": user, "at": step.now.isoformat(), **extra}
        )  # fmt: skip

    @staticmethod
    def _ready_task(workflow: BpmnWorkflow, task_id: str) -> Any:
        try:
            task = workflow.get_task_from_id(UUID(task_id))
        except (ValueError, SpiffWorkflowException, KeyError):
            task = None
        if task is None or not task.task_spec.manual or task.state != TaskState.READY:
            raise TaskNotReady("task is not waiting for a decision", task_id=task_id)
        return task

    def _run_task(self, workflow: BpmnWorkflow, step: Step, task: Any, action: str,
                  data: dict[str, Any], user: str | None) -> None:  # fmt: skip
        task.data.update(data)
        task.data["action"] = action
        parent = multi_instance_parent(task)
        if parent is not None:
            task.data["countersign"] = countersign_tally(task, action)
            output = parent.task_spec.output_item
            if output is not None:
                task.data[output.bpmn_id] = action
        self._record(step, task, action, user)

        def run() -> None:
            task.run()
            workflow.do_engine_steps()

        self._advance(step, run)

    # -- public API ----------------------------------------------------------------------
    def start(
        self,
        deployed: DeployedProcess,
        data: Mapping[str, Any] | None,
        initiator: str,
        record_owner: str | None = None,
    ) -> FlowResult:
        """Start an instance with the record's data; the initiator's submit step is done."""
        self.register(deployed)
        meta: dict[str, Any] = {"initiator": initiator, "record_owner": record_owner or initiator}
        step = self._step(deployed, meta, None)
        spec, subprocess_specs = self.serializer.load_specs(deployed)
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self._engine(step))
        workflow.get_next_task(state=TaskState.READY).set_data(**clean_input(data))
        self._advance(step, workflow.do_engine_steps)
        submit = deployed.submit_task
        for task in workflow.get_tasks(state=TaskState.READY, manual=True):
            if submit is not None and task.task_spec.bpmn_id == submit and not meta.get("error"):
                self._run_task(workflow, step, task, "submit", {}, initiator)
        return self._finish(workflow, step)

    def complete(
        self,
        state: str,
        task_id: str,
        action: str,
        data: Mapping[str, Any] | None = None,
        user: str | None = None,
    ) -> FlowResult:
        """Record ``user``'s decision on a READY task and advance the instance."""
        if action not in ACTIONS:
            raise FlowRuntimeError(f"action must be one of {', '.join(ACTIONS)}", field="action")
        cleaned = clean_input({k: v for k, v in (data or {}).items() if k != "return_to"})
        if action == "return":
            target = (data or {}).get("return_to")
            return self.return_to(state, task_id, target, user=user)
        workflow, step = self._open(state)
        task = self._ready_task(workflow, task_id)
        self._run_task(workflow, step, task, action, cleaned, user)
        return self._finish(workflow, step)

    def return_to(
        self, state: str, task_id: str, target_node_id: str | None = None, user: str | None = None
    ) -> FlowResult:
        """退回: reopen an earlier user task (default: the previous one) or ``initiator``."""
        workflow, step = self._open(state)
        task = self._ready_task(workflow, task_id)
        own = task.task_spec.bpmn_id
        if target_node_id == "initiator":
            target_node_id = step.deployed.submit_task
            if target_node_id is None:
                raise FlowRuntimeError("this process has no initiator step to return to")
        target = task.parent
        while target is not None:
            spec = target.task_spec
            node = getattr(spec, "bpmn_id", None)
            is_step = spec.manual or isinstance(spec, MultiInstanceTask)
            if node and node != own and is_step and target.has_state(TaskState.COMPLETED):
                if target_node_id is None or node == target_node_id:
                    break
            target = target.parent
        if target is None:
            raise FlowRuntimeError(
                "the return target is not an earlier step of this task", target=target_node_id
            )
        self._record(step, task, "return", user, to=target.task_spec.bpmn_id)
        if target.parent is not None and multi_instance_parent(target) is not None:
            target = target.parent  # reopen the whole countersign, not one signer

        def run() -> None:
            workflow.reset_from_task_id(target.id)
            workflow.do_engine_steps()

        self._advance(step, run)
        return self._finish(workflow, step)

    def fire_due_timers(self, state: str, now: datetime | None = None) -> FlowResult:
        """Fire every timer due at ``now`` (default: the runtime clock) and advance."""
        workflow, step = self._open(state, now)

        def run() -> None:
            fired = timers.fire_due(workflow, step.meta.setdefault("timers", {}), step.now)
            for node in fired:
                step.effects.append({"kind": "timer", "node": node, "at": step.now.isoformat()})
            if fired:
                workflow.do_engine_steps()

        self._advance(step, run)
        return self._finish(workflow, step)

    def tasks(self, state: str) -> list[TaskSpecView]:
        """READY user tasks of an instance, assignment resolved (read only)."""
        workflow, step = self._open(state)
        return [task_view(t, step) for t in workflow.get_tasks(state=TaskState.READY, manual=True)]

    def next_timer_due(self, state: str) -> datetime | None:
        """Earliest due time of a waiting timer, for the scheduler (no restore needed)."""
        dues = self.serializer.read_meta(state).get("timers", {}).values()
        return min((datetime.fromisoformat(d) for d in dues), default=None)

    def status(self, state: str) -> dict[str, Any]:
        """``{"state": running|completed|rejected|errored, ...}`` (no restore needed)."""
        return dict(self.serializer.read_meta(state).get("status", {"state": "running"}))

    def history(self, state: str) -> list[dict[str, Any]]:
        return list(self.serializer.read_meta(state).get("history", []))

    def can_migrate(self, state: str, new_deployed: DeployedProcess) -> MigrationCheck:
        """Whether every waiting task/timer of the instance also exists in ``new_deployed``."""
        workflow, _ = self._open(state)
        waiting = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED)
        names = sorted({t.task_spec.name for t in waiting if getattr(t.task_spec, "bpmn_id", None)})
        new_specs = self.serializer.load_specs(new_deployed)[0].task_specs
        missing = [name for name in names if name not in new_specs]
        return MigrationCheck(ok=not missing, waiting=names, missing=missing)
