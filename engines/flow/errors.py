"""Exceptions of the flow engine.

One small hierarchy so the web layer can map every failure to a 4xx (or a 5xx for a
broken instance) from ``code`` and ``detail`` instead of parsing messages. ``detail``
carries the structured location: BPMN ``element`` id, ``line`` in the XML or in an
expression, ``field`` path in designer JSON.
"""

from __future__ import annotations

from typing import Any


class FlowError(Exception):
    """Base of every error the flow engine raises on purpose."""

    code = "flow_error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail: dict[str, Any] = {k: v for k, v in detail.items() if v is not None}

    def __str__(self) -> str:
        if not self.detail:
            return self.message
        where = ", ".join(f"{k}={v}" for k, v in self.detail.items())
        return f"{self.message} ({where})"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.detail}


class FlowDefinitionError(FlowError):
    """A process definition (BPMN XML or designer JSON) cannot be deployed."""

    code = "invalid_flow_definition"


class ExpressionRejected(FlowError):
    """A user expression uses something the sandbox forbids (caught before it runs)."""

    code = "expression_rejected"


class ExpressionLimitExceeded(FlowError):
    """A user expression ran too long or tried to build a value too large."""

    code = "expression_limit_exceeded"


class FlowRuntimeError(FlowError):
    """An instance cannot do what was asked (unknown task, task not ready, bad action)."""

    code = "flow_runtime_error"


class TaskNotReady(FlowRuntimeError):
    """The task does not exist or was already completed (maps to 409)."""

    code = "task_not_ready"


class InstanceErrored(FlowError):
    """An engine step failed inside the instance (script error, service error)."""

    code = "instance_errored"
