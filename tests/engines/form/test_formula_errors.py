"""Mistakes are caught before a formula runs, with the offset of the culprit; hostile
input is refused without running anything; bad values fail with a clear error."""

import datetime as dt
import time
from decimal import Decimal as D

import pytest

from engines.form.errors import FormError
from engines.form.formula import (
    DEFAULT_FUNCTIONS,
    ArgProblem,
    FormulaError,
    FormulaEvaluationError,
    FunctionSpec,
    compile_formula,
)

TYPES = {"amount": "money", "name": "text", "due": "date", "at": "datetime", "ok": "boolean",
         "items": "subtable", "items.amount": "money", "tags": "multiselect",
         "files": "attachment", "total": "formula"}


def error_for(text, types=TYPES):
    with pytest.raises(FormulaError) as info:
        compile_formula(text, types)
    return info.value


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("'a' + 1", 4, "join text with &"),
        ("amount + name", 7, "got number and text"),
        ("amout * 2", 0, "did you mean 'amount'"),
        ("1 + itemz.amount", 4, "unknown field 'itemz'"),
        ("sum(items.amout)", 4, "no column 'amout'; did you mean 'amount'"),
        ("name.first", 0, "'name' is not a subtable"),
        ("sume(1)", 0, "did you mean 'sum'"),
        ("round()", 0, "round() takes 1 to 2 arguments, got 0"),
        ("today(1)", 0, "today() takes 0 arguments, got 1"),
        ("len(name, 1)", 0, "len() takes 1 argument, got 2"),
        ("len(amount)", 4, "argument 1 should be text, got number"),
        ("if(amount, 1, 2)", 3, "should be a condition"),
        ("if(ok, 1, 'x')", 10, "same type"),
        ("sum(name)", 4, "sum() takes number values"),
        ("sum(items)", 4, "got a subtable"),
        ("items.amount + 1", 13, "+ needs numbers, got a subtable column of number"),
        ("amount > name", 7, "cannot compare number with text"),
        ("due = at", 4, "cannot compare date with datetime"),
        ("ok < true", 3, "< cannot compare these, got boolean"),
        ("not amount", 0, "'not' needs a condition"),
        ("amount and ok", 7, "'and' needs conditions"),
        ("-name", 0, "unary - needs a number"),
        ("due - due", 4, "use datediff"),
        ("datediff(due, at)", 14, "cannot mix a date and a datetime"),
        ("datediff(due, due, 'hour')", 19, "one of 'day', 'week', 'month', 'year'"),
        ("datediff(due, due, name)", 19, "as written text"),
        ("dateadd(at, 1, 'fortnight')", 15, "'hour', 'minute', 'second'"),
        ("count(amount)", 6, "count() takes a subtable"),
        ("min(due, amount)", 9, "cannot mix date and number"),
        ("items", 0, "must give a single value, not a subtable"),
        ("tags", 0, "not a list"),
        ("total + 1", 0, "field 'total' (type formula) cannot be used"),
        ("if(ok, items, 1)", 7, "should be a single value"),
        ("concat(files)", 7, "should be a single value"),
        ("1 +", 3, "expected a value, found the end of the formula"),
        ("(1 + 2", 6, "')' to close the '(' opened at position 0"),
        ("sum(1 2)", 6, "',' or ')'"),
        ("1 2", 2, "missing operator or comma"),
        ("1 < 2 < 3", 6, "cannot be chained"),
        ("'abc", 0, "missing its closing quote"),
        ("'a\\qb'", 2, "unknown escape"),
        ("2 ^ 3", 2, "no exponent operator"),
        ("2 ** 3", 2, "no exponent operator"),
        ("7 % 2", 2, "mod(a, b)"),
        ("sum（items.amount）", 3, "full-width character '（': type '('"),
        ("amount，1", 6, "full-width"),
        ("amount[0]", 6, "no lists or indexing"),
        ("12abc", 2, "after a number"),
        ("items.amount.x", 12, "only one '.'"),
        ("items.", 6, "expected a subtable column name"),
        ("$x", 0, "unexpected character '$'"),
    ],
)
def test_compile_error_points_at_the_culprit(text, position, fragment):
    err = error_for(text)
    assert fragment in err.message
    assert err.position == position
    assert err.source == text
    caret_line = err.caret().splitlines()[1]
    assert caret_line.index("^") == position


def test_formula_errors_join_the_form_error_hierarchy():
    err = error_for("nope")
    assert isinstance(err, FormError)
    assert err.as_dict() == {"code": "formula_error", "message": err.message, "position": 0,
                             "path": None}
    assert str(err) == f"{err.message} at position 0"


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('id')",
        "().__class__.__base__.__subclasses__()",
        "amount.__class__",
        "name.__len__",
        "eval('1')",
        "exec('import os')",
        "open('/etc/passwd')",
        "getattr(amount, 'real')",
        "lambda: 1",
        "[x for x in items]",
        "import os",
        "amount; 1",
        "f'{amount}'",
        "amount if ok else 1",
        "\"\"\"x\"\"\" + 1",
    ],
)
def test_python_code_is_not_a_formula(text):
    with pytest.raises(FormulaError):
        compile_formula(text, TYPES)


def test_dunder_field_names_are_only_data_lookups():
    # Even a field literally named like a dunder is a dictionary lookup, nothing more.
    formula = compile_formula("__class__ & 'x'", {"__class__": "text"})
    assert formula.evaluate({"__class__": "a"}) == "ax"


def test_resource_bombs_are_refused_quickly():
    started = time.perf_counter()
    assert "too long" in error_for("1+" * 2001 + "1").message
    assert "too many tokens" in error_for("1+" * 600 + "1").message
    assert "nests too deeply" in error_for("(" * 41 + "1" + ")" * 41).message
    assert "nests too deeply" in error_for("-" * 41 + "1").message
    assert "nests too deeply" in error_for("not " * 41 + "true").message
    assert "nests too deeply" in error_for("abs(" * 41 + "1" + ")" * 41).message
    assert "nests too deeply" in error_for("+".join(["1"] * 120)).message
    assert "number literal is too long" in error_for("9" * 39).message
    assert time.perf_counter() - started < 1.0
    # just inside the limits still works
    assert compile_formula("(" * 40 + "1" + ")" * 40, {}).evaluate({}) == D(1)
    assert compile_formula("+".join(["1"] * 100), {}).evaluate({}) == D(100)


def test_text_results_are_capped():
    formula = compile_formula("name & name & name", TYPES)
    assert formula.evaluate({"name": "x" * 3000}) == "x" * 9000
    with pytest.raises(FormulaEvaluationError, match="text result is too long") as info:
        formula.evaluate({"name": "x" * 4000})
    assert info.value.position == 12
    with pytest.raises(FormulaEvaluationError, match="too long"):
        compile_formula("concat(name, name, name)", TYPES).evaluate({"name": "x" * 4000})


def test_power_exponent_is_capped_and_overflow_is_an_error():
    with pytest.raises(FormulaEvaluationError, match="between -100 and 100"):
        compile_formula("power(2, 101)", {}).evaluate({})
    with pytest.raises(FormulaEvaluationError, match="whole number"):
        compile_formula("power(2, 0.5)", {}).evaluate({})
    huge = "power(power(power(10, 100), 100), 100)"  # 10**1000000, past Emax
    with pytest.raises(FormulaEvaluationError, match="number out of range") as info:
        compile_formula(huge, {}).evaluate({})
    assert info.value.source == huge


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"amount": 1.5}, "never float"),
        ({"amount": "12.30"}, "should hold a Decimal"),
        ({"amount": True}, "should hold a Decimal"),
    ],
)
def test_wrong_value_types_are_rejected_at_the_reference(values, message):
    with pytest.raises(FormulaEvaluationError, match=message) as info:
        compile_formula("1 + amount", TYPES).evaluate(values)
    assert info.value.position == 4


def test_datetime_values_must_be_aware_and_dates_must_be_dates():
    with pytest.raises(FormulaEvaluationError, match="naive datetime"):
        compile_formula("year(at)", TYPES).evaluate({"at": dt.datetime(2024, 1, 1)})
    with pytest.raises(FormulaEvaluationError, match="datetime.date"):
        compile_formula("year(due)", TYPES).evaluate(
            {"due": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)})


def test_runtime_failures_in_functions_point_at_the_call():
    with pytest.raises(FormulaEvaluationError, match="day is out of range") as info:
        compile_formula("1 + year(date(2023, 2, 29))", {}).evaluate({})
    assert info.value.position == 9
    with pytest.raises(FormulaEvaluationError, match="out of range"):
        compile_formula("dateadd(due, 9000, 'year')", TYPES).evaluate(
            {"due": dt.date(2024, 1, 1)})
    with pytest.raises(FormulaEvaluationError, match="whole number"):
        compile_formula("due + 0.5", TYPES).evaluate({"due": dt.date(2024, 1, 1)})
    with pytest.raises(FormulaEvaluationError, match="between -20 and 20"):
        compile_formula("round(1, 21)", {}).evaluate({})


def test_subtable_rows_must_be_mappings():
    with pytest.raises(FormulaEvaluationError, match="list of rows"):
        compile_formula("sum(items.amount)", TYPES).evaluate({"items": [1, 2]})


def test_a_platform_can_add_functions_without_touching_the_default_registry():
    def rule(args):
        if args[0].type not in ("text", "null"):
            raise ArgProblem("argument 1 should be text", 0)
        return "text"

    functions = DEFAULT_FUNCTIONS.copy()
    functions.register(FunctionSpec("reverse", 1, 1, rule, lambda ctx, s: s[::-1],
                                    "reverse(s)"))
    formula = compile_formula("reverse(name)", TYPES, functions=functions)
    assert formula.evaluate({"name": "abc"}) == "cba"
    with pytest.raises(FormulaError, match="unknown function 'reverse'"):
        compile_formula("reverse(name)", TYPES)
    with pytest.raises(FormulaError, match="argument 1 should be text") as info:
        compile_formula("reverse(amount)", TYPES, functions=functions)
    assert info.value.position == 8
    with pytest.raises(ValueError, match="registered twice"):
        functions.register(FunctionSpec("SUM", 1, 1, rule, lambda ctx, s: s, ""))


def test_registry_describes_functions_for_the_designer():
    described = {d["name"]: d for d in DEFAULT_FUNCTIONS.describe()}
    assert {"if", "sum", "count", "avg", "min", "max", "round", "abs", "concat", "len",
            "upper", "lower", "today", "now", "datediff", "dateadd", "year", "month", "day",
            "isempty", "coalesce"} <= set(described)
    assert described["round"]["min_args"] == 1 and described["round"]["max_args"] == 2
    assert described["concat"]["max_args"] is None


@pytest.mark.parametrize("value", [D("NaN"), D("Infinity"), D("-Infinity"), D("sNaN")])
def test_non_finite_numbers_are_rejected(value):
    with pytest.raises(FormulaEvaluationError, match="not a finite number"):
        compile_formula("amount > 1", TYPES).evaluate({"amount": value})
