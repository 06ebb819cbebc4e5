"""Instances store the definition by reference and always come back with the sandbox."""

from __future__ import annotations

import json

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engines.flow.deploy import deploy
from engines.flow.errors import ExpressionRejected, FlowRuntimeError, InstanceErrored
from engines.flow.model import DeployedProcess
from engines.flow.runtime import FlowRuntime
from engines.flow.script_engine import RestrictedScriptEngine
from engines.flow.serializer import FlowSerializer

LARGE = {"amount": 9_000_000, "applicant_dept": "retail"}


def test_save_restore_mid_run_and_continue(credit, clock, directory) -> None:
    writer = FlowRuntime(directory=directory, clock=clock)
    result = writer.start(credit, LARGE, initiator="alice")
    result = writer.complete(result.state, result.tasks[0].task_id, "approve", {"score": 7}, "r")
    saved = json.loads(json.dumps(json.loads(result.state)))  # through plain JSON, as a DB would
    reader = FlowRuntime(directory=directory, clock=clock, definitions=lambda h: credit)
    state = json.dumps(saved)
    assert [t.node_id for t in reader.tasks(state)] == ["finance_director"]
    done = reader.complete(state, result.tasks[0].task_id, "approve", {}, "f")
    assert done.status["state"] == "completed"
    workflow, _ = FlowSerializer().load(done.state, credit, RestrictedScriptEngine())
    end_data = workflow.get_tasks(state=TaskState.COMPLETED)[-1].data
    assert (end_data["amount"], end_data["score"], end_data["action"]) == (9_000_000, 7, "approve")


def test_definition_is_stored_by_reference(credit, runtime) -> None:
    result = runtime.start(credit, LARGE, initiator="alice")
    ours = len(result.state)
    # the library's default: the same workflow with its spec copied in
    serializer = FlowSerializer()
    workflow, _ = serializer.load(result.state, credit, RestrictedScriptEngine())
    default = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(dict(SPIFF_CONFIG)))
    full = len(default.serialize_json(workflow))
    assert ours + len(credit.spec_json) * 0.9 < full
    assert credit.content_hash in result.state and '"spec"' not in result.state


def test_restored_workflow_always_has_the_restricted_engine(credit, runtime) -> None:
    result = runtime.start(credit, LARGE, initiator="alice")
    workflow, _ = FlowSerializer().load(result.state, credit, RestrictedScriptEngine())
    assert isinstance(workflow.script_engine, RestrictedScriptEngine)
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    with pytest.raises(ExpressionRejected):
        workflow.script_engine.evaluate(task, "__import__('os').system('id')")
    with pytest.raises(ExpressionRejected):
        workflow.script_engine.environment.evaluate("().__class__", {})


UNSAFE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D"
    targetNamespace="http://t">
  <bpmn:process id="unsafe" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="ok"/>
    <bpmn:sequenceFlow id="ok" sourceRef="gw" targetRef="e1"/>
    <bpmn:sequenceFlow id="pwn" sourceRef="gw" targetRef="e2">
      <bpmn:conditionExpression>__import__('os').getpid() &gt; 0</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:endEvent id="e1"/><bpmn:endEvent id="e2"/>
  </bpmn:process>
</bpmn:definitions>"""


def _unchecked_definition() -> DeployedProcess:
    """A definition that skipped deploy's checks (e.g. stored before they existed)."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(UNSAFE.encode())
    spec_json = FlowSerializer().spec_to_json(parser.get_spec("unsafe"), {})
    return DeployedProcess("unsafe", "unsafe", "h-unsafe", spec_json, UNSAFE)


def test_a_restored_instance_refuses_import_in_a_condition(runtime) -> None:
    with pytest.raises(Exception, match="__import__"):
        deploy(UNSAFE)  # deploy refuses it outright
    unsafe = _unchecked_definition()
    result = runtime.start(unsafe, {}, initiator="alice")
    done = runtime.complete(result.state, result.tasks[0].task_id, "approve", {}, "x")
    status = runtime.status(done.state)
    assert status["state"] == "errored"
    assert status["code"] == "expression_rejected" and status["element"] == "gw"
    assert "'__import__'" in status["message"]
    with pytest.raises(InstanceErrored):
        runtime.tasks(done.state)  # an errored instance is not advanced further


def test_plain_spiff_restore_would_have_run_it() -> None:
    """Why re-attaching matters: the library's default engine evaluates the same text."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(UNSAFE.encode())
    workflow = BpmnWorkflow(parser.get_spec("unsafe"))
    workflow.do_engine_steps()
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    assert workflow.script_engine.evaluate(task, "__import__('os').getpid() > 0") is True


def test_state_of_another_version_is_refused(credit, runtime) -> None:
    result = runtime.start(credit, LARGE, initiator="alice")
    other = deploy(credit.bpmn_xml.replace('name="Credit approval"', 'name="Credit v2"'))
    with pytest.raises(FlowRuntimeError):
        FlowSerializer().load(result.state, other, RestrictedScriptEngine())
