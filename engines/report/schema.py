"""JSON Schema (draft 2020-12) of a report definition.

The structural half of validation: shapes, enums, required keys. Whether fields exist and
suit their aggregate depends on the entity, so that half lives in ``validation.py``.
"""

from __future__ import annotations

from engines.report.filters import FILTER_OPS
from engines.report.measures import AGGREGATES
from engines.report.periods import BUCKETS, RELATIVE_PERIODS
from engines.report.registry import chart_settings_schemas

KEY_PATTERN = "^[a-z][a-z0-9_]{0,62}$"
PATH_PATTERN = "^[a-z][a-z0-9_]{0,62}(\\.[a-z][a-z0-9_]{0,62})?$"
REF = {"type": "string", "pattern": PATH_PATTERN}
MAX_LIMIT = 100_000


def _filter_schema() -> dict:
    relative = {
        "type": "object",
        "properties": {"relative": {"enum": list(RELATIVE_PERIODS)}},
        "required": ["relative"],
        "additionalProperties": False,
    }
    scalar = {"type": ["string", "number", "boolean", "null"]}
    return {
        "type": "object",
        "properties": {
            "field": REF,
            "op": {"enum": list(FILTER_OPS)},
            "value": {"anyOf": [scalar, {"type": "array", "items": scalar}, relative]},
        },
        "required": ["field", "op"],
        "additionalProperties": False,
    }


def _measure_schema(filter_schema: dict) -> dict:
    inline = {
        "type": "object",
        "properties": {
            "agg": {"enum": [agg for agg in AGGREGATES if agg != "ratio"]},
            "field": REF,
            "filters": {"type": "array", "items": filter_schema},
        },
        "required": ["agg"],
        "additionalProperties": False,
    }
    operand = {"anyOf": [{"type": "string", "pattern": KEY_PATTERN}, inline]}
    needs_field = {"enum": ["count_distinct", "sum", "avg", "min", "max"]}
    return {
        "type": "object",
        "properties": {
            "key": {"type": "string", "pattern": KEY_PATTERN},
            "label": {"type": "string"},
            "agg": {"enum": list(AGGREGATES)},
            "field": REF,
            "numerator": operand,
            "denominator": operand,
            "filters": {"type": "array", "items": filter_schema},
        },
        "required": ["key", "agg"],
        "additionalProperties": False,
        "allOf": [
            {
                "if": {"properties": {"agg": {"const": "ratio"}}},
                "then": {"required": ["numerator", "denominator"]},
            },
            {"if": {"properties": {"agg": needs_field}}, "then": {"required": ["field"]}},
        ],
    }


def report_definition_schema() -> dict:
    """The full schema; chart settings come from the chart-type registry."""
    filter_schema = _filter_schema()
    charts = chart_settings_schemas()
    chart = {
        "type": "object",
        "properties": {"type": {"enum": list(charts)}},
        "required": ["type"],
        "allOf": [
            {"if": {"properties": {"type": {"const": name}}}, "then": settings}
            for name, settings in charts.items()
        ],
    }
    sort_item = {
        "anyOf": [
            {"type": "string", "pattern": "^-?[a-z][a-z0-9_.]*$"},
            {
                "type": "object",
                "properties": {"key": REF, "dir": {"enum": ["asc", "desc"]}},
                "required": ["key"],
                "additionalProperties": False,
            },
        ]
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Loom report definition",
        "type": "object",
        "properties": {
            "key": {"type": "string", "pattern": KEY_PATTERN},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string"},
            "entity": {"type": "string", "pattern": KEY_PATTERN},
            "filters": {"type": "array", "items": filter_schema},
            "dimensions": {
                "type": "array",
                "maxItems": 4,
                "items": {
                    "type": "object",
                    "properties": {
                        "field": REF,
                        "bucket": {"enum": list(BUCKETS)},
                        "key": REF,
                        "label": {"type": "string"},
                    },
                    "required": ["field"],
                    "additionalProperties": False,
                },
            },
            "measures": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": _measure_schema(filter_schema),
            },
            "sort": {"type": "array", "items": sort_item},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            "top_n": {
                "type": "object",
                "properties": {
                    "n": {"type": "integer", "minimum": 1, "maximum": 1000},
                    "others": {"type": "boolean", "default": True},
                    "label": {"type": "string"},
                    "by": {"type": "string", "pattern": KEY_PATTERN},
                },
                "required": ["n"],
                "additionalProperties": False,
            },
            "chart": chart,
            "pivot": {
                "type": "object",
                "properties": {
                    "rows": {"type": "array", "items": REF},
                    "columns": {"type": "array", "items": REF},
                },
                "additionalProperties": False,
            },
        },
        "required": ["key", "name", "entity", "measures", "chart"],
        "additionalProperties": False,
    }
