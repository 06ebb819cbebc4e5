"""Walking condition trees: leaf terms with their paths, and expansion into OR-of-ANDs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Term = dict[str, Any]
MAX_BRANCHES = 64
"""More OR branches than this is refused at save: each branch is one engine rule."""


def is_group(node: dict[str, Any]) -> bool:
    return "all" in node or "any" in node


def iter_terms(
    node: dict[str, Any] | None, path: str = "condition", under_any: bool = False
) -> Iterator[tuple[str, Term, bool]]:
    """Yield (path, leaf term, whether an `any` group encloses it), depth first."""
    if not node:
        return
    if "all" in node:
        for i, child in enumerate(node["all"]):
            yield from iter_terms(child, f"{path}.all[{i}]", under_any)
    elif "any" in node:
        for i, child in enumerate(node["any"]):
            yield from iter_terms(child, f"{path}.any[{i}]", True)
    else:
        yield path, node, under_any


def to_dnf(node: dict[str, Any] | None, path: str = "condition") -> list[list[str]]:
    """Expand a condition into branches (lists of leaf paths); any branch true = rule true.

    An empty `all` is one empty branch (always true). Raises ValueError past MAX_BRANCHES.
    """
    if not node:
        return [[]]
    if "all" in node:
        branches: list[list[str]] = [[]]
        for i, child in enumerate(node["all"]):
            child_branches = to_dnf(child, f"{path}.all[{i}]")
            branches = [b + c for b in branches for c in child_branches]
            if len(branches) > MAX_BRANCHES:
                raise ValueError(
                    f"the condition expands to more than {MAX_BRANCHES} OR-branches; "
                    "simplify the nesting of any/all groups"
                )
        return branches
    if "any" in node:
        out: list[list[str]] = []
        for i, child in enumerate(node["any"]):
            out.extend(to_dnf(child, f"{path}.any[{i}]"))
            if len(out) > MAX_BRANCHES:
                raise ValueError(
                    f"the condition expands to more than {MAX_BRANCHES} OR-branches; "
                    "simplify the nesting of any/all groups"
                )
        return out
    return [[path]]
