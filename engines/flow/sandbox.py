"""The restricted Python used for every user expression and script in a flow.

Why: SpiffWorkflow evaluates conditions, scripts, DMN cells, timer expressions and
service-task parameters as Python with plain ``eval``/``exec``; measured here,
``__import__('os').system('id')`` in a condition ran as root. A builtins whitelist alone
still let ``().__class__.__base__.__subclasses__()`` and generator-frame walks through.

So every source goes through three layers:

1. an AST check: no import/def/class/global/match; no name or attribute that starts with
   ``_``; attributes only from an explicit whitelist (so no ``gi_frame``, ``f_globals``,
   ``format``); no known-dangerous builtins by name;
2. an AST rewrite: ``**``, ``*``, ``<<``, ``%`` and size-amplifying string methods go
   through guards that check the result size *before* computing it; every loop turn and
   comprehension item calls a step/time budget;
3. a whitelisted ``__builtins__`` (no ``open``, ``eval``, ``getattr``, ``type`` ...).

Compiled code is cached by source, so the per-evaluation cost is one dict and one eval.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, MutableMapping
from functools import lru_cache
from types import CodeType
from typing import Any

from . import sandbox_guards as guards
from .errors import ExpressionRejected

FORBIDDEN_NODES: dict[type, str] = {
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.FunctionDef: "def",
    ast.AsyncFunctionDef: "async def",
    ast.ClassDef: "class",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.Yield: "yield",
    ast.YieldFrom: "yield from",
    ast.Await: "await",
    ast.AsyncFor: "async for",
    ast.AsyncWith: "async with",
    ast.With: "with",
    ast.Match: "match",
}

FORBIDDEN_NAMES = frozenset(
    {
        "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "hasattr",
        "globals", "locals", "vars", "dir", "breakpoint", "input", "help", "memoryview",
        "type", "object", "super", "classmethod", "staticmethod", "property", "exit",
        "quit", "print", "id", "iter", "next", "bytearray", "callable", "issubclass",
    }
)  # fmt: skip

#: Attribute names an expression may use: methods of str/list/dict/set and the plain
#: fields of dates. Everything else (frames, code objects, ``format``) is refused.
ALLOWED_ATTRIBUTES = frozenset(
    {
        # str
        "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split",
        "rsplit", "splitlines", "replace", "join", "find", "rfind", "index", "rindex",
        "count", "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum", "isspace",
        "islower", "isupper", "title", "capitalize", "casefold", "partition",
        "rpartition", "ljust", "rjust", "center", "zfill", "removeprefix",
        "removesuffix", "swapcase", "expandtabs",
        # dict / list / set
        "get", "keys", "values", "items", "setdefault", "update", "pop", "popitem",
        "append", "extend", "insert", "remove", "sort", "reverse", "copy", "clear",
        "add", "discard", "union", "intersection", "difference", "symmetric_difference",
        "issubset", "issuperset", "isdisjoint",
        # numbers, dates, durations
        "real", "imag", "is_integer", "year", "month", "day", "hour", "minute", "second",
        "microsecond", "weekday", "isoweekday", "isoformat", "date", "days", "seconds",
        "total_seconds",
    }
)  # fmt: skip

_HELPER = "__loom_"  # prefix of guard names injected by the rewrite (users cannot write it)


def _reject(message: str, node: ast.AST | None = None) -> ExpressionRejected:
    return ExpressionRejected(
        message,
        line=getattr(node, "lineno", None),
        column=getattr(node, "col_offset", None),
    )


def _check_format_spec(node: ast.FormattedValue) -> None:
    if node.format_spec is None:
        return
    assert isinstance(node.format_spec, ast.JoinedStr)
    for part in node.format_spec.values:
        if not isinstance(part, ast.Constant):
            raise _reject("format specs must be constant", node)
        guards.check_format_spec(str(part.value))


class _Checker(ast.NodeVisitor):
    """Refuses forbidden constructs; runs before the rewrite sees the tree."""

    def generic_visit(self, node: ast.AST) -> None:
        kind = FORBIDDEN_NODES.get(type(node))
        if kind is not None:
            raise _reject(f"'{kind}' is not allowed in expressions and scripts", node)
        super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            raise _reject(
                f"name '{node.id}' is not allowed: names starting with '_' are reserved", node
            )
        if node.id in FORBIDDEN_NAMES:
            raise _reject(f"name '{node.id}' is not allowed", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.visit(node.value)  # report the first offence in reading order
        if node.attr.startswith("_"):
            raise _reject(
                f"attribute '{node.attr}' is not allowed: names starting with '_' are reserved",
                node,
            )
        if node.attr not in ALLOWED_ATTRIBUTES:
            raise _reject(f"attribute '{node.attr}' is not allowed", node)
        if not isinstance(node.ctx, ast.Load):
            raise _reject("assigning or deleting attributes is not allowed", node)

    def visit_arg(self, node: ast.arg) -> None:
        if node.arg.startswith("_"):
            raise _reject(f"argument '{node.arg}' is not allowed", node)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg is not None and node.arg.startswith("_"):
            raise _reject(f"keyword '{node.arg}' is not allowed", node)
        self.visit(node.value)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        _check_format_spec(node)
        self.visit(node.value)


_GUARDED_BINOPS: dict[type, str] = {
    ast.Pow: "pow",
    ast.Mult: "mul",
    ast.LShift: "lshift",
    ast.Mod: "mod",
    ast.Add: "add",
}


def _helper(name: str, node: ast.AST, *args: ast.expr) -> ast.Call:
    call = ast.Call(func=ast.Name(id=_HELPER + name, ctx=ast.Load()), args=list(args), keywords=[])
    return ast.copy_location(call, node)


def _load_copy(target: ast.expr) -> ast.expr:
    clone = ast.parse(ast.unparse(target), mode="eval").body
    return ast.copy_location(clone, target)


class _Rewriter(ast.NodeTransformer):
    """Routes size-amplifying operations through guards and adds budget ticks to loops."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        self.generic_visit(node)
        guard = _GUARDED_BINOPS.get(type(node.op))
        if guard is None:
            return node
        return _helper(guard, node, node.left, node.right)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        self.generic_visit(node)
        guard = _GUARDED_BINOPS.get(type(node.op))
        if guard is None:
            return node
        value = _helper(guard, node, _load_copy(node.target), node.value)
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        self.generic_visit(node)
        if node.attr in guards.GUARDED_ATTRIBUTES:
            return _helper("attr", node, node.value, ast.Constant(node.attr))
        return node

    def _tick_loop(self, node: ast.For | ast.While) -> ast.stmt:
        self.generic_visit(node)
        tick = ast.copy_location(ast.Expr(_helper("tick", node)), node)
        node.body.insert(0, tick)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.FormattedValue:
        self.generic_visit(node)
        node.value = _helper("rendered", node.value, node.value)
        return node

    visit_For = _tick_loop
    visit_While = _tick_loop

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        self.generic_visit(node)
        node.ifs.insert(0, _helper("tick", node.iter))
        return node


def check(source: str, mode: str = "eval") -> ast.AST:
    """Parse and check ``source``; raise ``ExpressionRejected`` with line/column if unsafe."""
    if not isinstance(source, str):
        raise ExpressionRejected("expression must be a string")
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        raise ExpressionRejected(
            f"syntax error: {exc.msg}", line=exc.lineno, column=exc.offset
        ) from None
    _Checker().visit(tree)
    return tree


@lru_cache(maxsize=4096)
def compile_restricted(source: str, mode: str = "eval") -> CodeType:
    """Checked, rewritten and compiled code for ``source`` (cached: flows reuse sources)."""
    tree = _Rewriter().visit(check(source, mode))
    ast.fix_missing_locations(tree)
    return compile(tree, "<expression>", mode)


SAFE_BUILTINS: dict[str, Any] = {
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "divmod": divmod,
    "enumerate": enumerate, "filter": filter, "float": float, "int": int, "len": len,
    "list": list, "map": map, "max": max, "min": min, "reversed": reversed,
    "round": round, "set": set, "frozenset": frozenset, "sorted": sorted,
    "sum": guards.safe_sum, "tuple": tuple, "zip": zip,
    "range": guards.safe_range,
    "True": True, "False": False, "None": None,
    "ValueError": ValueError, "ZeroDivisionError": ZeroDivisionError,
    "KeyError": KeyError, "Exception": Exception,
}  # fmt: skip


def _namespace(names: Mapping[str, Any], budget: guards.Budget) -> dict[str, Any]:
    namespace: dict[str, Any] = dict(names)
    builtins = dict(SAFE_BUILTINS)
    builtins["str"] = budget.safe_str
    builtins["format"] = budget.safe_format
    namespace["__builtins__"] = builtins
    namespace[_HELPER + "tick"] = budget.tick
    namespace[_HELPER + "pow"] = guards.guarded_pow
    namespace[_HELPER + "mul"] = guards.guarded_mul
    namespace[_HELPER + "lshift"] = guards.guarded_lshift
    namespace[_HELPER + "mod"] = guards.guarded_mod
    namespace[_HELPER + "attr"] = guards.guarded_attribute
    namespace[_HELPER + "add"] = guards.guarded_add
    namespace[_HELPER + "rendered"] = budget.rendered
    return namespace


def evaluate(
    expression: str,
    names: Mapping[str, Any],
    *,
    time_limit: float = guards.DEFAULT_TIME_LIMIT,
    max_steps: int = guards.DEFAULT_MAX_STEPS,
) -> Any:
    """Evaluate one expression over ``names`` (task data) in the sandbox."""
    code = compile_restricted(expression, "eval")
    result = eval(code, _namespace(names, guards.Budget(time_limit, max_steps)))  # noqa: S307
    guards.measure(result)
    return result


def execute(
    script: str,
    names: MutableMapping[str, Any],
    *,
    time_limit: float = guards.DEFAULT_TIME_LIMIT,
    max_steps: int = guards.DEFAULT_MAX_STEPS,
    hidden: frozenset[str] = frozenset(),
) -> None:
    """Run a script; its top-level assignments and deletions are written back to ``names``.

    Functions (lambdas) and the injected helpers are not written back: task data must stay
    plain JSON-like values so the instance can be serialized.
    """
    code = compile_restricted(script, "exec")
    namespace = _namespace(names, guards.Budget(time_limit, max_steps))
    exec(code, namespace)  # noqa: S102
    names.clear()
    for key, value in namespace.items():
        if key.startswith("_") or key in hidden or callable(value):
            continue
        names[key] = value
    guards.measure(dict(names))
