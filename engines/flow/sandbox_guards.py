"""Run-time guards the sandbox's AST rewrite calls instead of raw operators.

Why: an AST check stops escapes, but not ``10**10**10`` or ``'a' * 10**10``; those run
inside one C call that no tracer can interrupt, so the size must be checked *before* the
operation runs. Each guard estimates the result size from its operands and refuses it
above the budget; loops call ``Budget.tick`` so Python-level work is bounded in steps and
wall-clock time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from .errors import ExpressionLimitExceeded

MAX_ITEMS = 1_000_000  # elements of a list/tuple, characters of a string
MAX_INT_BITS = 16_384  # ~4,900 decimal digits: far beyond any money amount
MAX_RANGE = 1_000_000
MAX_FORMAT_WIDTH = 1_000
MAX_RENDERED = 4 * MAX_ITEMS  # characters of text produced by str()/f-strings per evaluation
DEFAULT_TIME_LIMIT = 1.0  # seconds per evaluation
DEFAULT_MAX_STEPS = 2_000_000  # loop iterations per evaluation

_SIZED = (str, bytes, list, tuple)
_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _too_big(what: str) -> ExpressionLimitExceeded:
    return ExpressionLimitExceeded(f"{what} is too large for an expression", limit=MAX_ITEMS)


class Budget:
    """Step and wall-clock budget of one evaluation; ``tick`` is called once per loop turn."""

    __slots__ = ("deadline", "render_left", "steps_left", "time_limit")

    def __init__(self, time_limit: float, max_steps: int) -> None:
        self.time_limit = time_limit
        self.deadline = time.monotonic() + time_limit
        self.steps_left = max_steps
        self.render_left = MAX_RENDERED

    def rendered(self, value: Any) -> Any:
        """Charge the text size of ``value`` (f-string parts, ``str()``) to this evaluation."""
        if isinstance(value, str):
            self.render_left -= len(value)
        elif not isinstance(value, int | float | bool) and value is not None:
            self.render_left -= measure(value)
        if self.render_left < 0:
            raise _too_big("rendered text")
        return value

    def safe_str(self, value: Any = "") -> str:
        return str(self.rendered(value))

    def safe_format(self, value: Any, spec: str = "") -> str:
        check_format_spec(spec)
        return format(self.rendered(value), spec)

    def tick(self) -> bool:
        self.steps_left -= 1
        if self.steps_left <= 0:
            raise ExpressionLimitExceeded("expression ran too many loop steps", limit="steps")
        if self.steps_left & 0x3FF == 0 and time.monotonic() > self.deadline:
            raise ExpressionLimitExceeded(
                f"expression ran longer than {self.time_limit} s", limit="time"
            )
        return True


def _int_bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def guarded_pow(base: Any, exponent: Any) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1 and max(_int_bits(base) - 1, 1) * exponent > MAX_INT_BITS:
            raise ExpressionLimitExceeded("power result is too large", limit=MAX_INT_BITS)
    return base**exponent


def guarded_mul(left: Any, right: Any) -> Any:
    if isinstance(left, _SIZED) and isinstance(right, int):
        if len(left) * right > MAX_ITEMS:
            raise _too_big("repeated sequence")
    elif isinstance(right, _SIZED) and isinstance(left, int):
        if len(right) * left > MAX_ITEMS:
            raise _too_big("repeated sequence")
    elif isinstance(left, int) and isinstance(right, int):
        if _int_bits(left) + _int_bits(right) > MAX_INT_BITS:
            raise ExpressionLimitExceeded("product is too large", limit=MAX_INT_BITS)
    return left * right


def guarded_lshift(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and _int_bits(left) + right > MAX_INT_BITS:
        raise ExpressionLimitExceeded("shift result is too large", limit=MAX_INT_BITS)
    return left << right


def measure(value: Any, limit: int = MAX_ITEMS) -> int:
    """Refuse a value whose rendering/serialization would exceed ``limit`` items.

    Why: ``[[0] * 1000] * 1000`` is small in memory (shared references) but ``str()`` or
    JSON of it is not; walking it with a counter catches that before rendering.
    """
    if isinstance(value, int | float | bool) or value is None:
        return 1
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, str | bytes):
            count += len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            count += item.bit_length() // 64
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        if count > limit:
            raise _too_big("value")
    return count


def guarded_add(left: Any, right: Any) -> Any:
    sized = isinstance(left, _SIZED) and isinstance(right, _SIZED)
    if sized and len(left) + len(right) > MAX_ITEMS:
        raise _too_big("concatenated sequence")
    return left + right


def safe_sum(items: Any, start: Any = 0) -> Any:
    """Only numbers: ``sum(lists, [])`` is quadratic C-level copying."""
    if not isinstance(start, int | float):
        raise ExpressionLimitExceeded("sum() only adds numbers")
    return sum(items, start)


def guarded_mod(left: Any, right: Any) -> Any:
    """``'%999999999d' % 1`` builds a gigabyte string: check printf widths first."""
    if isinstance(left, str):
        for match in _PERCENT_WIDTH.finditer(left):
            for number in match.groups():
                if number == "*":
                    raise ExpressionLimitExceeded("'*' widths are not allowed in % formatting")
                if number and int(number) > MAX_FORMAT_WIDTH:
                    raise ExpressionLimitExceeded("format width is too large")
        measure(right)
    return left % right


def check_format_spec(spec: str) -> None:
    """Refuse widths/precisions above ``MAX_FORMAT_WIDTH`` in a format spec."""
    for number in re.findall(r"\d+", spec):
        if int(number) > MAX_FORMAT_WIDTH:
            raise ExpressionLimitExceeded("format width is too large")


def safe_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise _too_big("range")
    return result


def _width_guard(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(width: int, *rest: Any) -> Any:
        if isinstance(width, int) and width > MAX_ITEMS:
            raise _too_big("padded string")
        return method(width, *rest)

    return call


def _replace_guard(owner: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(old: Any, new: Any, *rest: Any) -> Any:
        growth = max(len(new) - len(old), 0)
        if growth and len(owner) + owner.count(old) * growth > MAX_ITEMS:
            raise _too_big("replaced string")
        return method(old, new, *rest)

    return call


def _join_guard(owner: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(items: Any) -> Any:
        items = list(items)
        if len(items) > MAX_ITEMS:
            raise _too_big("joined sequence")
        total = len(owner) * max(len(items) - 1, 0)
        for item in items:
            total += len(item) if isinstance(item, _SIZED) else 0
            if total > MAX_ITEMS:
                raise _too_big("joined string")
        return method(items)

    return call


def _expandtabs_guard(owner: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(tabsize: int = 8) -> Any:
        if len(owner) + owner.count("\t") * max(tabsize, 0) > MAX_ITEMS:
            raise _too_big("expanded string")
        return method(tabsize)

    return call


#: Attributes whose methods can build huge values from small operands; the rewrite routes
#: their loads through ``guarded_attribute``.
GUARDED_ATTRIBUTES = frozenset(
    {"ljust", "rjust", "center", "zfill", "replace", "join", "expandtabs", "extend"}
)


def _extend_guard(owner: Any, method: Callable[..., Any]) -> Callable[..., Any]:
    def call(items: Any) -> Any:
        items = list(items)
        if len(owner) + len(items) > MAX_ITEMS:
            raise _too_big("extended list")
        return method(items)

    return call


def guarded_attribute(owner: Any, name: str) -> Any:
    if isinstance(owner, type):
        raise ExpressionLimitExceeded(f"'{name}' must be called on a value, not on a type")
    method = getattr(owner, name)
    if name == "extend" and isinstance(owner, list):
        return _extend_guard(owner, method)
    if not isinstance(owner, str | bytes):
        return method
    if name in ("ljust", "rjust", "center", "zfill"):
        return _width_guard(method)
    if name == "replace":
        return _replace_guard(owner, method)
    if name == "join":
        return _join_guard(owner, method)
    return _expandtabs_guard(owner, method)
