"""Designer JSON -> BPMN: schema, registry, diagram, and the compiled flow really runs."""

from __future__ import annotations

import copy

import pytest
from jsonschema import Draft202012Validator
from lxml import etree

from engines.flow.designer import compile_designer, deploy_designer
from engines.flow.designer_registry import designer_schema, node_types
from engines.flow.errors import FlowDefinitionError
from engines.flow.model import BPMN_NS
from engines.flow.runtime import FlowRuntime

CREDIT = {
    "key": "credit_simple",
    "name": "授信审批",
    "nodes": [
        {"id": "start", "type": "start"},
        {"id": "amount", "type": "condition", "settings": {"branches": [
            {"name": "大额", "condition": "amount >= 5000000", "nodes": [
                {"id": "risk", "type": "approver",
                 "settings": {"assignee": {"kind": "role", "value": "risk_specialist"}}},
                {"id": "finance", "type": "approver",
                 "settings": {"assignee": {"kind": "role", "value": "finance_director"}}},
            ]},
            {"name": "其他", "default": True, "nodes": [
                {"id": "manager", "type": "approver",
                 "settings": {"assignee": {"kind": "dept_head", "value": "applicant_dept"}}},
            ]},
        ]}},
        {"id": "review", "type": "parallel", "settings": {"branches": [
            {"nodes": [{"id": "legal", "type": "approver",
                        "settings": {"assignee": {"kind": "user", "value": "lee"}}}]},
            {"nodes": [{"id": "ops", "type": "approver",
                        "settings": {"assignee": {"kind": "record_owner"}}}]},
        ]}},
        {"id": "notify", "type": "cc", "name": "抄送审计",
         "settings": {"to": [{"kind": "role", "value": "audit"}, {"kind": "initiator"}]}},
        {"id": "mark", "type": "auto_action",
         "settings": {"action": "update_record", "params": {"status": "'approved'",
                                                            "limit": "amount * 2"}}},
    ],
}  # fmt: skip


def drive(runtime, deployed, data, decide):
    result = runtime.start(deployed, data, initiator="alice", record_owner="owen")
    seen = []
    while result.tasks and result.status["state"] == "running":
        task = result.tasks[0]
        seen.append(task.node_id)
        result = runtime.complete(result.state, task.task_id, decide(task), {}, "u")
    return result, seen


def test_schema_is_valid_draft_2020_12_and_lists_every_node_type() -> None:
    Draft202012Validator.check_schema(designer_schema())
    assert {t["type"] for t in node_types()} == {
        "start", "approver", "countersign", "cc", "condition", "parallel", "auto_action", "end",
    }  # fmt: skip
    Draft202012Validator(designer_schema()).validate(CREDIT)


def test_compiled_flow_runs_every_node_kind(directory, clock) -> None:
    calls = []
    runtime = FlowRuntime(
        directory=directory, clock=clock,
        actions={"update_record": lambda params, data: calls.append(params) or {"updated": 1}},
    )  # fmt: skip
    deployed = deploy_designer(CREDIT)
    result, seen = drive(runtime, deployed, {"amount": 6_000_000}, lambda t: "approve")
    assert seen[:2] == ["risk", "finance"]
    assert sorted(seen[2:]) == ["legal", "ops"]
    assert result.status == {"state": "completed", "end": "end"}
    assert calls == [{"status": "approved", "limit": 12_000_000}]
    cc = [e for e in result.effects if e["kind"] == "cc"]
    assert cc == [{"kind": "cc", "node": "notify", "users": ["alice"], "roles": ["audit"],
                   "title": "抄送审计"}]  # fmt: skip


def test_parallel_branch_assignment_and_rejection_terminates(directory, clock) -> None:
    runtime = FlowRuntime(directory=directory, clock=clock)
    deployed = deploy_designer(CREDIT)
    result = runtime.start(deployed, {"amount": 100, "applicant_dept": "retail"}, "alice", "owen")
    assert [(t.node_id, t.assignees) for t in result.tasks] == [("manager", ["head_retail"])]
    result = runtime.complete(result.state, result.tasks[0].task_id, "approve", {}, "head_retail")
    assert sorted((t.node_id, tuple(t.assignees)) for t in result.tasks) == [
        ("legal", ("lee",)), ("ops", ("owen",)),
    ]  # fmt: skip
    legal = next(t for t in result.tasks if t.node_id == "legal")
    result = runtime.complete(result.state, legal.task_id, "reject", {}, "lee")
    assert result.status == {"state": "rejected", "end": "legal__rejected"}
    assert result.tasks == []  # the terminate end cancelled the other branch


def test_return_to_initiator_reopens_the_submit_step(runtime) -> None:
    deployed = deploy_designer(CREDIT)
    result = runtime.start(deployed, {"amount": 100, "applicant_dept": "retail"}, "alice")
    result = runtime.return_to(result.state, result.tasks[0].task_id, "initiator", user="head")
    submit = result.tasks[0]
    assert (submit.node_id, submit.submit, submit.assignees) == ("start", True, ["alice"])
    result = runtime.complete(
        result.state, submit.task_id, "submit", {"amount": 7_000_000}, "alice"
    )
    assert result.tasks[0].node_id == "risk"  # the resubmitted amount routes differently


def test_diagram_has_a_shape_per_element_and_an_edge_per_flow() -> None:
    root = etree.fromstring(compile_designer(CREDIT).encode())
    ns = {"bpmn": BPMN_NS, "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    process = root.find("bpmn:process", ns)
    elements = {e.get("id") for e in process if etree.QName(e).localname != "sequenceFlow"}
    flows = {e.get("id") for e in process.findall("bpmn:sequenceFlow", ns)}
    shapes = {s.get("bpmnElement") for s in root.iterfind(".//bpmndi:BPMNShape", ns)}
    edges = {s.get("bpmnElement") for s in root.iterfind(".//bpmndi:BPMNEdge", ns)}
    assert shapes == elements
    assert edges == flows
    for edge in root.iterfind(".//bpmndi:BPMNEdge", ns):
        assert len(edge) >= 2  # waypoints


def bad(path, value):
    definition = copy.deepcopy(CREDIT)
    target = definition
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return definition


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        (bad(["nodes", 1, "settings", "branches", 0, "condition"], "__import__('os')"),
         "nodes[1].settings.branches[0].condition"),
        (bad(["nodes", 1, "settings", "branches", 1, "default"], False),
         "nodes[1].settings.branches"),
        (bad(["nodes", 4, "settings", "params", "status"], "().__class__"),
         "nodes[4].settings.params.status"),
        (bad(["nodes", 2, "settings", "branches", 0, "nodes", 0, "type"], "robot"),
         "nodes[2].settings.branches[0].nodes[0].type"),
        (bad(["nodes", 0, "id"], "bad__id"), "nodes[0].id"),
        (bad(["nodes", 1, "id"], "risk"), "nodes"),
    ],
)  # fmt: skip
def test_invalid_definitions_name_the_field(definition, field) -> None:
    with pytest.raises(FlowDefinitionError) as info:
        compile_designer(definition)
    assert info.value.detail["field"] == field


def test_countersign_requires_n_for_n_of_m() -> None:
    definition = {"key": "cs", "nodes": [
        {"id": "s", "type": "start"},
        {"id": "vote", "type": "countersign",
         "settings": {"assignee": {"kind": "role", "value": "committee"}, "mode": "n_of_m"}},
    ]}  # fmt: skip
    with pytest.raises(FlowDefinitionError) as info:
        compile_designer(definition)
    assert "'n' is a required property" in info.value.message


@pytest.mark.parametrize(
    ("mode", "extra", "votes", "expected"),
    [
        ("all", {}, ["approve", "approve", "approve"], "completed"),
        ("all", {}, ["approve", "reject"], "rejected"),
        ("any", {}, ["approve"], "completed"),
        ("n_of_m", {"n": 2}, ["reject", "approve", "approve"], "completed"),
        ("percentage", {"pct": 50}, ["reject", "reject"], "rejected"),
    ],
)
def test_designer_countersign_resolves_role_members(runtime, mode, extra, votes, expected):
    definition = {"key": "cs", "nodes": [
        {"id": "s", "type": "start"},
        {"id": "vote", "type": "countersign",
         "settings": {"assignee": {"kind": "role", "value": "committee"}, "mode": mode, **extra}},
    ]}  # fmt: skip
    result = runtime.start(deploy_designer(definition), {}, initiator="alice")
    assert sorted(t.assignees[0] for t in result.tasks) == ["c1", "c2", "c3"]
    for decision in votes:
        result = runtime.complete(result.state, result.tasks[0].task_id, decision, {}, "c")
    assert result.status["state"] == expected
