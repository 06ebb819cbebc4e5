"""Syntax tree of a formula. Every node keeps the offset of the character it starts at (or,
for operators, of the operator) so type errors can point at the right place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any  # Decimal, str, bool or None
    position: int


@dataclass(frozen=True, slots=True)
class FieldRef:
    key: str  # "amount", or "items.amount" for a subtable column
    position: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-", "+", "not"
    operand: Node
    position: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # arithmetic, comparison, "&", "and", "or"
    left: Node
    right: Node
    position: int


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # lower-cased function name
    args: tuple[Node, ...]
    position: int


Node = Literal | FieldRef | Unary | Binary | Call


def field_references(node: Node) -> list[str]:
    """Field keys the node reads, in order of first appearance, without duplicates.

    A subtable column ``items.amount`` is reported as both the subtable ``items`` (what the
    record stores) and the column, because dependency analysis works on top-level fields.
    """
    seen: dict[str, None] = {}
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, FieldRef):
            seen.setdefault(current.key, None)
        elif isinstance(current, Unary):
            stack.append(current.operand)
        elif isinstance(current, Binary):
            stack.extend((current.right, current.left))
        elif isinstance(current, Call):
            stack.extend(reversed(current.args))
    return list(seen)
