"""Reads Loom's and Camunda's assignment metadata from user tasks.

Why not through SpiffWorkflow: its parser keeps only ``spiffworkflow:`` extensions, and
assignment is the platform's concern (it materializes inbox rows), so we read it from the
same XML tree and hand it over as plain ``UserTaskInfo``.

Precedence per task: ``<loom:assignment>`` elements, else Camunda attributes, else the
``<loom:assignment>`` of its lane, else the lane name as a role key.
"""

from __future__ import annotations

from lxml import etree

from .bpmn_checks import NS, _check_source, _fail, juel_to_python, local
from .model import (
    ASSIGNMENT_KINDS,
    CAMUNDA_NS,
    COUNTERSIGN_MODES,
    AssignmentSpec,
    CountersignSpec,
    UserTaskInfo,
)

NEEDS_VALUE = frozenset({"user", "role", "expression", "dept_head"})


def _loom_assignments(owner: etree._Element) -> list[AssignmentSpec]:
    specs = []
    for node in owner.xpath("bpmn:extensionElements/loom:assignment", namespaces=NS):
        kind, value = node.get("kind"), node.get("value")
        if kind not in ASSIGNMENT_KINDS:
            raise _fail(
                f"assignment kind '{kind}' is not one of {', '.join(ASSIGNMENT_KINDS)}", owner
            )
        if kind in NEEDS_VALUE and not value:
            raise _fail(f"assignment kind '{kind}' needs a value", owner)
        specs.append(AssignmentSpec(kind, value))
    return specs


def _camunda_expression(text: str, task: etree._Element) -> AssignmentSpec:
    if text.strip() == "${initiator}":
        return AssignmentSpec("initiator")
    source = juel_to_python(text)
    _check_source(source, "eval", task, "assignee expression")
    return AssignmentSpec("expression", source)


def _camunda_assignments(task: etree._Element) -> list[AssignmentSpec]:
    specs = []
    assignee = task.get(f"{{{CAMUNDA_NS}}}assignee")
    if assignee:
        specs.append(
            _camunda_expression(assignee, task)
            if "${" in assignee
            else AssignmentSpec("user", assignee)
        )
    users = task.get(f"{{{CAMUNDA_NS}}}candidateUsers")
    if users:
        specs.append(AssignmentSpec("user", ",".join(u.strip() for u in users.split(","))))
    groups = task.get(f"{{{CAMUNDA_NS}}}candidateGroups")
    for group in (groups or "").split(","):
        if group.strip():
            specs.append(AssignmentSpec("role", group.strip()))
    return specs


def _countersign(task: etree._Element) -> CountersignSpec | None:
    node = next(iter(task.xpath("bpmn:extensionElements/loom:countersign", namespaces=NS)), None)
    if node is None:
        return None
    loop = task.find(f"{{{NS['bpmn']}}}multiInstanceLoopCharacteristics")
    if loop is None or loop.get("isSequential") == "true":
        raise _fail("countersign needs parallel multiInstanceLoopCharacteristics", task)
    mode = node.get("mode")
    if mode not in COUNTERSIGN_MODES:
        raise _fail(f"countersign mode '{mode}' is not one of {', '.join(COUNTERSIGN_MODES)}", task)
    try:
        n = int(node.get("n")) if node.get("n") else None
        pct = int(node.get("pct")) if node.get("pct") else None
    except ValueError:
        raise _fail("countersign n and pct must be integers", task) from None
    if mode == "n_of_m" and (n is None or n < 1):
        raise _fail("countersign mode n_of_m needs n >= 1", task)
    if mode == "percentage" and (pct is None or not 0 < pct <= 100):
        raise _fail("countersign mode percentage needs 0 < pct <= 100", task)
    collection = loop.findtext(f"{{{NS['bpmn']}}}loopDataInputRef")
    return CountersignSpec(mode, n, pct, collection.strip() if collection else None)


def _lanes(process: etree._Element) -> dict[str, etree._Element]:
    lanes = {}
    for lane in process.xpath(".//bpmn:lane", namespaces=NS):
        for ref in lane.xpath("bpmn:flowNodeRef", namespaces=NS):
            if ref.text:
                lanes[ref.text.strip()] = lane
    return lanes


def _field_permissions(task: etree._Element) -> tuple[dict[str, object], ...]:
    fields = []
    for node in task.xpath(
        "bpmn:extensionElements/loom:fieldPermissions/loom:field", namespaces=NS
    ):
        if not node.get("key"):
            raise _fail("loom:field needs a key", task)
        access = node.get("access", "read")
        if access not in ("read", "edit", "hidden"):
            raise _fail(f"field access '{access}' is not read, edit or hidden", task)
        fields.append(
            {"key": node.get("key"), "access": access, "required": node.get("required") == "true"}
        )
    return tuple(fields)


def read_user_tasks(process: etree._Element) -> tuple[dict[str, UserTaskInfo], list[str]]:
    """Assignment metadata of every user/manual task, plus warnings for unassigned ones."""
    lanes = _lanes(process)
    tasks: dict[str, UserTaskInfo] = {}
    warnings: list[str] = []
    for task in process.xpath("bpmn:userTask|bpmn:manualTask", namespaces=NS):
        node_id = task.get("id")
        lane = lanes.get(node_id)
        specs = _loom_assignments(task) or _camunda_assignments(task)
        if not specs and lane is not None:
            specs = _loom_assignments(lane)
            if not specs and lane.get("name"):
                specs = [AssignmentSpec("role", lane.get("name").strip())]
        submit = bool(task.xpath("bpmn:extensionElements/loom:submit", namespaces=NS))
        if submit and not specs:
            specs = [AssignmentSpec("initiator")]
        if not specs:
            warnings.append(f"{local(task)} '{node_id}' has no assignment")
        tasks[node_id] = UserTaskInfo(
            node_id=node_id,
            name=task.get("name") or node_id,
            assignments=tuple(specs),
            form_key=task.get(f"{{{CAMUNDA_NS}}}formKey"),
            due_date=task.get(f"{{{CAMUNDA_NS}}}dueDate"),
            field_permissions=_field_permissions(task),
            countersign=_countersign(task),
            lane=lane.get("name") if lane is not None else None,
            submit=submit,
        )
    return tasks, warnings


def read_end_outcomes(process: etree._Element) -> dict[str, str]:
    """End event id -> outcome (``approved`` unless marked ``<loom:outcome value=...>``)."""
    outcomes = {}
    for end in process.xpath(".//bpmn:endEvent", namespaces=NS):
        marked = end.xpath("bpmn:extensionElements/loom:outcome/@value", namespaces=NS)
        outcomes[end.get("id")] = str(marked[0]) if marked else "approved"
    return outcomes
