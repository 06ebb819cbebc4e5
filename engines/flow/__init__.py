"""Loom's flow engine: BPMN 2.0 on SpiffWorkflow 3.2 with a sandbox for user expressions.

Public API (plain data in, plain data out; no Flask, no platform imports):

- ``deploy(bpmn_xml, process_id=None) -> DeployedProcess``
- ``compile_designer(definition) -> str`` / ``deploy_designer(definition) -> DeployedProcess``
- ``designer_schema()`` / ``node_types()``: JSON Schema and registry of designer nodes
- ``FlowRuntime``: ``start``, ``complete``, ``return_to``, ``fire_due_timers``,
  ``next_timer_due``, ``status``, ``tasks``, ``history``, ``can_migrate``
- ``sandbox.evaluate`` / ``sandbox.execute`` / ``sandbox.check`` for other engines
"""

from .assignment import Directory, StaticDirectory
from .deploy import deploy
from .designer import compile_designer, deploy_designer, validate_definition
from .designer_registry import designer_schema, node_types
from .errors import (
    ExpressionLimitExceeded,
    ExpressionRejected,
    FlowDefinitionError,
    FlowError,
    FlowRuntimeError,
    InstanceErrored,
    TaskNotReady,
)
from .model import AssignmentSpec, CountersignSpec, DeployedProcess, TaskSpecView, UserTaskInfo
from .runtime import FlowResult, FlowRuntime, MigrationCheck

__all__ = [
    "AssignmentSpec",
    "CountersignSpec",
    "DeployedProcess",
    "Directory",
    "ExpressionLimitExceeded",
    "ExpressionRejected",
    "FlowDefinitionError",
    "FlowError",
    "FlowResult",
    "FlowRuntime",
    "FlowRuntimeError",
    "InstanceErrored",
    "MigrationCheck",
    "StaticDirectory",
    "TaskNotReady",
    "TaskSpecView",
    "UserTaskInfo",
    "compile_designer",
    "deploy",
    "deploy_designer",
    "designer_schema",
    "node_types",
    "validate_definition",
]
