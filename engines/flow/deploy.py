"""Deploy BPMN 2.0 XML: parse, validate, check, compile to a stored-once spec.

Why so many steps before SpiffWorkflow: a definition is written by a business user or
exported from a modeler; every problem we can find here (XML syntax, schema, unsupported
element, a gateway that can strand an instance, an unsafe expression) must come back as
one ``FlowDefinitionError`` naming the element and line, not as a stuck instance.
"""

from __future__ import annotations

import hashlib

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from .bpmn_checks import (
    NS,
    check_expressions,
    check_gateways,
    check_supported,
    translate_camunda,
)
from .bpmn_metadata import read_end_outcomes, read_user_tasks
from .errors import FlowDefinitionError
from .model import CAMUNDA_NS, DeployedProcess
from .serializer import FlowSerializer

MAX_XML_BYTES = 2 * 1024 * 1024
_SERIALIZER = FlowSerializer()


def _parse_xml(bpmn_xml: str | bytes) -> etree._Element:
    data = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    if len(data) > MAX_XML_BYTES:
        raise FlowDefinitionError("BPMN document is too large", limit=MAX_XML_BYTES)
    # No entities, no network, no huge trees: the XML comes from users.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
    )
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise FlowDefinitionError(
            f"BPMN is not well-formed XML: {err.msg}", line=err.lineno, column=err.offset
        ) from None


def _validate_schema(root: etree._Element) -> None:
    try:
        VALIDATOR.validate(root)
    except ValidationException as err:
        raise FlowDefinitionError(
            f"BPMN does not match the BPMN 2.0 schema: {err}", line=err.line_number or None
        ) from None


def _pick_process(root: etree._Element, process_id: str | None) -> etree._Element:
    processes = root.xpath("bpmn:process", namespaces=NS)
    if process_id is not None:
        chosen = [p for p in processes if p.get("id") == process_id]
        if not chosen:
            raise FlowDefinitionError(f"process '{process_id}' is not in the document")
        return chosen[0]
    executable = [p for p in processes if p.get("isExecutable", "true") != "false"]
    if len(executable) != 1:
        raise FlowDefinitionError(
            f"the document must contain exactly one executable process, found {len(executable)}"
        )
    return executable[0]


def _spiff_specs(root: etree._Element, process_id: str) -> tuple[object, dict[str, object]]:
    parser = SpiffBpmnParser()  # the schema was already checked on the original tree
    try:
        parser.add_bpmn_xml(root)
        return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    except ValidationException as err:
        raise FlowDefinitionError(
            f"BPMN cannot be compiled: {err}",
            element=getattr(err, "id", None) or None,
            line=getattr(err, "line_number", None) or None,
        ) from None
    except SpiffWorkflowException as err:
        raise FlowDefinitionError(f"BPMN cannot be compiled: {err}") from None


def deploy(bpmn_xml: str | bytes, process_id: str | None = None) -> DeployedProcess:
    """Validate and compile ``bpmn_xml``; raise ``FlowDefinitionError`` on any problem."""
    root = _parse_xml(bpmn_xml)
    _validate_schema(root)
    process = _pick_process(root, process_id)
    if CAMUNDA_NS in root.nsmap.values() or CAMUNDA_NS in process.nsmap.values():
        translate_camunda(process)
    check_supported(process)
    warnings = check_gateways(process)
    check_expressions(process)
    user_tasks, unassigned = read_user_tasks(process)
    spec, subprocess_specs = _spiff_specs(root, process.get("id"))
    spec_json = _SERIALIZER.spec_to_json(spec, subprocess_specs)
    return DeployedProcess(
        process_id=process.get("id"),
        name=process.get("name") or process.get("id"),
        content_hash=hashlib.sha256(spec_json.encode("utf-8")).hexdigest(),
        spec_json=spec_json,
        bpmn_xml=bpmn_xml if isinstance(bpmn_xml, str) else bpmn_xml.decode("utf-8"),
        user_tasks=user_tasks,
        end_outcomes=read_end_outcomes(process),
        warnings=warnings + unassigned,
    )
