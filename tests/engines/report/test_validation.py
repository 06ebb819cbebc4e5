"""Save-time validation: every problem reported with its path into the definition."""

from __future__ import annotations

import ast
import copy
import pathlib

import pytest

from engines.report import ReportDefinitionError, report_definition_schema, validate_report

CUSTOMER = {
    "key": "customer",
    "fields": [
        {"key": "level", "type": "select"},
        {"key": "secret", "type": "text", "hidden": True},
    ],
}
PAYMENT = {
    "key": "payment",
    "fields": [
        {"key": "amount", "label": "金额", "type": "money"},
        {"key": "channel", "type": "select"},
        {"key": "paid_at", "type": "datetime"},
        {"key": "note", "type": "text"},
        {"key": "card_no", "type": "card_number"},
        {"key": "legacy_code", "type": "text", "hidden": True},
        {"key": "customer", "type": "relation", "target": "customer"},
    ],
}
VALID = {
    "key": "by_channel",
    "name": "按渠道",
    "entity": "payment",
    "filters": [
        {"field": "paid_at", "op": "eq", "value": {"relative": "last_30_days"}},
        {"field": "amount", "op": "gte", "value": "10.00"},
    ],
    "dimensions": [{"field": "channel"}, {"field": "paid_at", "bucket": "week"}],
    "measures": [
        {"key": "total", "agg": "sum", "field": "amount"},
        {"key": "n", "agg": "count"},
        {"key": "avg_ticket", "agg": "ratio", "numerator": "total", "denominator": "n"},
    ],
    "sort": ["-total", {"key": "channel", "dir": "asc"}],
    "top_n": {"n": 5, "others": True},
    "chart": {"type": "bar", "stacked": True},
}


def errors_of(defn, entity=PAYMENT, entities=None):
    with pytest.raises(ReportDefinitionError) as caught:
        validate_report(defn, entity, entities if entities is not None else {"customer": CUSTOMER})
    return {(d["path"], d["message"]) for d in caught.value.details}


def paths(defn, **kwargs):
    return {path for path, _ in errors_of(defn, **kwargs)}


def test_valid_definition_passes():
    validate_report(VALID, PAYMENT, {"customer": CUSTOMER})
    pivot = dict(
        VALID, chart={"type": "pivot"}, pivot={"rows": ["channel"], "columns": ["paid_at"]}
    )
    pivot.pop("top_n")
    validate_report(pivot, PAYMENT)


def test_sum_and_avg_on_non_numeric_field():
    defn = copy.deepcopy(VALID)
    defn["measures"] += [
        {"key": "bad", "agg": "sum", "field": "note"},
        {"key": "worse", "agg": "avg", "field": "channel"},
    ]
    errors = errors_of(defn)
    assert {p for p, _ in errors} == {"measures.3.field", "measures.4.field"}
    assert any("'sum' needs a number" in m for _, m in errors)


def test_dimension_on_hidden_field():
    defn = copy.deepcopy(VALID)
    defn["dimensions"][0] = {"field": "legacy_code"}
    assert (
        "dimensions.0.field",
        "field 'legacy_code' is hidden and cannot be reported on",
    ) in errors_of(defn)
    defn["dimensions"][0] = {"field": "customer.secret"}
    assert "dimensions.0.field" in paths(defn)


def test_filter_on_missing_field():
    defn = copy.deepcopy(VALID)
    defn["filters"].append({"field": "nope", "op": "eq", "value": 1})
    assert ("filters.2.field", "unknown field 'nope' in entity 'payment'") in errors_of(defn)


def test_unknown_entity():
    defn = dict(VALID, entity="ghost")
    assert paths(defn, entity=None, entities={"payment": PAYMENT}) == {"entity"}
    assert paths(defn) == {"entity"}


def test_schema_errors_have_paths():
    defn = copy.deepcopy(VALID)
    defn["measures"][0]["agg"] = "median"
    defn["dimensions"][1]["bucket"] = "hour"
    defn["chart"]["wobble"] = True
    found = paths(defn)
    assert {"measures.0.agg", "dimensions.1.bucket"} <= found
    assert any(p.startswith("chart") for p in found)


def test_other_semantic_rules():
    defn = copy.deepcopy(VALID)
    defn["dimensions"] = [{"field": "card_no"}, {"field": "note", "bucket": "day"}]
    defn["measures"][2]["denominator"] = "missing"
    defn["sort"] = ["-nothing"]
    defn["filters"][1]["value"] = "10.001"  # money has 2 decimal places
    defn["filters"].append({"field": "customer.level", "op": "eq", "value": "A"})
    found = paths(defn)
    assert {
        "dimensions.0.field",
        "dimensions.1.bucket",
        "measures.2.denominator",
        "sort.0",
        "filters.1.value",
    } <= found
    assert not any(p.startswith("filters.2") for p in found)


def test_chart_rules():
    kpi = dict(
        copy.deepcopy(VALID), dimensions=[], chart={"type": "kpi", "compare_previous_period": True}
    )
    kpi.pop("top_n")
    kpi["sort"] = []
    validate_report(kpi, PAYMENT)
    kpi["filters"] = []
    assert paths(kpi) == {"chart.compare_previous_period"}
    pie = dict(copy.deepcopy(VALID), chart={"type": "pie"})
    assert "dimensions" in paths(pie)
    pivot = dict(copy.deepcopy(VALID), chart={"type": "pivot"}, pivot={"rows": ["channel"]})
    assert "pivot" in paths(pivot)


def test_schema_is_valid_draft_2020_12():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(report_definition_schema())


def test_engine_stays_pure():
    """engines/report never imports flask or app_platform."""
    package = pathlib.Path(__file__).resolve().parents[3] / "engines" / "report"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in {"flask", "app_platform"}, path
