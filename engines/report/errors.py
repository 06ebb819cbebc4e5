"""Exceptions raised by the report engine.

Every error carries ``details``: a list of ``{"path", "message"}`` dicts pointing into the
report definition, so the web layer can answer 422 with the API's single error envelope
without parsing message strings.
"""

from __future__ import annotations

from collections.abc import Iterable


class ReportError(Exception):
    """Base of the report engine's errors; ``details`` locate the problem in the definition."""

    code = "report_error"

    def __init__(self, message: str, details: Iterable[dict] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[dict] = list(details or [])

    def to_dict(self) -> dict:
        """The error in the API envelope's shape (``code``, ``message``, ``details``)."""
        return {"code": self.code, "message": self.message, "details": self.details}


class ReportDefinitionError(ReportError):
    """The definition breaks a rule (schema, unknown field, wrong aggregate): a 422."""

    code = "validation_error"


class ReportExecutionError(ReportError):
    """A valid definition that cannot run here (e.g. a DST timezone bucketed on SQLite)."""

    code = "report_execution_error"


class DrillDownError(ReportError):
    """The clicked row cannot be expressed as record-API filters (e.g. the "others" row)."""

    code = "drill_down_error"


def detail(path: str, message: str) -> dict:
    """One ``{"path", "message"}`` entry; paths use dots and list indexes (``measures.0.field``)."""
    return {"path": path, "message": message}
