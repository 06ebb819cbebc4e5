"""Per-operation plumbing of ``FlowRuntime``: service calls, effects, task views.

Why a step object: every runtime call (start, complete, fire timers) may run service
tasks; what they did (CC sent, reminder due, platform action called) is collected as
*effects* on this one step and returned to the caller, so the platform can persist the
new state and act on the effects in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from . import sandbox, timers
from .assignment import Directory, resolve
from .errors import FlowRuntimeError
from .model import AssignmentSpec, DeployedProcess, TaskSpecView, UserTaskInfo

#: A platform action: ``(params, task data) -> JSON-able result``.
Action = Callable[[dict[str, Any], Mapping[str, Any]], Any]

BUILTIN_SERVICES = ("loom.cc", "loom.remind", "loom.resolve_signers")


@dataclass
class Step:
    """Context of one runtime operation."""

    deployed: DeployedProcess
    meta: dict[str, Any]
    now: datetime
    actions: Mapping[str, Action]
    directory: Directory | None
    effects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def people(self) -> dict[str, str | None]:
        return {
            "initiator": self.meta.get("initiator"),
            "record_owner": self.meta.get("record_owner"),
        }

    def _node(self, params: dict[str, Any]) -> UserTaskInfo | None:
        return self.deployed.user_tasks.get(str(params.get("node")))

    def call_service(self, name: str, params: dict[str, Any], data: Mapping[str, Any]) -> Any:
        """The connector handed to the script engine for every service task."""
        if name == "loom.resolve_signers":
            info = self._node(params)
            if info is None:
                raise FlowRuntimeError(f"no user task '{params.get('node')}' to resolve signers")
            found = resolve(info.assignments, data, self.people, self.directory, expand_roles=True)
            if not found.users:
                raise FlowRuntimeError("countersign has no signers", element=info.node_id)
            return found.users
        if name == "loom.cc":
            specs = [AssignmentSpec(**spec) for spec in params.get("to", [])]
            found = resolve(specs, data, self.people, self.directory)
            self.effects.append(
                {"kind": "cc", "node": params.get("node"), "users": found.users,
                 "roles": found.roles, "title": params.get("title")}
            )  # fmt: skip
            return {"users": found.users, "roles": found.roles}
        if name == "loom.remind":
            self.effects.append({"kind": "remind", "node": params.get("node")})
            return {"reminded": params.get("node")}
        action = self.actions.get(name)
        if action is None:
            raise FlowRuntimeError(f"platform action '{name}' is not registered", operation=name)
        result = action(params, data)
        self.effects.append({"kind": "action", "name": name, "params": params, "result": result})
        return result


def multi_instance_parent(task: Any) -> Any | None:
    parent = task.parent
    if parent is not None and isinstance(parent.task_spec, MultiInstanceTask):
        return parent
    return None


def countersign_tally(task: Any, action: str | None = None) -> dict[str, int]:
    """Votes of a countersign task's siblings, counting ``action`` for ``task`` itself."""
    parent = multi_instance_parent(task)
    siblings = [c for c in parent.children if c.task_spec.name == task.task_spec.name]
    tally = {"total": len(siblings), "approved": 0, "rejected": 0, "pending": 0}
    for sibling in siblings:
        vote = action if sibling is task else sibling.data.get("action")
        if sibling is not task and not sibling.has_state(TaskState.COMPLETED):
            vote = None
        if vote == "approve":
            tally["approved"] += 1
        elif vote == "reject":
            tally["rejected"] += 1
        else:
            tally["pending"] += 1
    return tally


def _due_date(info: UserTaskInfo, task: Any, timers_meta: dict[str, str]) -> str | None:
    due = timers.attached_due(task, timers_meta)
    if due is not None or not info.due_date:
        return due
    text = info.due_date.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        value = sandbox.evaluate(text.removeprefix("${").removesuffix("}"), task.data)
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(UTC).isoformat() if moment.tzinfo else moment.isoformat()


def task_view(task: Any, step: Step) -> TaskSpecView:
    """Describe a READY manual task for the inbox, with its assignment resolved."""
    node_id = task.task_spec.bpmn_id
    info = step.deployed.user_tasks.get(node_id) or UserTaskInfo(node_id, node_id)
    parent = multi_instance_parent(task)
    countersign = None
    if parent is not None:
        item = parent.task_spec.input_item
        signer = task.data.get(item.bpmn_id) if item is not None else None
        users, roles = ([str(signer)] if signer is not None else []), []
        if info.countersign is not None:
            countersign = {
                "mode": info.countersign.mode, "n": info.countersign.n,
                "pct": info.countersign.pct, **countersign_tally(task),
            }  # fmt: skip
    else:
        found = resolve(info.assignments, task.data, step.people, step.directory)
        users, roles = found.users, found.roles
    return TaskSpecView(
        task_id=str(task.id),
        node_id=node_id,
        name=task.task_spec.bpmn_name or info.name,
        assignees=users,
        candidate_roles=roles,
        assignment=[{"kind": a.kind, "value": a.value} for a in info.assignments],
        form_key=info.form_key,
        due_at=_due_date(info, task, step.meta.setdefault("timers", {})),
        field_permissions=list(info.field_permissions),
        countersign=countersign,
        submit=info.submit,
        attempt=1 + sum(
            1 for h in step.meta.get("history", ())
            if h["task_id"] == str(task.id) and h["action"] != "return"
        ),
    )  # fmt: skip
