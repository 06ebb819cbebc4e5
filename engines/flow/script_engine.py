"""SpiffWorkflow script engine wired to the sandbox.

Why a subclass: SpiffWorkflow sends conditions, scripts, timer and multi-instance
expressions, DMN cells and service calls through ``workflow.script_engine`` and, for
process-level conditions, straight through ``script_engine.environment``. Replacing
both keeps every user expression inside the sandbox. The engine is *not* serialized with
an instance, so ``serializer.restore`` attaches a new one every time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from . import sandbox
from .errors import FlowError, FlowRuntimeError
from .sandbox_guards import DEFAULT_MAX_STEPS, DEFAULT_TIME_LIMIT

#: ``(operation_name, evaluated params, task data) -> JSON-able result``
ServiceConnector = Callable[[str, dict[str, Any], Mapping[str, Any]], Any]


def _no_services(name: str, params: dict[str, Any], data: Mapping[str, Any]) -> Any:
    raise FlowRuntimeError(f"no connector is configured for service '{name}'", operation=name)


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """Task-data environment that evaluates through ``sandbox`` and calls our connector."""

    def __init__(
        self,
        connector: ServiceConnector | None = None,
        *,
        time_limit: float = DEFAULT_TIME_LIMIT,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        super().__init__({})
        self.connector = connector or _no_services
        self.time_limit = time_limit
        self.max_steps = max_steps

    def evaluate(
        self, expression: str, context: Mapping[str, Any], external_context: Any = None
    ) -> Any:
        names = {**(external_context or {}), **context}
        return sandbox.evaluate(
            expression, names, time_limit=self.time_limit, max_steps=self.max_steps
        )

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        external = dict(external_context or {})
        clash = set(external).intersection(context)
        if clash:
            raise FlowRuntimeError(f"task data overwrites predefined names: {sorted(clash)}")
        names = {**external, **context}
        sandbox.execute(
            script,
            names,
            time_limit=self.time_limit,
            max_steps=self.max_steps,
            hidden=frozenset(external),
        )
        context.clear()
        context.update(names)
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> str:
        params = {name: p["value"] for name, p in kwargs.get("operation_params", {}).items()}
        result = self.connector(kwargs["operation_name"], params, context)
        return json.dumps(result)


class RestrictedScriptEngine(PythonScriptEngine):
    """Script engine whose environment is a ``RestrictedEnvironment``.

    Our own errors keep their type and gain the BPMN element id, so the runtime can report
    "expression rejected at Gateway_1" instead of SpiffWorkflow's generic wrapper.
    """

    environment: RestrictedEnvironment

    def __init__(self, environment: RestrictedEnvironment | None = None) -> None:
        super().__init__(environment or RestrictedEnvironment())

    def validate(self, expression: str) -> None:
        sandbox.check(expression, "eval")

    @staticmethod
    def _locate(err: FlowError, task: Any, source: str) -> FlowError:
        err.detail.setdefault("element", getattr(task.task_spec, "bpmn_id", None))
        err.detail.setdefault("expression", source[:200])
        return err

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except FlowError as err:
            raise self._locate(err, task, expression) from None
        except Exception as err:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}'", task=task, exception=err
            ) from err

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except FlowError as err:
            raise self._locate(err, task, script) from None
        except Exception as err:
            raise self.create_task_exec_exception(task, script, err) from err

    def call_service(self, task: Any, **kwargs: Any) -> str:
        try:
            return self.environment.call_service(task.data, **kwargs)
        except FlowError as err:
            raise self._locate(err, task, kwargs.get("operation_name", "")) from None
        except Exception as err:
            raise WorkflowTaskException(
                f"service '{kwargs.get('operation_name')}' failed: {err}", task=task, exception=err
            ) from err
