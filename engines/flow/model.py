"""Plain data the flow engine hands to the platform: deployed definitions and task views.

Why dataclasses with ``to_dict``/``from_dict``: the platform stores a deployed process in
its own tables and rebuilds it in another worker; everything here must round-trip
through JSON without SpiffWorkflow objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

LOOM_NS = "http://loom.dev/schema/bpmn"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

ASSIGNMENT_KINDS = ("user", "role", "expression", "initiator", "record_owner", "dept_head")
COUNTERSIGN_MODES = ("all", "any", "n_of_m", "percentage")


@dataclass(frozen=True)
class AssignmentSpec:
    """Who may act on a user task, before resolution against instance data.

    ``value`` means: user id(s) for ``user`` (comma separated), role key for ``role``,
    a sandboxed expression for ``expression`` (yielding a user id or list of them), the
    data field holding the department for ``dept_head``; unused for ``initiator`` and
    ``record_owner``.
    """

    kind: str
    value: str | None = None


@dataclass(frozen=True)
class CountersignSpec:
    """How a multi-instance user task decides: all / any / n_of_m (``n``) / percentage."""

    mode: str
    n: int | None = None
    pct: int | None = None
    collection: str | None = None  # task-data list of approver ids, one instance each


@dataclass(frozen=True)
class UserTaskInfo:
    """Deploy-time metadata of one user task (BPMN element)."""

    node_id: str
    name: str
    assignments: tuple[AssignmentSpec, ...] = ()
    form_key: str | None = None
    due_date: str | None = None  # expression (Camunda ``dueDate``)
    field_permissions: tuple[dict[str, Any], ...] = ()
    countersign: CountersignSpec | None = None
    lane: str | None = None
    submit: bool = False  # the initiator's (re)submission step


@dataclass
class DeployedProcess:
    """A deployed, validated process version; ``spec_json`` is stored once per hash."""

    process_id: str
    name: str
    content_hash: str
    spec_json: str
    bpmn_xml: str
    user_tasks: dict[str, UserTaskInfo] = field(default_factory=dict)
    end_outcomes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def submit_task(self) -> str | None:
        return next((t.node_id for t in self.user_tasks.values() if t.submit), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeployedProcess:
        tasks = {}
        for key, raw in data.get("user_tasks", {}).items():
            countersign = raw.get("countersign")
            tasks[key] = UserTaskInfo(
                node_id=raw["node_id"],
                name=raw["name"],
                assignments=tuple(AssignmentSpec(**a) for a in raw.get("assignments", ())),
                form_key=raw.get("form_key"),
                due_date=raw.get("due_date"),
                field_permissions=tuple(raw.get("field_permissions", ())),
                countersign=CountersignSpec(**countersign) if countersign else None,
                lane=raw.get("lane"),
                submit=raw.get("submit", False),
            )
        return cls(
            process_id=data["process_id"],
            name=data["name"],
            content_hash=data["content_hash"],
            spec_json=data["spec_json"],
            bpmn_xml=data["bpmn_xml"],
            user_tasks=tasks,
            end_outcomes=dict(data.get("end_outcomes", {})),
            warnings=list(data.get("warnings", [])),
        )


@dataclass
class TaskSpecView:
    """A READY user task as the inbox needs it (assignment already resolved)."""

    task_id: str
    node_id: str
    name: str
    assignees: list[str]  # concrete user ids (may be empty when only roles apply)
    candidate_roles: list[str]
    assignment: list[dict[str, Any]]  # the unresolved specs, for display/audit
    form_key: str | None = None
    due_at: str | None = None  # ISO 8601 UTC
    field_permissions: list[dict[str, Any]] = field(default_factory=list)
    countersign: dict[str, Any] | None = None
    submit: bool = False
    attempt: int = 1  # a returned (退回) task reopens with the same id and the next attempt

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
