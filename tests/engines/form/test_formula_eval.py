"""Every operator and function of the formula language, against values worked out by
hand (not by running the code under test)."""

import datetime as dt
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from engines.form.formula import EvalContext, compile_formula

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2024-03-31 17:30 UTC is already 2024-04-01 01:30 in Shanghai.
CTX = EvalContext(clock=lambda: dt.datetime(2024, 3, 31, 17, 30, tzinfo=dt.UTC),
                  timezone=SHANGHAI)

TYPES = {
    "amount": "money", "qty": "number", "rate": "percent", "name": "text", "code": "select",
    "paid": "boolean", "due": "date", "signed": "date", "paid_at": "datetime",
    "approved_at": "datetime", "tags": "multiselect", "empty_num": "number",
    "items": "subtable", "items.amount": "money", "items.qty": "number",
    "items.shipped": "date",
}
VALUES = {
    "amount": D("1234.50"), "qty": 3, "rate": D("6"), "name": "Zhang San", "code": "alipay",
    "paid": True, "due": dt.date(2024, 1, 31), "signed": dt.date(2023, 11, 15),
    "paid_at": dt.datetime(2024, 2, 29, 16, 0, tzinfo=dt.UTC),
    "approved_at": dt.datetime(2024, 3, 1, 1, 30, tzinfo=dt.UTC), "tags": ["vip", "new"],
    "empty_num": None,
    "items": [
        {"amount": D("100.10"), "qty": 2, "shipped": dt.date(2024, 1, 5)},
        {"amount": D("0.45"), "qty": None, "shipped": None},
        {"amount": None, "qty": 5, "shipped": dt.date(2023, 12, 30)},
    ],
}


def run(text, values=VALUES, types=TYPES):
    return compile_formula(text, types).evaluate(values, CTX)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # arithmetic: exact decimals
        ("0.1 + 0.2", D("0.3")),
        ("amount * qty", D("3703.50")),
        ("amount - 0.5", D("1234.00")),
        ("10 / 4", D("2.5")),
        ("1 / 3 * 3", D("0.9999999999999999999999999999999999")),
        ("-amount + 1", D("-1233.50")),
        ("+qty", D("3")),
        ("2 + 3 * 4", D("14")),
        ("(2 + 3) * 4", D("20")),
        ("10 - 4 - 3", D("3")),
        ("amount * rate / 100", D("74.07")),
        ("amount / 0", None),
        ("empty_num + 1", None),
        ("-empty_num", None),
        # comparisons
        ("qty = 3", True), ("qty == 3.00", True), ("qty != 3", False), ("qty <> 4", True),
        ("amount > 1234.49", True), ("amount >= 1234.5", True), ("amount < 1234.5", False),
        ("amount <= 1234.5", True),
        ("name = 'Zhang San'", True), ("'abc' < 'abd'", True),
        ("due < signed", False), ("paid_at < approved_at", True),
        ("empty_num = null", True), ("empty_num != null", False), ("qty = null", False),
        ("empty_num > 1", None),
        ("paid = true", True),
        # logic, three-valued
        ("paid and qty > 2", True), ("paid and qty > 3", False), ("not paid", False),
        ("false or qty = 3", True), ("(empty_num > 1) and false", False),
        ("(empty_num > 1) or true", True), ("(empty_num > 1) and true", None),
        ("not (empty_num > 1)", None), ("TRUE AND NOT FALSE", True),
        # text
        ("name & '-' & code", "Zhang San-alipay"),
        ("1 + 2 & 'x'", "3x"),
        ("amount & ''", "1234.50"), ("(0 * -1) & ''", "0"), ("0.0000001 & ''", "0.0000001"),
        ("'due ' & due", "due 2024-01-31"),
        ("'at ' & paid_at", "at 2024-03-01 00:00:00"),
        ("paid & '/' & empty_num & '|'", "true/|"),
        ('"it\'s" & \'\\n\\\\\'', "it's\n\\"),
        ("concat(name, ' ', qty, ' ', paid, ' ', null)", "Zhang San 3 true "),
        ("len(name)", D(9)), ("len('张三')", D(2)), ("len(null)", D(0)),
        ("upper(name)", "ZHANG SAN"), ("lower(name)", "zhang san"), ("upper(null)", None),
        ("trim('  a b  ')", "a b"), ("left(name, 5)", "Zhang"), ("right(name, 3)", "San"),
        ("right(name, 0)", ""), ("contains(name, 'ng S')", True), ("text(amount)", "1234.50"),
        # if / coalesce / isempty
        ("if(qty > 2, 'many', 'few')", "many"),
        ("if(empty_num > 2, 'many', 'few')", "few"),
        ("if(paid, amount, null)", D("1234.50")),
        ("if(true, 1, 1 / 0)", D(1)),
        ("coalesce(empty_num, qty, 9)", D(3)), ("coalesce(null, null)", None),
        ("isempty(empty_num)", True), ("isempty('')", True), ("isempty(name)", False),
        ("isempty(tags)", False), ("isempty(items)", False),
        # aggregates over a subtable
        ("sum(items.amount)", D("100.55")),
        ("sum(items.amount, amount, 1)", D("1336.05")),
        ("count(items)", D(3)), ("count(items.amount)", D(2)), ("count(tags)", D(2)),
        ("avg(items.amount)", D("50.275")), ("avg(items.qty)", D("3.5")),
        ("min(items.amount)", D("0.45")), ("max(items.qty, qty)", D(5)),
        ("min(items.shipped)", dt.date(2023, 12, 30)),
        ("max(due, signed)", dt.date(2024, 1, 31)),
        # round half-up and friends
        ("round(2.5)", D(3)), ("round(-2.5)", D(-3)), ("round(2.345, 2)", D("2.35")),
        ("round(1.005, 2)", D("1.01")), ("round(1234.5, -2)", D(1200)),
        ("round(1250, -2)", D(1300)), ("round(amount * rate / 100, 1)", D("74.1")),
        ("abs(-3.25)", D("3.25")), ("abs(empty_num)", None),
        ("mod(7, 3)", D(1)), ("mod(-7, 3)", D(2)), ("mod(7, -3)", D(-2)), ("mod(7, 0)", None),
        ("power(1.1, 2)", D("1.21")), ("power(2, -2)", D("0.25")), ("power(0, -1)", None),
        # dates: the clock says 2024-04-01 01:30 in Shanghai
        ("today()", dt.date(2024, 4, 1)),
        ("now()", dt.datetime(2024, 3, 31, 17, 30, tzinfo=dt.UTC)),
        ("datediff(due, today(), 'day')", D(61)),
        ("datediff(signed, due)", D(77)),
        ("datediff(due, signed, 'day')", D(-77)),
        ("datediff(signed, due, 'week')", D(11)),
        ("datediff(signed, due, 'month')", D(2)),
        ("datediff(due, date(2024, 2, 29), 'month')", D(0)),
        ("datediff(due, date(2024, 3, 31), 'month')", D(2)),
        ("datediff(date(2020, 2, 29), date(2024, 2, 28), 'year')", D(3)),
        ("datediff(date(2024, 2, 29), date(2020, 3, 1), 'year')", D(-3)),
        ("datediff(paid_at, approved_at, 'hour')", D(9)),
        ("datediff(paid_at, approved_at, 'minute')", D(570)),
        ("datediff(approved_at, paid_at, 'hour')", D(-9)),
        ("datediff(paid_at, approved_at, 'day')", D(0)),
        ("dateadd(due, 1, 'month')", dt.date(2024, 2, 29)),
        ("dateadd(due, 13, 'month')", dt.date(2025, 2, 28)),
        ("dateadd(due, -2, 'year')", dt.date(2022, 1, 31)),
        ("dateadd(due, 30)", dt.date(2024, 3, 1)),
        ("dateadd(due, 2, 'week')", dt.date(2024, 2, 14)),
        ("dateadd(paid_at, 1, 'month')",
         dt.datetime(2024, 3, 31, 16, 0, tzinfo=dt.UTC)),  # 03-01 00:00 local -> 04-01 00:00
        ("dateadd(paid_at, 90, 'minute')", dt.datetime(2024, 2, 29, 17, 30, tzinfo=dt.UTC)),
        ("due + 1", dt.date(2024, 2, 1)), ("due - 31", dt.date(2023, 12, 31)),
        ("1 + due", dt.date(2024, 2, 1)),
        ("year(due)", D(2024)), ("month(due)", D(1)), ("day(due)", D(31)),
        ("day(paid_at)", D(1)), ("month(paid_at)", D(3)),  # 2024-03-01 00:00 in Shanghai
        ("date(2024, 2, 29)", dt.date(2024, 2, 29)),
        ("dateadd(null, 1)", None), ("datediff(due, null)", None),
    ],
)
def test_value(text, expected):
    result = run(text)
    assert result == expected
    assert type(result) is type(expected)


def test_number_results_keep_their_exact_digits():
    assert str(run("amount * qty")) == "3703.50"
    assert str(run("round(2.345, 2)")) == "2.35"
    assert str(run("round(1234.5, -2)")) == "1200"


def test_datetime_month_addition_keeps_the_local_wall_clock():
    result = run("dateadd(paid_at, 1, 'month')")
    assert result.astimezone(SHANGHAI).replace(tzinfo=None) == dt.datetime(2024, 4, 1, 0, 0)


@pytest.mark.parametrize(
    ("text", "result_type"),
    [
        ("amount * 2", "number"), ("name & 1", "text"), ("qty > 1", "boolean"),
        ("today()", "date"), ("now()", "datetime"), ("if(paid, null, due)", "date"),
        ("coalesce(null, name)", "text"), ("max(items.shipped)", "date"),
        ("sum(items.amount)", "number"), ("due + 3", "date"), ("null", "null"),
    ],
)
def test_result_type_is_inferred_statically(text, result_type):
    assert compile_formula(text, TYPES).result_type == result_type


def test_references_lists_top_level_fields_and_columns():
    formula = compile_formula("sum(items.amount) + amount * count(items) + qty + qty", TYPES)
    assert formula.references == ("items", "amount", "qty")
    assert formula.columns == ("items.amount",)


def test_subtable_types_can_be_given_as_a_nested_mapping():
    types = {"lines": {"price": "money", "qty": "number"}}
    rows = {"lines": [{"price": D("2.50"), "qty": 4}, {"price": D("1"), "qty": 1}]}
    assert compile_formula("sum(lines.price) * count(lines)", types).evaluate(rows) == D("7.00")


def test_missing_subtable_counts_as_no_rows():
    assert run("sum(items.amount) + count(items)", {"items": None}) == D(0)
    assert run("avg(items.amount)", {}) is None


def test_function_and_keyword_names_ignore_case():
    assert run("IF(qty >= 3 AND True, SUM(items.qty), 0)") == D(7)


def test_is_true_treats_null_as_false():
    formula = compile_formula("empty_num > 1", TYPES)
    assert formula.evaluate(VALUES) is None
    assert formula.is_true(VALUES) is False


def test_default_context_uses_the_real_clock_in_utc():
    before = dt.datetime.now(dt.UTC)
    moment = compile_formula("now()", {}).evaluate({})
    assert before <= moment <= dt.datetime.now(dt.UTC)
