"""Formulas and conditions of a whole entity: evaluation order, cycles, error paths,
hidden fields and subtable row formulas."""

import datetime as dt
from decimal import Decimal as D

import pytest

from engines.form.formula import (
    EvalContext,
    EvalStep,
    FormulaCycleError,
    FormulaError,
    check_formula_graph,
    compile_entity_formulas,
)

CTX = EvalContext(clock=lambda: dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC))

# Declared out of dependency order on purpose: total needs tax, which needs subtotal.
INVOICE = [
    {"key": "customer", "type": "text", "required": True},
    {"key": "total", "type": "formula", "formula": "subtotal + tax"},
    {"key": "tax", "type": "formula", "formula": "round(subtotal * rate / 100, 2)"},
    {"key": "rate", "type": "percent"},
    {"key": "items", "type": "subtable", "fields": [
        {"key": "price", "type": "money"},
        {"key": "qty", "type": "number"},
        {"key": "line", "type": "formula", "formula": "price * qty"},
    ]},
    {"key": "subtotal", "type": "formula", "formula": "sum(items.line)"},
    {"key": "vip_note", "type": "text", "visible_if": "total > 1000"},
    {"key": "approver", "type": "user", "required_if": "total >= 500 and isempty(vip_note)"},
    {"key": "label", "type": "formula", "formula": "customer & ': ' & total & ' ' & vip_note"},
    {"key": "old", "type": "formula", "formula": "nothing_here", "removed": True},
]


def step(kind, field):
    return EvalStep(kind, field)


def test_order_puts_each_step_after_what_it_reads():
    order = check_formula_graph(INVOICE)
    assert order == [
        step("formula", "subtotal"), step("formula", "tax"), step("formula", "total"),
        step("visible_if", "vip_note"), step("required_if", "approver"),
        step("formula", "label"),
    ]


def test_evaluate_computes_rows_then_formulas_then_conditions():
    entity = compile_entity_formulas(INVOICE)
    assert entity.result_types == {"subtotal": "number", "tax": "number", "total": "number",
                                   "label": "text"}
    record = {
        "customer": "ACME", "rate": D("13"), "vip_note": "call first",
        "items": [{"price": D("300.00"), "qty": 2}, {"price": D("99.99"), "qty": 1}],
    }
    outcome = entity.evaluate(record, CTX)
    # 600.00 + 99.99 = 699.99; tax 13% = 90.9987 -> 91.00; total 790.99
    assert outcome.values["items"][0]["line"] == D("600.00")
    assert outcome.values["items"][1]["line"] == D("99.99")
    assert outcome.values["subtotal"] == D("699.99")
    assert outcome.values["tax"] == D("91.00")
    assert outcome.values["total"] == D("790.99")
    # total <= 1000 hides vip_note, so its value is cleared and approver becomes required
    assert outcome.hidden == {"vip_note"}
    assert outcome.values["vip_note"] is None
    assert outcome.required == {"approver"}
    assert outcome.values["label"] == "ACME: 790.99 "
    assert record["vip_note"] == "call first"  # the input is not modified
    assert [row.values["line"] for row in outcome.rows["items"]] == [D("600.00"), D("99.99")]


def test_visible_field_keeps_its_value():
    entity = compile_entity_formulas(INVOICE)
    record = {"customer": "ACME", "rate": D(0), "vip_note": "call first",
              "items": [{"price": D("2000"), "qty": 1}]}
    outcome = entity.evaluate(record, CTX)
    assert outcome.hidden == set()
    assert outcome.required == set()  # vip_note filled in
    assert outcome.values["label"] == "ACME: 2000.00 call first"


def test_null_conditions_hide_and_do_not_require():
    fields = [
        {"key": "amount", "type": "money"},
        {"key": "reason", "type": "text", "visible_if": "amount > 100",
         "required_if": "amount > 100"},
    ]
    outcome = compile_entity_formulas(fields).evaluate({"amount": None, "reason": "x"})
    assert outcome.hidden == {"reason"}
    assert outcome.required == set()


def test_a_cycle_names_its_fields():
    fields = [
        {"key": "a", "type": "formula", "formula": "c + 1"},
        {"key": "b", "type": "formula", "formula": "a * 2"},
        {"key": "c", "type": "formula", "formula": "b - 1"},
        {"key": "d", "type": "formula", "formula": "a + 1"},  # downstream, not in the loop
    ]
    with pytest.raises(FormulaCycleError) as info:
        check_formula_graph(fields)
    assert info.value.cycle == ["a", "b", "c"]
    assert info.value.fields == ["a", "b", "c"]
    assert info.value.message == "formula cycle: a -> b -> c -> a"
    assert info.value.code == "formula_cycle"


def test_a_formula_reading_itself_is_a_cycle():
    with pytest.raises(FormulaCycleError, match="n -> n"):
        check_formula_graph([{"key": "n", "type": "formula", "formula": "n + 1"}])


def test_visibility_depending_on_the_fields_own_value_is_a_cycle():
    fields = [
        {"key": "a", "type": "number", "visible_if": "b > 0"},
        {"key": "b", "type": "formula", "formula": "a + 1"},
    ]
    with pytest.raises(FormulaCycleError) as info:
        check_formula_graph(fields)
    assert info.value.cycle == ["a.visible_if", "b"]
    assert info.value.fields == ["a", "b"]
    with pytest.raises(FormulaCycleError, match="a.visible_if -> a.visible_if"):
        check_formula_graph([{"key": "a", "type": "number", "visible_if": "a > 0"}])


def test_required_if_reading_its_own_field_is_fine():
    fields = [{"key": "a", "type": "number", "required_if": "a > 0"}]
    assert check_formula_graph(fields) == [step("required_if", "a")]


def test_cycle_inside_subtable_rows_is_found_with_its_path():
    fields = [{"key": "items", "type": "subtable", "fields": [
        {"key": "x", "type": "formula", "formula": "y"},
        {"key": "y", "type": "formula", "formula": "x"},
    ]}]
    with pytest.raises(FormulaCycleError, match="x -> y -> x"):
        check_formula_graph(fields)


@pytest.mark.parametrize(
    ("fields", "path", "position", "fragment"),
    [
        ([{"key": "a", "type": "number"},
          {"key": "t", "type": "formula", "formula": "a + 'x'"}],
         "fields[1].formula", 2, "join text with &"),
        ([{"key": "a", "type": "number", "visible_if": "b + 1"}, {"key": "b", "type": "number"}],
         "fields[0].visible_if", 0, "must be a condition (true/false), not number"),
        ([{"key": "a", "type": "number", "required_if": "b > 1"}],
         "fields[0].required_if", 0, "unknown field 'b'"),
        ([{"key": "t", "type": "formula", "formula": "(1"}],
         "fields[0].formula", 2, "')' to close"),
        ([{"key": "t", "type": "formula"}], "fields[0].formula", None, "needs a formula"),
        ([{"key": "z", "type": "number"},
          {"key": "items", "type": "subtable", "fields": [
              {"key": "p", "type": "money"},
              {"key": "l", "type": "formula", "formula": "p * z"}]}],
         "fields[1].fields[1].formula", 4, "unknown field 'z'"),
        ([{"key": "n", "type": "number"},
          {"key": "t", "type": "formula", "formula": "old * 2"},
          {"key": "old", "type": "number", "removed": True}],
         "fields[1].formula", 0, "unknown field 'old'"),
    ],
)
def test_errors_say_which_setting_of_which_field(fields, path, position, fragment):
    with pytest.raises(FormulaError) as info:
        check_formula_graph(fields)
    assert fragment in info.value.message
    assert info.value.path == path
    assert info.value.position == position
    assert info.value.details() == [{"path": path, "message": info.value.message}]


def test_formula_types_flow_into_later_formulas():
    fields = [
        {"key": "due", "type": "date"},
        {"key": "overdue_days", "type": "formula", "formula": "datediff(due, today())"},
        {"key": "late", "type": "formula", "formula": "overdue_days > 30"},
        {"key": "note", "type": "text", "visible_if": "late"},
        {"key": "bad", "type": "formula", "formula": "late + 1"},
    ]
    with pytest.raises(FormulaError, match="got boolean and number") as info:
        check_formula_graph(fields)
    assert info.value.path == "fields[4].formula"
    entity = compile_entity_formulas(fields[:4])
    outcome = entity.evaluate({"due": dt.date(2024, 4, 1), "note": "x"}, CTX)
    assert outcome.values["overdue_days"] == D(61)
    assert outcome.values["late"] is True
    assert outcome.hidden == set()


def test_hidden_formula_field_is_null():
    fields = [
        {"key": "kind", "type": "select"},
        {"key": "fee", "type": "formula", "formula": "10", "visible_if": "kind = 'paid'"},
        {"key": "due", "type": "formula", "formula": "coalesce(fee, 0) + 1"},
    ]
    entity = compile_entity_formulas(fields)
    assert entity.order == [step("visible_if", "fee"), step("formula", "fee"),
                            step("formula", "due")]
    free = entity.evaluate({"kind": "free"})
    assert free.values["fee"] is None and free.values["due"] == D(1)
    paid = entity.evaluate({"kind": "paid"})
    assert paid.values["fee"] == D(10) and paid.values["due"] == D(11)


def test_row_conditions_are_evaluated_per_row():
    fields = [{"key": "items", "type": "subtable", "fields": [
        {"key": "kind", "type": "select"},
        {"key": "serial", "type": "text", "required_if": "kind = 'device'"},
        {"key": "note", "type": "text", "visible_if": "kind != 'device'"},
    ]}, {"key": "notes", "type": "formula", "formula": "count(items.note)"}]
    outcome = compile_entity_formulas(fields).evaluate({"items": [
        {"kind": "device", "note": "dropped"}, {"kind": "service", "note": "kept"}]})
    first, second = outcome.rows["items"]
    assert first.required == {"serial"} and first.hidden == {"note"}
    assert second.required == set() and second.hidden == set()
    assert outcome.values["items"][0]["note"] is None
    assert outcome.values["notes"] == D(1)
