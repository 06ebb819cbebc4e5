"""Instance persistence with the process definition stored once and referenced.

Why: SpiffWorkflow's default serializer copies the whole process definition into every
instance (~13 KB of a ~20 KB credit-flow instance, measured). Here the definition is
serialized once at deploy (``DeployedProcess.spec_json``) and an instance stores only its
task tree plus the definition's content hash. Restoring reuses one parsed spec object per
definition (cached), and always attaches the restricted script engine: SpiffWorkflow does
not serialize the engine, so a restored workflow would otherwise silently get the
default, unrestricted ``eval``.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from .errors import FlowRuntimeError
from .model import DeployedProcess
from .script_engine import RestrictedScriptEngine

SpecPair = tuple[Any, dict[str, Any]]  # (BpmnProcessSpec, subprocess specs by name)


class ReferencedWorkflowConverter(BpmnWorkflowConverter):
    """Converts a top-level workflow without its spec; restore takes ``specs=`` instead."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], specs: SpecPair | None = None) -> BpmnWorkflow:
        if specs is None:
            raise FlowRuntimeError("restoring an instance needs its process definition")
        # The base converter restores whatever is under these keys; restoring an object
        # that is not a serialized dict returns it unchanged, so the cached specs are reused.
        dct["spec"], dct["subprocess_specs"] = specs
        return super().from_dict(dct)


def _new_registry() -> Any:
    registry = BpmnWorkflowSerializer.configure(dict(SPIFF_CONFIG))
    ReferencedWorkflowConverter(BpmnWorkflow, registry)
    return registry


class FlowSerializer:
    """Turns specs and instances into JSON text and back; one per process is enough."""

    def __init__(self, cache_size: int = 256) -> None:
        self._serializer = BpmnWorkflowSerializer(_new_registry())
        self._specs: OrderedDict[str, SpecPair] = OrderedDict()
        self._cache_size = cache_size

    # -- definitions -------------------------------------------------------------------
    def spec_to_json(self, spec: Any, subprocess_specs: dict[str, Any]) -> str:
        registry = self._serializer.registry
        payload = {
            "spec": registry.convert(spec),
            "subprocess_specs": {k: registry.convert(v) for k, v in subprocess_specs.items()},
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def load_specs(self, deployed: DeployedProcess) -> SpecPair:
        """Parsed spec objects for ``deployed``, restored once per content hash."""
        cached = self._specs.get(deployed.content_hash)
        if cached is not None:
            self._specs.move_to_end(deployed.content_hash)
            return cached
        payload = json.loads(deployed.spec_json)
        registry = self._serializer.registry
        specs = (
            registry.restore(payload["spec"]),
            {k: registry.restore(v) for k, v in payload["subprocess_specs"].items()},
        )
        self._specs[deployed.content_hash] = specs
        if len(self._specs) > self._cache_size:
            self._specs.popitem(last=False)
        return specs

    # -- instances ---------------------------------------------------------------------
    def dump(self, workflow: BpmnWorkflow, deployed: DeployedProcess, meta: dict[str, Any]) -> str:
        """JSON text of the instance: definition hash, Loom metadata, task tree."""
        body = self._serializer.serialize_json(workflow)
        head = json.dumps({"definition": deployed.content_hash, "loom": meta}, ensure_ascii=False)
        return head[:-1] + ',"workflow":' + body + "}"

    def load(
        self, state: str, deployed: DeployedProcess, script_engine: RestrictedScriptEngine
    ) -> tuple[BpmnWorkflow, dict[str, Any]]:
        """Restore an instance of ``deployed`` with ``script_engine`` attached, and its meta."""
        envelope = json.loads(state, cls=self._serializer.json_decoder_cls)
        if envelope.get("definition") != deployed.content_hash:
            raise FlowRuntimeError(
                "instance belongs to another process version",
                definition=envelope.get("definition"),
                expected=deployed.content_hash,
            )
        dct = envelope["workflow"]
        self._serializer.migrate(dct)
        workflow = self._serializer.from_dict(dct, specs=self.load_specs(deployed))
        workflow.script_engine = script_engine
        return workflow, envelope.get("loom", {})

    @staticmethod
    def read_meta(state: str) -> dict[str, Any]:
        """Loom metadata of an instance without restoring its workflow."""
        return dict(json.loads(state).get("loom", {}))

    @staticmethod
    def definition_of(state: str) -> str:
        """Content hash of the definition an instance was started on (version pinning)."""
        return str(json.loads(state)["definition"])
