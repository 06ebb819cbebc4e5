"""Exceptions of the form engine. Each carries structured detail so the web layer can map
it to a 4xx response without parsing messages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    """One problem at one place: ``path`` is a field key, ``fields[2].type``, ``items[0].qty``."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class FormError(Exception):
    """Base class: a message plus a list of problems, each with its path."""

    code = "form_error"

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = problems or []

    def details(self) -> list[dict[str, str]]:
        return [p.as_dict() for p in self.problems]


class DefinitionError(FormError):
    """An entity definition is malformed (unknown type, duplicate key, bad option...)."""

    code = "invalid_definition"


class RecordInvalid(FormError):
    """A record breaks its entity's rules; every broken field is listed."""

    code = "validation_error"


class UnsafeChange(FormError):
    """Publishing would lose or corrupt data; nothing was changed."""

    code = "unsafe_change"


@dataclass
class FieldProblem(Exception):
    """Raised by a field parser for one value; the validator adds the path."""

    message: str
    sub: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message
