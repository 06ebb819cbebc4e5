"""Exceptions of the rule engine, with structured detail the web layer maps to 4xx."""

from __future__ import annotations


class RuleError(Exception):
    """Base of every rule-engine error."""


class RuleDefinitionError(RuleError):
    """A rule definition is invalid or cannot be compiled safely (maps to HTTP 422).

    `details` is a list of `{"path": "condition.all[0].field", "message": "..."}` so the
    designer can point at the offending element.
    """

    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])

    def __str__(self) -> str:
        if not self.details:
            return self.message
        lines = "; ".join(f"{d['path']}: {d['message']}" for d in self.details)
        return f"{self.message}: {lines}"


class RuleWorkerError(RuleError):
    """The worker pool itself cannot work (e.g. a fresh worker cannot even start)."""
