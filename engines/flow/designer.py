"""Compile the approval-node designer's JSON (DingTalk/Feishu style) to BPMN 2.0.

Why compile instead of interpreting the node JSON: one engine (SpiffWorkflow) runs every
flow, advanced users can open the result in bpmn-js and keep editing, and version pinning,
timers and persistence work the same for both kinds of definition.

What each node becomes (ids derive from the node id, so tasks map back to nodes):

- ``start``: start event ``<id>__event`` + the initiator's submit task ``<id>`` (completed
  automatically at start; ``return_to(..., "initiator")`` reopens it);
- ``approver``: user task ``<id>``, then gateway ``<id>__decision``: ``action == 'reject'``
  goes to a terminate end ``<id>__rejected`` (outcome rejected), default goes on;
- ``countersign``: service ``<id>__signers`` resolves the signer list, a parallel
  multi-instance user task ``<id>`` (one per signer, completion condition per mode),
  script ``<id>__tally`` sets ``action`` from the votes, then the same decision gateway;
- ``timeout`` on approver/countersign: a boundary timer ``<id>__timeout`` (non-interrupting
  for ``remind``) leading to a reminder, an escalation task ``<id>__escalated``, or a
  script that sets ``action`` to approve/reject;
- ``cc``: service task calling ``loom.cc`` (an effect, no inbox task);
- ``condition`` / ``parallel``: split and merge gateways around the branches;
- ``auto_action``: service task calling the named platform action with its params;
- ``end``: end event (outcome approved).
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from lxml import etree

from . import sandbox
from .deploy import deploy
from .designer_bpmn import BpmnDocument, q
from .designer_registry import NODE_TYPES, SETTINGS, NodeType, designer_schema, register
from .errors import ExpressionRejected, FlowDefinitionError
from .model import BPMN_NS, SPIFF_NS, DeployedProcess

Pending = list[tuple[str, str | None, bool]]  # (source id, condition, is default) to connect

COMPLETION = {
    "all": "countersign['rejected'] > 0",
    "any": "countersign['approved'] + countersign['rejected'] >= 1",
    "n_of_m": (
        "countersign['approved'] >= {n} or countersign['total'] - countersign['rejected'] < {n}"
    ),
    "percentage": (
        "countersign['approved'] * 100 >= {pct} * countersign['total'] or "
        "(countersign['total'] - countersign['rejected']) * 100 < {pct} * countersign['total']"
    ),
}
TALLY = {
    "all": "action = 'reject' if 'reject' in {votes} else 'approve'",
    "any": "action = {votes}[0] if {votes} else 'reject'",
    "n_of_m": "action = 'approve' if {votes}.count('approve') >= {n} else 'reject'",
    "percentage": (
        "action = 'approve' if {votes}.count('approve') * 100 >= {pct} * len({signers}) "
        "else 'reject'"
    ),
}


def _width(nodes: list[dict[str, Any]]) -> int:
    """Grid columns a node list needs: main column plus side paths, branches side by side."""
    widest = 1
    for node in nodes:
        settings = node.get("settings", {})
        if node["type"] in ("condition", "parallel"):
            widest = max(widest, sum(_width(b["nodes"]) for b in settings["branches"]))
        elif node["type"] in ("approver", "countersign"):
            remind = settings.get("timeout", {}).get("action") == "remind"
            widest = max(widest, 3 if remind else 2)
    return widest


class _Compiler:
    def __init__(self, definition: dict[str, Any]) -> None:
        self.doc = BpmnDocument(definition["key"], definition.get("name") or definition["key"])

    def connect(self, pending: Pending, target: str) -> None:
        for source, condition, default in pending:
            self.doc.flow(source, target, condition, default)

    def sequence(self, nodes: list[dict[str, Any]], pending: Pending | None, column: float,
                 row: float, path: str) -> tuple[Pending | None, float]:  # fmt: skip
        for index, node in enumerate(nodes):
            if pending is None:
                raise FlowDefinitionError("node after an end node is unreachable",
                                          field=f"{path}[{index}]")  # fmt: skip
            compile_node = NODE_TYPES[node["type"]].compile
            assert compile_node is not None
            pending, row = compile_node(self, node, pending, column, row, f"{path}[{index}]")
        return pending, row

    # -- shared pieces -------------------------------------------------------------------
    def assignment(self, element: etree._Element, assignee: dict[str, Any]) -> None:
        self.doc.loom(element, "assignment", kind=assignee["kind"], value=assignee.get("value"))

    def permissions(self, element: etree._Element, settings: dict[str, Any]) -> None:
        fields = settings.get("field_permissions")
        if fields:
            holder = self.doc.loom(element, "fieldPermissions")
            for item in fields:
                required = str(item.get("required", False)).lower()
                etree.SubElement(
                    holder, holder.tag.replace("fieldPermissions", "field"), key=item["key"],
                    access=item.get("access", "read"), required=required,
                )  # fmt: skip

    def service(self, element_id: str, column: float, row: float, operation: str,
                params: dict[str, str], name: str | None = None,
                result: str | None = None) -> etree._Element:  # fmt: skip
        task = self.doc.add("serviceTask", element_id, column, row, name)
        operator = etree.SubElement(self.doc.extension(task), q(SPIFF_NS, "serviceTaskOperator"),
                                    id=operation)  # fmt: skip
        if result:
            operator.set("resultVariable", result)
        holder = etree.SubElement(operator, q(SPIFF_NS, "parameters"))
        for key, expression in params.items():
            etree.SubElement(holder, q(SPIFF_NS, "parameter"), id=key, type="any",
                             value=expression)  # fmt: skip
        return task

    def script(self, element_id: str, column: float, row: float, source: str,
               name: str | None = None) -> etree._Element:  # fmt: skip
        task = self.doc.add("scriptTask", element_id, column, row, name)
        etree.SubElement(task, q(BPMN_NS, "script")).text = source
        return task

    def end(self, element_id: str, column: float, row: float, outcome: str,
            terminate: bool = False, name: str | None = None) -> None:  # fmt: skip
        event = self.doc.add("endEvent", element_id, column, row, name)
        self.doc.loom(event, "outcome", value=outcome)
        if terminate:
            etree.SubElement(event, q(BPMN_NS, "terminateEventDefinition"))

    def decision(self, node_id: str, sources: list[str], column: float, row: float) -> Pending:
        gateway = f"{node_id}__decision"
        self.doc.add("exclusiveGateway", gateway, column, row)
        self.connect([(s, None, False) for s in sources], gateway)
        self.end(f"{node_id}__rejected", column + 1, row, "rejected", terminate=True,
                 name="驳回 Rejected")  # fmt: skip
        self.doc.flow(gateway, f"{node_id}__rejected", "action == 'reject'")
        return [(gateway, None, True)]

    def timeout(self, node_id: str, timeout: dict[str, Any] | None, column: float,
                row: float) -> list[str]:  # fmt: skip
        """Boundary timer on ``node_id``; returns extra sources feeding the decision."""
        if not timeout:
            return []
        action = timeout["action"]
        timer = self.doc.add("boundaryEvent", f"{node_id}__timeout", column, row,
                             attached_to=node_id, attachedToRef=node_id,
                             cancelActivity="false" if action == "remind" else "true")  # fmt: skip
        definition = etree.SubElement(timer, q(BPMN_NS, "timerEventDefinition"))
        etree.SubElement(definition, q(BPMN_NS, "timeDuration")).text = repr(timeout["after"])
        if action == "remind":
            remind = f"{node_id}__remind"
            self.service(remind, column + 1, row, "loom.remind", {"node": repr(node_id)},
                         name="催办 Remind")  # fmt: skip
            self.end(f"{remind}_end", column + 2, row, "side")
            self.doc.flow(timer.get("id"), remind)
            self.doc.flow(remind, f"{remind}_end")
            return []
        if action == "escalate":
            handler = self.doc.add("userTask", f"{node_id}__escalated", column + 1, row,
                                   name="超时转交 Escalated")  # fmt: skip
            self.assignment(handler, timeout["escalate_to"])
        else:
            verdict = "approve" if action == "auto_approve" else "reject"
            handler = self.script(f"{node_id}__auto", column + 1, row, f"action = '{verdict}'",
                                  name="超时自动处理 Auto")  # fmt: skip
        self.doc.flow(timer.get("id"), handler.get("id"))
        return [handler.get("id")]


def _check_expression(source: str, mode: str, field: str) -> None:
    try:
        sandbox.check(source, mode)
    except ExpressionRejected as err:
        raise FlowDefinitionError(err.message, field=field, line=err.detail.get("line")) from None


def _start(c: _Compiler, node: dict, pending: Pending, col: float, row: float, path: str):
    if path != "nodes[0]":
        raise FlowDefinitionError("a start node must be the first node", field=path)
    c.doc.add("startEvent", f"{node['id']}__event", col, row, node.get("name") or "发起")
    task = c.doc.add("userTask", node["id"], col, row + 1, "提交 Submit")
    c.doc.loom(task, "submit")
    c.assignment(task, {"kind": "initiator"})
    c.permissions(task, node.get("settings", {}))
    c.doc.flow(f"{node['id']}__event", node["id"])
    return [(node["id"], None, False)], row + 2


def _approver(c: _Compiler, node: dict, pending: Pending, col: float, row: float, path: str):
    settings = node["settings"]
    task = c.doc.add("userTask", node["id"], col, row, node.get("name"))
    c.assignment(task, settings["assignee"])
    c.permissions(task, settings)
    c.connect(pending, node["id"])
    extra = c.timeout(node["id"], settings.get("timeout"), col, row)
    return c.decision(node["id"], [node["id"], *extra], col, row + 1), row + 2


def _countersign(c: _Compiler, node: dict, pending: Pending, col: float, row: float, path: str):
    settings, node_id = node["settings"], node["id"]
    mode, n, pct = settings["mode"], settings.get("n"), settings.get("pct")
    signers, votes = f"signers_{node_id}", f"votes_{node_id}"
    c.service(f"{node_id}__signers", col, row, "loom.resolve_signers", {"node": repr(node_id)},
              name="确定会签人 Signers", result=signers)  # fmt: skip
    c.connect(pending, f"{node_id}__signers")
    task = c.doc.add("userTask", node_id, col, row + 1, node.get("name"))
    c.assignment(task, settings["assignee"])
    c.doc.loom(task, "countersign", mode=mode, n=n, pct=pct)
    c.permissions(task, settings)
    loop = etree.SubElement(task, q(BPMN_NS, "multiInstanceLoopCharacteristics"))
    etree.SubElement(loop, q(BPMN_NS, "loopDataInputRef")).text = signers
    etree.SubElement(loop, q(BPMN_NS, "loopDataOutputRef")).text = votes
    etree.SubElement(loop, q(BPMN_NS, "inputDataItem"), id=f"{node_id}__signer")
    etree.SubElement(loop, q(BPMN_NS, "outputDataItem"), id=f"{node_id}__vote")
    etree.SubElement(loop, q(BPMN_NS, "completionCondition")).text = COMPLETION[mode].format(
        n=n, pct=pct
    )
    c.doc.flow(f"{node_id}__signers", node_id)
    extra = c.timeout(node_id, settings.get("timeout"), col, row + 1)
    tally = TALLY[mode].format(votes=votes, signers=signers, n=n, pct=pct)
    c.script(f"{node_id}__tally", col, row + 2, tally, name="计票 Tally")
    c.doc.flow(node_id, f"{node_id}__tally")
    return c.decision(node_id, [f"{node_id}__tally", *extra], col, row + 3), row + 4


def _cc(c: _Compiler, node: dict, pending: Pending, col: float, row: float, path: str):
    to = [{"kind": a["kind"], "value": a.get("value")} for a in node["settings"]["to"]]
    params = {"node": repr(node["id"]), "to": repr(to), "title": repr(node.get("name") or "")}
    c.service(node["id"], col, row, "loom.cc", params, name=node.get("name") or "抄送 CC")
    c.connect(pending, node["id"])
    return [(node["id"], None, False)], row + 1


def _auto_action(c: _Compiler, node: dict, pending: Pending, col: float, row: float, path: str):
    params = node["settings"].get("params", {})
    for key, expression in params.items():
        _check_expression(expression, "eval", f"{path}.settings.params.{key}")
    c.service(node["id"], col, row, node["settings"]["action"], dict(params), node.get("name"))
    c.connect(pending, node["id"])
    return [(node["id"], None, False)], row + 1


def _branches(kind: str):
    gateway_tag = "exclusiveGateway" if kind == "condition" else "parallelGateway"

    def compile_branches(c: _Compiler, node: dict, pending: Pending, col: float, row: float,
                         path: str):  # fmt: skip
        branches = node["settings"]["branches"]
        if kind == "condition" and sum(bool(b.get("default")) for b in branches) != 1:
            raise FlowDefinitionError("a condition node needs exactly one default branch",
                                      field=f"{path}.settings.branches")  # fmt: skip
        c.doc.add(gateway_tag, node["id"], col, row, node.get("name"))
        c.connect(pending, node["id"])
        outs: Pending = []
        end_row, offset = row + 1, 0
        for index, branch in enumerate(branches):
            where = f"{path}.settings.branches[{index}]"
            condition = None
            if kind == "condition" and not branch.get("default"):
                if not branch.get("condition"):
                    raise FlowDefinitionError("a non-default branch needs a condition",
                                              field=where)  # fmt: skip
                condition = branch["condition"]
                _check_expression(condition, "eval", f"{where}.condition")
            if kind == "parallel" and any(n["type"] == "end" for n in branch["nodes"]):
                raise FlowDefinitionError("a parallel branch cannot end the process", field=where)
            start: Pending = [(node["id"], condition, bool(branch.get("default")))]
            out, branch_row = c.sequence(branch["nodes"], start, col + offset, row + 1,
                                         f"{where}.nodes")  # fmt: skip
            offset += _width(branch["nodes"])
            end_row = max(end_row, branch_row)
            outs.extend(out or [])
        if not outs:
            return None, end_row
        merge = f"{node['id']}__merge"
        c.doc.add(gateway_tag, merge, col, end_row)
        c.connect(outs, merge)
        return [(merge, None, False)], end_row + 1

    return compile_branches


def _end(c: _Compiler, node: dict, pending: Pending, col: float, row: float, path: str):
    c.end(node["id"], col, row, "approved", name=node.get("name") or "结束 End")
    c.connect(pending, node["id"])
    return None, row + 1


_COMPILERS = {
    "start": _start, "approver": _approver, "countersign": _countersign, "cc": _cc,
    "condition": _branches("condition"), "parallel": _branches("parallel"),
    "auto_action": _auto_action, "end": _end,
}  # fmt: skip
for _type, (_label, _schema) in SETTINGS.items():
    register(NodeType(_type, _label, _schema, _COMPILERS[_type]))


def validate_definition(definition: dict[str, Any]) -> None:
    """Check ``definition`` against the designer JSON Schema; first error with its path."""
    error = best_match(Draft202012Validator(designer_schema()).iter_errors(definition))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise FlowDefinitionError(error.message, field=where.lstrip(".") or "$")


def compile_designer(definition: dict[str, Any]) -> str:
    """BPMN 2.0 XML (with a BPMNDI diagram) for a designer definition."""
    validate_definition(definition)
    nodes = definition["nodes"]
    if nodes[0]["type"] != "start":
        raise FlowDefinitionError("the first node must be a start node", field="nodes[0]")
    compiler = _Compiler(definition)
    try:
        pending, row = compiler.sequence(nodes, [], 0, 0, "nodes")
        if pending:
            compiler.end("end", 0, row, "approved", name="结束 End")
            compiler.connect(pending, "end")
    except ValueError as err:  # duplicate element id
        raise FlowDefinitionError(str(err), field="nodes") from None
    return compiler.doc.to_xml()


def deploy_designer(definition: dict[str, Any]) -> DeployedProcess:
    """Compile and deploy a designer definition in one step."""
    return deploy(compile_designer(definition), definition["key"])
