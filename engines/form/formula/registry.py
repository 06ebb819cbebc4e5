"""The function registry: one explicit table from a name to its arity, its static type
rule and its implementation.

A platform that wants more functions builds its own registry (``DEFAULT_FUNCTIONS.copy()``
then ``register``) and passes it to ``compile_formula``; nothing is patched globally.

Implementations take the evaluation context first and then the argument values, already
evaluated (``lazy=False``), or the record's values, the context and argument closures
(``lazy=True``: ``if`` and ``coalesce`` must not evaluate branches they do not take).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from engines.form.formula import valuetypes as vt
from engines.form.formula.nodes import Literal, Node


@dataclass(frozen=True, slots=True)
class ArgInfo:
    """What the type rule sees of one argument: its static type and its syntax node."""

    type: str
    node: Node

    @property
    def literal(self) -> Any:
        """The argument's value when it is written as a literal, else None."""
        return self.node.value if isinstance(self.node, Literal) else None


class ArgProblem(Exception):
    """Raised by a type rule; ``index`` says which argument to point at (None: the call)."""

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.message = message
        self.index = index


TypeRule = Callable[[list[ArgInfo]], str]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    check: TypeRule
    impl: Callable[..., Any]
    doc: str
    lazy: bool = False

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.min_args == self.max_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


class FunctionRegistry:
    def __init__(self, specs: Iterable[FunctionSpec] = ()):
        self._specs: dict[str, FunctionSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: FunctionSpec) -> FunctionSpec:
        name = spec.name.lower()
        if name in self._specs:
            raise ValueError(f"formula function {name!r} registered twice")
        self._specs[name] = spec
        return spec

    def get(self, name: str) -> FunctionSpec | None:
        return self._specs.get(name.lower())

    def names(self) -> list[str]:
        return sorted(self._specs)

    def copy(self) -> FunctionRegistry:
        return FunctionRegistry(self._specs.values())

    def describe(self) -> list[dict[str, Any]]:
        """Name, arity and help of every function, for the designer's formula editor."""
        return [
            {"name": s.name, "min_args": s.min_args, "max_args": s.max_args, "doc": s.doc}
            for s in sorted(self._specs.values(), key=lambda s: s.name)
        ]


# -- helpers shared by the type rules -----------------------------------------------------


def expect(args: list[ArgInfo], index: int, *allowed: str, what: str | None = None) -> str:
    """Check one argument's type (null always passes); return it."""
    type_ = args[index].type
    if type_ == vt.NULL or type_ in allowed:
        return type_
    wanted = what or " or ".join(vt.describe(t) for t in allowed)
    raise ArgProblem(f"argument {index + 1} should be {wanted}, got {vt.describe(type_)}", index)


def expect_unit(args: list[ArgInfo], index: int, units: Iterable[str]) -> str:
    """A unit such as 'day' must be written as a literal so it is checked before running."""
    value = args[index].literal
    allowed = tuple(units)
    if not isinstance(value, str) or value.lower() not in allowed:
        choices = ", ".join(repr(u) for u in allowed)
        raise ArgProblem(f"argument {index + 1} should be one of {choices} (as written text)",
                         index)
    return value.lower()


def fixed(result: str, *arg_types: tuple[str, ...] | str) -> TypeRule:
    """A rule for functions whose arguments each accept fixed types and whose result is
    always ``result``. Each entry of ``arg_types`` is a type or a tuple of types."""

    def rule(args: list[ArgInfo]) -> str:
        for index, allowed in enumerate(arg_types[: len(args)]):
            options = allowed if isinstance(allowed, tuple) else (allowed,)
            expect(args, index, *options)
        return result

    return rule
