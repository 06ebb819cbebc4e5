"""Instances/s of a credit-approval flow (start + 3 user tasks) on three setups.

(a) bare SpiffWorkflow in memory (default, unrestricted script engine);
(b) bare SpiffWorkflow, serialize + deserialize at every step, definition copied in;
(c) Loom's FlowRuntime: sandboxed expressions, definition stored by reference, JSON state
    in and out of every call (what the platform does per request).

Run: ``.venv/bin/python bench/flows_engine.py [instances] [repeats]``. Prints medians.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engines.flow import FlowRuntime, deploy


def _approval(task_id: str, role: str, nxt: str) -> str:
    return f"""
    <bpmn:userTask id="{task_id}"><bpmn:extensionElements>
      <loom:assignment kind="role" value="{role}"/></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="{task_id}_f" sourceRef="{task_id}" targetRef="{task_id}_gw"/>
    <bpmn:exclusiveGateway id="{task_id}_gw" default="{task_id}_ok"/>
    <bpmn:sequenceFlow id="{task_id}_ok" sourceRef="{task_id}_gw" targetRef="{nxt}"/>
    <bpmn:sequenceFlow id="{task_id}_no" sourceRef="{task_id}_gw" targetRef="rejected">
      <bpmn:conditionExpression>action == 'reject'</bpmn:conditionExpression>
    </bpmn:sequenceFlow>"""


BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:loom="http://loom.dev/schema/bpmn" id="D" targetNamespace="http://loom.dev/bench">
  <bpmn:process id="credit_bench" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="gw0"/>
    <bpmn:exclusiveGateway id="gw0" default="f_small"/>
    <bpmn:sequenceFlow id="f_small" sourceRef="gw0" targetRef="approved"/>
    <bpmn:sequenceFlow id="f_large" sourceRef="gw0" targetRef="risk">
      <bpmn:conditionExpression>amount &gt;= 5000000</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    {_approval("risk", "risk_specialist", "finance")}
    {_approval("finance", "finance_director", "board")}
    {_approval("board", "board", "approved")}
    <bpmn:endEvent id="approved"/>
    <bpmn:endEvent id="rejected"><bpmn:extensionElements>
      <loom:outcome value="rejected"/></bpmn:extensionElements></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""
DATA = {"amount": 8_000_000, "applicant_dept": "retail"}


def bare_in_memory(spec) -> Callable[[], None]:
    def run() -> None:
        workflow = BpmnWorkflow(spec)
        workflow.get_next_task(state=TaskState.READY).set_data(**DATA)
        workflow.do_engine_steps()
        for _ in range(3):
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data["action"] = "approve"
            task.run()
            workflow.do_engine_steps()
        assert workflow.is_completed()

    return run


def bare_serialized(spec) -> Callable[[], None]:
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(dict(SPIFF_CONFIG)))

    def run() -> None:
        workflow = BpmnWorkflow(spec)
        workflow.get_next_task(state=TaskState.READY).set_data(**DATA)
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        for _ in range(3):
            workflow = serializer.deserialize_json(state)
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data["action"] = "approve"
            task.run()
            workflow.do_engine_steps()
            state = serializer.serialize_json(workflow)
        assert workflow.is_completed()

    return run


def loom_runtime() -> Callable[[], None]:
    deployed = deploy(BPMN)
    runtime = FlowRuntime()

    def run() -> None:
        result = runtime.start(deployed, DATA, initiator="alice")
        for _ in range(3):
            result = runtime.complete(result.state, result.tasks[0].task_id, "approve", {}, "u")
        assert result.status["state"] == "completed"

    return run


def rate(run: Callable[[], None], instances: int, repeats: int) -> float:
    run()  # warm caches (compiled expressions, spec cache)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(instances):
            run()
        rates.append(instances / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    instances = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(BPMN.encode())
    spec = parser.get_spec("credit_bench")
    setups = [
        ("(a) bare SpiffWorkflow, in memory", bare_in_memory(spec)),
        ("(b) bare, serialize+deserialize per step", bare_serialized(spec)),
        ("(c) Loom FlowRuntime, definition by reference", loom_runtime()),
    ]
    results = [(name, rate(run, instances, repeats)) for name, run in setups]
    base = results[0][1]
    print(f"credit flow, start + 3 user tasks; {instances} instances x {repeats} repeats (median)")
    for name, value in results:
        print(f"  {name:<48} {value:>8.0f} instances/s  {value / base:>5.2f}x of (a)")
    print(f"  (c)/(b) = {results[2][1] / results[1][1]:.2f}")


if __name__ == "__main__":
    main()
