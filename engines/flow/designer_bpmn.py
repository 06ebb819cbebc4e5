"""BPMN element builder and diagram (BPMNDI) layout for the node designer compiler.

Why separate: the compiler decides *what* elements a node becomes; this module knows how
to write them as BPMN 2.0 XML and where to draw them so bpmn-js opens the result with a
readable vertical layout (main path in one column, side paths to the right).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .model import BPMN_NS, LOOM_NS, SPIFF_NS

BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {
    "bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS,
    "loom": LOOM_NS, "spiffworkflow": SPIFF_NS, "xsi": XSI_NS,
}  # fmt: skip

SIZES = {
    "event": (36, 36),
    "gateway": (50, 50),
    "task": (120, 80),
}
COLUMN_WIDTH = 180
ROW_HEIGHT = 120


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def shape_kind(tag: str) -> str:
    if tag.endswith("Event"):
        return "event"
    if tag.endswith("Gateway"):
        return "gateway"
    return "task"


@dataclass
class Placed:
    element: etree._Element
    column: float
    row: float
    attached_to: str | None = None


@dataclass
class BpmnDocument:
    """Collects process elements with grid positions, then writes XML with BPMNDI."""

    process_id: str
    name: str
    root: etree._Element = field(init=False)
    process: etree._Element = field(init=False)
    placed: dict[str, Placed] = field(default_factory=dict)
    flows: list[etree._Element] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = etree.Element(
            q(BPMN_NS, "definitions"),
            nsmap=NSMAP,
            id=f"Definitions_{self.process_id}",
            targetNamespace="http://loom.dev/bpmn/designer",
            exporter="loom-designer",
            exporterVersion="1",
        )
        self.process = etree.SubElement(
            self.root, q(BPMN_NS, "process"), id=self.process_id, name=self.name,
            isExecutable="true",
        )  # fmt: skip

    def add(self, tag: str, element_id: str, column: float, row: float, name: str | None = None,
            attached_to: str | None = None, **attrs: str) -> etree._Element:  # fmt: skip
        if element_id in self.placed:
            raise ValueError(f"duplicate element id {element_id}")
        element = etree.SubElement(self.process, q(BPMN_NS, tag), id=element_id, **attrs)
        if name:
            element.set("name", name)
        self.placed[element_id] = Placed(element, column, row, attached_to)
        return element

    def extension(self, element: etree._Element) -> etree._Element:
        ext = element.find(q(BPMN_NS, "extensionElements"))
        if ext is None:
            ext = etree.Element(q(BPMN_NS, "extensionElements"))
            element.insert(0, ext)
        return ext

    def loom(self, element: etree._Element, tag: str, **attrs: Any) -> etree._Element:
        clean = {k: str(v) for k, v in attrs.items() if v is not None}
        return etree.SubElement(self.extension(element), q(LOOM_NS, tag), **clean)

    def flow(self, source: str, target: str, condition: str | None = None,
             default: bool = False) -> str:  # fmt: skip
        flow_id = f"Flow_{len(self.flows) + 1}"
        flow = etree.Element(q(BPMN_NS, "sequenceFlow"), id=flow_id, sourceRef=source,
                             targetRef=target)  # fmt: skip
        if condition is not None:
            expr = etree.SubElement(flow, q(BPMN_NS, "conditionExpression"))
            expr.set(q(XSI_NS, "type"), "bpmn:tFormalExpression")
            expr.text = condition
        self.flows.append(flow)
        if default:
            self.placed[source].element.set("default", flow_id)
        return flow_id

    def _wire_incoming_outgoing(self) -> None:
        """Add ``incoming``/``outgoing`` children in schema order (after extensions)."""
        links: dict[str, list[tuple[str, str]]] = {}
        for flow in self.flows:
            links.setdefault(flow.get("targetRef"), []).append(("incoming", flow.get("id")))
            links.setdefault(flow.get("sourceRef"), []).append(("outgoing", flow.get("id")))
        for element_id, items in links.items():
            owner = self.placed[element_id].element
            position = 1 if owner.find(q(BPMN_NS, "extensionElements")) is not None else 0
            for tag, flow_id in sorted(items, key=lambda item: item[0] != "incoming"):
                link = etree.Element(q(BPMN_NS, tag))
                link.text = flow_id
                owner.insert(position, link)
                position += 1
        self.process.extend(self.flows)

    def _bounds(self, placed: Placed) -> tuple[float, float, float, float]:
        width, height = SIZES[shape_kind(etree.QName(placed.element).localname)]
        if placed.attached_to is not None:
            host = self._bounds(self.placed[placed.attached_to])
            return host[0] + host[2] - width / 2 - 4, host[1] + host[3] - height / 2, width, height
        center_x = 120 + placed.column * COLUMN_WIDTH
        center_y = 80 + placed.row * ROW_HEIGHT
        return center_x - width / 2, center_y - height / 2, width, height

    def _diagram(self) -> None:
        diagram = etree.SubElement(self.root, q(BPMNDI_NS, "BPMNDiagram"), id="BPMNDiagram_1")
        plane = etree.SubElement(diagram, q(BPMNDI_NS, "BPMNPlane"), id="BPMNPlane_1",
                                 bpmnElement=self.process_id)  # fmt: skip
        for element_id, placed in self.placed.items():
            shape = etree.SubElement(plane, q(BPMNDI_NS, "BPMNShape"), id=f"{element_id}_di",
                                     bpmnElement=element_id)  # fmt: skip
            x, y, w, h = self._bounds(placed)
            etree.SubElement(shape, q(DC_NS, "Bounds"), x=f"{x:g}", y=f"{y:g}", width=f"{w:g}",
                             height=f"{h:g}")  # fmt: skip
        for flow in self.flows:
            edge = etree.SubElement(plane, q(BPMNDI_NS, "BPMNEdge"), id=f"{flow.get('id')}_di",
                                    bpmnElement=flow.get("id"))  # fmt: skip
            for x, y in self._waypoints(flow.get("sourceRef"), flow.get("targetRef")):
                etree.SubElement(edge, q(DI_NS, "waypoint"), x=f"{x:g}", y=f"{y:g}")

    def _waypoints(self, source: str, target: str) -> list[tuple[float, float]]:
        sx, sy, sw, sh = self._bounds(self.placed[source])
        tx, ty, tw, th = self._bounds(self.placed[target])
        start = (sx + sw / 2, sy + sh)
        if ty + th / 2 <= sy + sh / 2:  # going back up: leave and enter from the side
            start, end = (sx + sw, sy + sh / 2), (tx + tw, ty + th / 2)
            side = max(sx + sw, tx + tw) + 30
            return [start, (side, start[1]), (side, end[1]), end]
        end = (tx + tw / 2, ty)
        if abs(start[0] - end[0]) < 1:
            return [start, end]
        middle = end[1] - 20
        return [start, (start[0], middle), (end[0], middle), end]

    def to_xml(self) -> str:
        self._wire_incoming_outgoing()
        self._diagram()
        return etree.tostring(self.root, pretty_print=True, xml_declaration=True,
                              encoding="UTF-8").decode("utf-8")  # fmt: skip
