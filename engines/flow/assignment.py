"""Resolving a task's assignment specs against instance data.

Why in the engine: the expression kind runs user code (sandboxed here) and countersign
needs the concrete signer list *inside* the flow (one instance per signer). Looking up
people (role members, department heads) stays with the platform through ``Directory``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import sandbox
from .errors import FlowRuntimeError
from .model import AssignmentSpec


class Directory(Protocol):
    """People lookups the platform provides (SQL over its user/department tables)."""

    def users_with_role(self, role: str) -> list[str]: ...

    def department_head(self, department: str) -> str | None: ...


@dataclass
class StaticDirectory:
    """A directory from dicts: for tests, benchmarks and single-tenant setups."""

    roles: dict[str, list[str]] = field(default_factory=dict)
    department_heads: dict[str, str] = field(default_factory=dict)

    def users_with_role(self, role: str) -> list[str]:
        return list(self.roles.get(role, []))

    def department_head(self, department: str) -> str | None:
        return self.department_heads.get(department)


@dataclass
class Resolution:
    """Concrete users plus roles whose members may claim the task."""

    users: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)

    def add_users(self, users: Iterable[Any]) -> None:
        for user in users:
            text = str(user)
            if text and text not in self.users:
                self.users.append(text)


def _expression_users(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return list(value)
    return [value]


def resolve(
    specs: Iterable[AssignmentSpec],
    data: Mapping[str, Any],
    people: Mapping[str, str | None],
    directory: Directory | None,
    *,
    expand_roles: bool = False,
) -> Resolution:
    """Resolve ``specs``; ``people`` holds ``initiator`` and ``record_owner``.

    Roles stay roles (the inbox offers the task to the role and one member claims it)
    unless ``expand_roles``: countersign needs one instance per person.
    """
    result = Resolution()
    for spec in specs:
        if spec.kind == "user":
            result.add_users(u.strip() for u in (spec.value or "").split(","))
        elif spec.kind in ("initiator", "record_owner"):
            result.add_users([people[spec.kind]] if people.get(spec.kind) else [])
        elif spec.kind == "role":
            if expand_roles:
                if directory is None:
                    raise FlowRuntimeError(f"role '{spec.value}' needs a directory to expand")
                result.add_users(directory.users_with_role(spec.value or ""))
            elif spec.value not in result.roles:
                result.roles.append(spec.value or "")
        elif spec.kind == "dept_head":
            department = data.get(spec.value or "")
            head = directory.department_head(str(department)) if directory else None
            if head:
                result.add_users([head])
            else:
                result.roles.append(f"dept_head:{department}")
        elif spec.kind == "expression":
            names = {**data, **{k: v for k, v in people.items() if k not in data}}
            result.add_users(_expression_users(sandbox.evaluate(spec.value or "None", names)))
        else:
            raise FlowRuntimeError(f"unknown assignment kind '{spec.kind}'")
    return result
