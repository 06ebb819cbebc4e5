"""The sandbox refuses escapes and bombs with a clear error and runs business expressions."""

import time

import pytest

from engines.flow import sandbox
from engines.flow.errors import ExpressionLimitExceeded, ExpressionRejected, FlowError

ESCAPES = [
    ("__import__('os').system('id')", "'__import__'"),
    ("().__class__.__base__.__subclasses__()", "'__class__'"),
    ("(x for x in [1]).gi_frame.f_globals", "'gi_frame'"),
    ("[x for x in [1]].copy", None),  # allowed attribute: sanity check of the list below
    ("getattr(1, '__cl' + 'ass__')", "'getattr'"),
    ("open('/etc/passwd').read()", "'open'"),
    ("eval('1+1')", "'eval'"),
    ("exec('x = 1')", "'exec'"),
    ("'{0.__class__}'.format(1)", "'format'"),
    ("'{0.__class__}'.format_map({})", "'format_map'"),
    ("compile('1', 'f', 'eval')", "'compile'"),
    ("globals()['x']", "'globals'"),
    ("type(1).mro()", "'type'"),
    ("(lambda: 1).__code__", "'__code__'"),
    ("str.join.__self__", "'__self__'"),
    ("f'{x.__class__}'", "'__class__'"),
    ("import os", "syntax error"),  # a statement is not an expression
]


@pytest.mark.parametrize(("source", "needle"), [e for e in ESCAPES if e[1]])
def test_escape_attempts_are_refused_before_running(source: str, needle: str) -> None:
    with pytest.raises(ExpressionRejected) as info:
        sandbox.evaluate(source, {"x": 1})
    assert needle in info.value.message
    assert info.value.detail["line"] == 1


@pytest.mark.parametrize(
    "script",
    [
        "import os",
        "from os import system",
        "def f():\n    return 1",
        "class A:\n    pass",
        "global x\nx = 1",
        "with x:\n    pass",
        "x.y = 1",
        "match x:\n    case _:\n        pass",
    ],
)
def test_forbidden_statements_in_scripts(script: str) -> None:
    with pytest.raises(ExpressionRejected):
        sandbox.execute(script, {"x": 1})


BOMBS = [
    "10**10**10",
    "'a' * 10**10",
    "[0] * 10**9",
    "10**9 * [0]",
    "1 << 10**9",
    "'%999999999d' % 1",
    "f'{1:999999999}'",
    "'x'.ljust(10**9)",
    "('a' * 10**6).replace('a', 'aaaa')",
    "list(range(10**9))",
    "sum([[0] * 1000] * 1000, [])",
    "str([[0] * 1000] * 1000)",
    "[[0] * 1000] * 1000",
    "'-'.join(['x' * 1000] * 1000)",
    "[0] * 600000 + [0] * 600000",
]


@pytest.mark.parametrize("source", BOMBS)
def test_size_bombs_are_refused_quickly(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionLimitExceeded):
        sandbox.evaluate(source, {})
    assert time.monotonic() - started < 1.0


def test_infinite_loop_in_a_script_hits_the_time_limit() -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionLimitExceeded) as info:
        sandbox.execute("while True:\n    pass", {}, time_limit=0.2)
    elapsed = time.monotonic() - started
    assert info.value.detail["limit"] in ("time", "steps")
    assert elapsed < 2.0


def test_comprehension_loops_are_counted() -> None:
    with pytest.raises(ExpressionLimitExceeded):
        sandbox.evaluate("[1 for a in range(10**5) for b in range(10**5)]", {}, max_steps=10_000)


def test_doubling_a_string_in_a_loop_is_stopped() -> None:
    with pytest.raises(ExpressionLimitExceeded):
        sandbox.execute("s = 'ab'\nfor i in range(40):\n    s += s", {})


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("amount >= 50000", {"amount": 50000}, True),
        ("amount >= 50000", {"amount": 49999}, False),
        ("level in ('A', 'B')", {"level": "B"}, True),
        ("level in ('A', 'B')", {"level": "C"}, False),
        ("round(x * 1.1, 2)", {"x": 10}, 11.0),
        ("len(items) > 0", {"items": [{"qty": 1}]}, True),
        ("sum(i['qty'] for i in items)", {"items": [{"qty": 2}, {"qty": 3}]}, 5),
        ("applicant.get('dept', 'none').upper()", {"applicant": {"dept": "risk"}}, "RISK"),
        ("f'{amount // 100}.{amount % 100:02d}'", {"amount": 123405}, "1234.05"),
        ("sorted(xs, key=lambda v: -v)[0]", {"xs": [3, 9, 1]}, 9),
        ("2 ** 10 * 3", {}, 3072),
        ("max(amount, 0) << 2", {"amount": 5}, 20),
    ],
)
def test_business_expressions_work(source: str, data: dict, expected: object) -> None:
    assert sandbox.evaluate(source, data) == expected


def test_script_writes_assignments_back_and_drops_functions() -> None:
    data = {"amount": 120000, "tmp": 1}
    sandbox.execute(
        "fee = amount * 3 // 1000\nkey = lambda v: v\ndel tmp\nlevels = [l.upper() for l in 'ab']",
        data,
    )
    assert data == {"amount": 120000, "fee": 360, "levels": ["A", "B"]}


def test_errors_are_one_hierarchy_with_structured_detail() -> None:
    with pytest.raises(FlowError) as info:
        sandbox.evaluate("a +\n", {})
    assert info.value.as_dict()["code"] == "expression_rejected"
    assert "syntax error" in info.value.message
