"""Deploy-time checks on the BPMN XML tree, run before SpiffWorkflow parses it.

Why our own pass: SpiffWorkflow accepts elements we cannot run safely or meaningfully
(message flows, signals, sub-processes...) and only finds many mistakes while running.
Refusing them at deploy, with the element id, turns a stuck instance next week into a
400 today.
"""

from __future__ import annotations

import re

from lxml import etree

from . import sandbox
from .errors import ExpressionRejected, FlowDefinitionError
from .model import BPMN_NS, CAMUNDA_NS, LOOM_NS, SPIFF_NS

NS = {"bpmn": BPMN_NS, "loom": LOOM_NS, "camunda": CAMUNDA_NS, "spiff": SPIFF_NS}

SUPPORTED_FLOW_NODES = frozenset(
    {
        "startEvent", "endEvent", "userTask", "scriptTask", "serviceTask", "manualTask",
        "task", "exclusiveGateway", "parallelGateway", "inclusiveGateway", "boundaryEvent",
        "intermediateCatchEvent", "sequenceFlow",
    }
)  # fmt: skip
#: Process children that are not flow nodes and carry no behaviour.
PASSIVE_ELEMENTS = frozenset(
    {"laneSet", "documentation", "extensionElements", "textAnnotation", "association",
     "dataObject", "dataObjectReference", "property", "ioSpecification"}
)  # fmt: skip
EVENT_DEFINITIONS = frozenset(
    {"timerEventDefinition", "terminateEventDefinition", "messageEventDefinition",
     "signalEventDefinition", "errorEventDefinition", "escalationEventDefinition",
     "conditionalEventDefinition", "compensateEventDefinition", "cancelEventDefinition",
     "linkEventDefinition"}
)  # fmt: skip
ALLOWED_EVENT_DEFINITIONS = {
    "startEvent": frozenset(),
    "endEvent": frozenset({"terminateEventDefinition"}),
    "boundaryEvent": frozenset({"timerEventDefinition"}),
    "intermediateCatchEvent": frozenset({"timerEventDefinition"}),
}


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _fail(message: str, element: etree._Element, **detail: object) -> FlowDefinitionError:
    return FlowDefinitionError(
        message, element=element.get("id"), tag=local(element), line=element.sourceline, **detail
    )


def check_supported(process: etree._Element) -> None:
    """Every flow element of ``process`` must be one the runtime supports."""
    for element in process:
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        name = local(element)
        if etree.QName(element).namespace != BPMN_NS or name in PASSIVE_ELEMENTS:
            continue
        if name not in SUPPORTED_FLOW_NODES:
            raise _fail(f"BPMN element '{name}' is not supported by Loom flows", element)
        definitions = {
            local(child)
            for child in element
            if isinstance(child.tag, str) and local(child) in EVENT_DEFINITIONS
        }
        allowed = ALLOWED_EVENT_DEFINITIONS.get(name)
        if allowed is not None and not definitions <= allowed:
            unsupported = sorted(definitions - allowed)[0]
            raise _fail(f"'{unsupported}' on '{name}' is not supported by Loom flows", element)
        if name in ("boundaryEvent", "intermediateCatchEvent") and not definitions:
            raise _fail(f"'{name}' needs a timer definition", element)
        if element.xpath("bpmn:timerEventDefinition/bpmn:timeCycle", namespaces=NS):
            raise _fail("repeating timers (timeCycle) are not supported", element)
        if name == "serviceTask" and not element.xpath(
            "bpmn:extensionElements/spiff:serviceTaskOperator", namespaces=NS
        ):
            raise _fail(
                "service task needs a spiffworkflow:serviceTaskOperator naming a platform action",
                element,
            )
        if element.get(f"{{{CAMUNDA_NS}}}collection") is not None or element.xpath(
            "bpmn:multiInstanceLoopCharacteristics/@camunda:collection", namespaces=NS
        ):
            raise _fail(
                "camunda:collection is not supported: use loopDataInputRef and inputDataItem",
                element,
            )


def check_gateways(process: etree._Element) -> list[str]:
    """Exclusive gateways need a default or an unconditional way out; returns warnings."""
    flows = {f.get("id"): f for f in process.xpath("bpmn:sequenceFlow", namespaces=NS)}
    warnings: list[str] = []
    for gateway in process.xpath("bpmn:exclusiveGateway|bpmn:inclusiveGateway", namespaces=NS):
        outgoing = [f for f in flows.values() if f.get("sourceRef") == gateway.get("id")]
        if len(outgoing) < 2:
            continue
        default = gateway.get("default")
        if default is not None and default not in {f.get("id") for f in outgoing}:
            raise _fail(f"default flow '{default}' does not leave this gateway", gateway)
        unconditioned = [
            f
            for f in outgoing
            if f.get("id") != default and f.find(f"{{{BPMN_NS}}}conditionExpression") is None
        ]
        if unconditioned:
            raise _fail(
                f"flow '{unconditioned[0].get('id')}' leaves a gateway with several ways out "
                "but has no condition and is not the default",
                gateway,
            )
        if default is None and local(gateway) == "exclusiveGateway":
            raise _fail(
                "exclusive gateway has no default flow and every outgoing flow has a "
                "condition: when all conditions are false the instance would be stuck; "
                "mark one flow as the default",
                gateway,
            )
    return warnings


def _text(element: etree._Element) -> str:
    return (element.text or "").strip()


def _check_source(source: str, mode: str, element: etree._Element, what: str) -> None:
    try:
        sandbox.check(source, mode)
    except ExpressionRejected as err:
        owner = element
        while owner is not None and owner.get("id") is None:
            owner = owner.getparent()
        raise FlowDefinitionError(
            f"{what}: {err.message}",
            element=owner.get("id") if owner is not None else None,
            line=element.sourceline,
            expression=source[:200],
            expression_line=err.detail.get("line"),
        ) from None


EXPRESSION_XPATHS = (
    ("bpmn:sequenceFlow/bpmn:conditionExpression", "condition"),
    (".//bpmn:timeDuration|.//bpmn:timeDate|.//bpmn:timeCycle", "timer expression"),
    (".//bpmn:completionCondition", "completion condition"),
    (".//bpmn:loopCardinality", "loop cardinality"),
    (".//spiff:serviceTaskOperator/spiff:parameter/@value", "service parameter"),
    (".//loom:assignment[@kind='expression']/@value", "assignment expression"),
)


def check_expressions(process: etree._Element) -> None:
    """Every expression and script must pass the sandbox's static check at deploy time."""
    for xpath, what in EXPRESSION_XPATHS:
        for hit in process.xpath(xpath, namespaces=NS):
            if isinstance(hit, str):  # attribute value
                _check_source(str(hit), "eval", hit.getparent(), what)
            elif _text(hit):
                _check_source(_text(hit), "eval", hit, what)
    for script in process.xpath(
        ".//bpmn:scriptTask/bpmn:script|.//spiff:preScript|.//spiff:postScript", namespaces=NS
    ):
        if _text(script):
            _check_source(script.text or "", "exec", script, "script")


_JUEL = re.compile(r"^\s*\$\{(?P<body>.*)\}\s*$", re.S)
_JUEL_OPERATORS = (
    (re.compile(r"&&"), " and "),
    (re.compile(r"\|\|"), " or "),
    (re.compile(r"!(?!=)"), " not "),
    (re.compile(r"\btrue\b"), "True"),
    (re.compile(r"\bfalse\b"), "False"),
    (re.compile(r"\bnull\b"), "None"),
)


def juel_to_python(text: str) -> str:
    """Translate a Camunda ``${...}`` expression (the common subset) to Python.

    Only the operators differ for the conditions business users write
    (``${amount >= 50000 && level == 'A'}``); anything else stays as written and must pass
    the sandbox check like any other expression.
    """
    match = _JUEL.match(text)
    if match is None:
        return text
    body = match.group("body")
    for pattern, replacement in _JUEL_OPERATORS:
        body = pattern.sub(replacement, body)
    return " ".join(body.split())


def translate_camunda(process: etree._Element) -> None:
    """Rewrite Camunda ``${...}`` conditions in place so SpiffWorkflow sees Python."""
    for condition in process.xpath(
        ".//bpmn:conditionExpression|.//bpmn:completionCondition", namespaces=NS
    ):
        if condition.text and "${" in condition.text:
            condition.text = juel_to_python(condition.text)
