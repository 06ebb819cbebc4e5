"""Deploy: every problem becomes one FlowDefinitionError naming the element and line."""

from __future__ import annotations

import hashlib

import pytest

from engines.flow.deploy import deploy
from engines.flow.errors import FlowDefinitionError
from engines.flow.model import AssignmentSpec, DeployedProcess

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:loom="http://loom.dev/schema/bpmn" id="D" targetNamespace="http://t">
  <bpmn:process id="p" isExecutable="true">
"""
TAIL = """
  </bpmn:process>
</bpmn:definitions>
"""


def doc(body: str) -> str:
    return HEAD + body + TAIL


LINEAR = """
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t"><bpmn:extensionElements>
      <loom:assignment kind="initiator"/></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
    <bpmn:endEvent id="e"/>"""


def test_credit_fixture_metadata(credit: DeployedProcess) -> None:
    assert credit.process_id == "credit_approval"
    assert credit.content_hash == hashlib.sha256(credit.spec_json.encode()).hexdigest()
    assert credit.user_tasks["dept_manager"].assignments == (
        AssignmentSpec("dept_head", "applicant_dept"),
    )
    assert credit.end_outcomes == {"approved_end": "approved", "rejected_end": "rejected"}
    assert credit.warnings == []
    assert DeployedProcess.from_dict(credit.to_dict()) == credit


def test_same_content_same_hash_and_changed_content_new_hash() -> None:
    first, second = deploy(doc(LINEAR)), deploy(doc(LINEAR))
    changed = deploy(doc(LINEAR.replace('id="t"', 'id="t" name="Review"')))
    assert first.content_hash == second.content_hash
    assert changed.content_hash != first.content_hash


def test_malformed_xml_reports_the_line() -> None:
    broken = doc(LINEAR).replace('<bpmn:endEvent id="e"/>', '<bpmn:endEvent id="e">')
    with pytest.raises(FlowDefinitionError) as info:
        deploy(broken)
    assert "well-formed" in info.value.message
    assert info.value.detail["line"] == broken.count("\n", 0, broken.index("</bpmn:process>")) + 1


def test_schema_violation_reports_the_line() -> None:
    with pytest.raises(FlowDefinitionError) as info:
        deploy(doc(LINEAR.replace('<bpmn:endEvent id="e"/>', '<bpmn:endEvent id="e" bogus="1"/>')))
    assert "schema" in info.value.message
    assert info.value.detail["line"] > 1


def test_entities_are_not_expanded() -> None:
    xml = (
        doc(LINEAR)
        .replace(
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        )
        .replace('<bpmn:userTask id="t">', '<bpmn:userTask id="t" name="&x;">')
    )
    try:
        deployed = deploy(xml)
    except FlowDefinitionError:
        return  # refusing the document is fine too
    assert "root:" not in deployed.user_tasks["t"].name


@pytest.mark.parametrize(
    ("body", "element", "needle"),
    [
        ('<bpmn:subProcess id="sub"/>', "sub", "'subProcess' is not supported"),
        ('<bpmn:sendTask id="send"/>', "send", "'sendTask' is not supported"),
        ('<bpmn:intermediateCatchEvent id="msg"><bpmn:messageEventDefinition/>'
         "</bpmn:intermediateCatchEvent>", "msg", "messageEventDefinition"),
        ('<bpmn:endEvent id="err"><bpmn:errorEventDefinition/></bpmn:endEvent>', "err",
         "errorEventDefinition"),
        ('<bpmn:serviceTask id="svc"/>', "svc", "serviceTaskOperator"),
        ('<bpmn:intermediateCatchEvent id="tick"><bpmn:timerEventDefinition><bpmn:timeCycle>'
         "'R3/PT1H'</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>",
         "tick", "timeCycle"),
        ('<bpmn:businessRuleTask id="dmn"/>', "dmn", "'businessRuleTask' is not supported"),
    ],
)  # fmt: skip
def test_unsupported_elements_are_refused_by_id(body: str, element: str, needle: str) -> None:
    with pytest.raises(FlowDefinitionError) as info:
        deploy(doc(LINEAR + body))
    assert info.value.detail["element"] == element
    assert needle in info.value.message


GATEWAY = """
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw"{default}/>
    <bpmn:sequenceFlow id="a" sourceRef="gw" targetRef="e1">
      <bpmn:conditionExpression>{cond_a}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="b" sourceRef="gw" targetRef="e2">{cond_b}</bpmn:sequenceFlow>
    <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>"""


def gateway(default: str = "", cond_a: str = "amount &gt; 1", cond_b: str = "") -> str:
    return doc(GATEWAY.format(default=default, cond_a=cond_a, cond_b=cond_b))


def test_exclusive_gateway_whose_conditions_can_all_be_false_is_refused() -> None:
    both = "<bpmn:conditionExpression>amount &lt;= 1</bpmn:conditionExpression>"
    with pytest.raises(FlowDefinitionError) as info:
        deploy(gateway(cond_b=both))
    assert info.value.detail["element"] == "gw"
    assert "all conditions are false" in info.value.message
    deploy(gateway(default=' default="b"', cond_b=both))  # with a default it deploys


def test_a_flow_without_condition_that_is_not_the_default_is_refused() -> None:
    with pytest.raises(FlowDefinitionError) as info:
        deploy(gateway())
    assert "flow 'b'" in info.value.message


@pytest.mark.parametrize(
    ("cond", "needle"),
    [("__import__('os').system('id')", "'__import__'"), ("amount &gt;", "syntax error"),
     ("open('/etc/passwd')", "'open'")],
)  # fmt: skip
def test_conditions_are_checked_by_the_sandbox_at_deploy(cond: str, needle: str) -> None:
    with pytest.raises(FlowDefinitionError) as info:
        deploy(gateway(default=' default="b"', cond_a=cond))
    assert info.value.detail["element"] == "a"
    assert needle in info.value.message


def test_scripts_and_timers_are_checked_too() -> None:
    script = LINEAR.replace(
        '<bpmn:endEvent id="e"/>',
        '<bpmn:scriptTask id="sc"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>'
        '<bpmn:endEvent id="e"/>',
    )
    with pytest.raises(FlowDefinitionError) as info:
        deploy(doc(script))
    assert info.value.detail["element"] == "sc"
    timer = LINEAR + (
        '<bpmn:boundaryEvent id="late" attachedToRef="t"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>().__class__</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:boundaryEvent>"
    )
    with pytest.raises(FlowDefinitionError) as info:
        deploy(doc(timer))
    assert info.value.detail["element"] == "late"


def test_bad_assignment_kind_is_refused() -> None:
    with pytest.raises(FlowDefinitionError) as info:
        deploy(doc(LINEAR.replace('kind="initiator"', 'kind="boss"')))
    assert info.value.detail["element"] == "t"


def test_unassigned_task_is_a_warning() -> None:
    deployed = deploy(doc(LINEAR.replace('<loom:assignment kind="initiator"/>', "")))
    assert deployed.warnings == ["userTask 't' has no assignment"]


def test_camunda_modeler_file_with_lanes(read_fixture) -> None:
    deployed = deploy(read_fixture("camunda_lanes.bpmn"))
    tasks = deployed.user_tasks
    assert tasks["check"].assignments == (AssignmentSpec("role", "finance_clerk"),)
    assert tasks["check"].form_key == "expense_check"
    assert tasks["approve"].assignments == (
        AssignmentSpec("expression", "manager_id"),
        AssignmentSpec("role", "managers"),
        AssignmentSpec("role", "deputies"),
    )
    assert tasks["approve"].due_date == "2030-01-05T18:00:00+08:00"
    assert tasks["cfo"].assignments == (
        AssignmentSpec("user", "cfo_user"), AssignmentSpec("user", "u1,u2"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "route"),
    [({"amount": 2_000_000, "urgent": False}, "cfo"), ({"amount": 2_000_000, "urgent": True}, None),
     ({"amount": 10, "urgent": False}, None)],
)  # fmt: skip
def test_camunda_juel_condition_runs_as_python(runtime, read_fixture, data, route) -> None:
    deployed = deploy(read_fixture("camunda_lanes.bpmn"))
    result = runtime.start(deployed, {**data, "manager_id": "m7"}, initiator="alice")
    for _ in range(2):  # check, approve
        result = runtime.complete(result.state, result.tasks[0].task_id, "approve", {}, "x")
    assert [t.node_id for t in result.tasks] == ([route] if route else [])
    assert result.status["state"] == ("running" if route else "completed")


def test_camunda_due_date_is_reported_in_utc(runtime, read_fixture) -> None:
    deployed = deploy(read_fixture("camunda_lanes.bpmn"))
    result = runtime.start(deployed, {"amount": 1, "urgent": False, "manager_id": "m"}, "alice")
    result = runtime.complete(result.state, result.tasks[0].task_id, "approve", {}, "x")
    assert result.tasks[0].due_at == "2030-01-05T10:00:00+00:00"
    assert result.tasks[0].assignees == ["m"]
