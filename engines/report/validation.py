"""Validation at save time: the JSON Schema, then the rules that need the entity.

All problems are collected (not just the first) so the designer can mark every bad
property at once; each carries the path into the definition (``measures.1.field``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from jsonschema import Draft202012Validator

from engines.report.errors import ReportDefinitionError, detail
from engines.report.fields import (
    NOT_AGGREGATABLE_TYPES,
    NOT_GROUPABLE_TYPES,
    NUMERIC_TYPES,
    ORDERED_TYPES,
    TEMPORAL_TYPES,
    FieldNotFound,
    FieldRef,
    resolve_field,
)
from engines.report.filters import coerce_scalar, is_relative, report_period
from engines.report.periods import ReportClock
from engines.report.registry import get_chart_type
from engines.report.schema import report_definition_schema

_VALIDATOR: Draft202012Validator | None = None
_CLOCK = ReportClock(now=datetime(2000, 1, 1))  # only used to test value conversions


def _schema_validator() -> Draft202012Validator:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = Draft202012Validator(report_definition_schema())
    return _VALIDATOR


def _path(parts) -> str:
    return ".".join(str(part) for part in parts)


class _Checker:
    def __init__(self, defn: Mapping, entity_def: Mapping, entities: Mapping[str, Mapping]):
        self.defn = defn
        self.entity_def = entity_def
        self.entities = entities
        self.errors: list[dict] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(detail(path, message))

    def field(self, path_in_defn: str, field_path: str) -> FieldRef | None:
        try:
            ref = resolve_field(field_path, self.entity_def, self.entities)
        except FieldNotFound as exc:
            self.error(path_in_defn, str(exc))
            return None
        relation_hidden = (
            ref.relation and resolve_field(ref.relation, self.entity_def, self.entities).hidden
        )
        if ref.hidden or relation_hidden:
            self.error(path_in_defn, f"field '{field_path}' is hidden and cannot be reported on")
            return None
        return ref

    def filters(self, filters, path: str) -> None:
        for index, spec in enumerate(filters):
            here = f"{path}.{index}"
            ref = self.field(f"{here}.field", spec["field"])
            if ref is None:
                continue
            op, value = spec["op"], spec.get("value")
            if is_relative(value):
                if ref.type not in TEMPORAL_TYPES or op not in ("eq", "ne", "gte", "lt"):
                    self.error(
                        f"{here}.value",
                        "relative periods need a date/datetime field and op eq, ne, gte or lt",
                    )
                continue
            if op in ("gt", "gte", "lt", "lte") and ref.type not in ORDERED_TYPES:
                self.error(
                    f"{here}.op",
                    f"'{op}' needs a number, money, date or datetime "
                    f"field; '{ref.path}' is {ref.type}",
                )
            if op == "contains" and ref.type in NUMERIC_TYPES | TEMPORAL_TYPES | {"boolean"}:
                self.error(f"{here}.op", f"'contains' does not apply to {ref.type} fields")
            if op in ("isnull", "contains"):
                continue
            values = value if isinstance(value, list) else [value]
            for item in values:
                if item is None:
                    continue
                try:
                    coerce_scalar(ref, item, _CLOCK, f"{here}.value")
                except ReportDefinitionError as exc:
                    self.errors.extend(exc.details)

    def dimensions(self) -> None:
        for index, spec in enumerate(self.defn.get("dimensions", [])):
            here = f"dimensions.{index}"
            ref = self.field(f"{here}.field", spec["field"])
            if ref is None:
                continue
            if ref.type in NOT_GROUPABLE_TYPES:
                self.error(f"{here}.field", f"cannot group by a {ref.type} field")
            if spec.get("bucket") and ref.type not in TEMPORAL_TYPES:
                self.error(
                    f"{here}.bucket",
                    f"bucket needs a date or datetime field; '{ref.path}' is {ref.type}",
                )

    def measure(self, spec: Mapping, here: str, keys: set[str]) -> None:
        agg = spec["agg"]
        if agg == "ratio":
            for side in ("numerator", "denominator"):
                operand = spec[side]
                if isinstance(operand, str):
                    if operand not in keys or operand == spec.get("key"):
                        self.error(f"{here}.{side}", f"unknown measure '{operand}'")
                else:
                    self.measure(operand, f"{here}.{side}", keys)
            return
        self.filters(spec.get("filters", []), f"{here}.filters")
        if not spec.get("field"):
            return
        ref = self.field(f"{here}.field", spec["field"])
        if ref is None:
            return
        if agg in ("sum", "avg") and ref.type not in NUMERIC_TYPES:
            self.error(
                f"{here}.field",
                f"'{agg}' needs a number, money or percent field; '{ref.path}' is {ref.type}",
            )
        elif agg in ("min", "max") and ref.type not in ORDERED_TYPES:
            self.error(
                f"{here}.field",
                f"'{agg}' needs a number, money, date or datetime "
                f"field; '{ref.path}' is {ref.type}",
            )
        elif ref.type in NOT_AGGREGATABLE_TYPES | {"multiselect"}:
            self.error(f"{here}.field", f"cannot aggregate a {ref.type} field")

    def references(self, dimension_keys: list[str], measure_keys: list[str]) -> None:
        seen: set[str] = set()
        for key in dimension_keys + measure_keys:
            if key in seen:
                self.error(
                    "measures",
                    f"key '{key}' is used twice (dimension and measure keys "
                    "name output columns and must be unique)",
                )
            seen.add(key)
        for index, item in enumerate(self.defn.get("sort", [])):
            key = item.lstrip("-") if isinstance(item, str) else item["key"]
            if key not in seen:
                self.error(
                    f"sort.{index}", f"sort key '{key}' is neither a dimension nor a measure"
                )
        top_n = self.defn.get("top_n")
        if top_n:
            if not dimension_keys:
                self.error("top_n", "top_n needs a dimension to rank")
            if top_n.get("by") and top_n["by"] not in measure_keys:
                self.error("top_n.by", f"unknown measure '{top_n['by']}'")

    def chart(self, dimension_keys: list[str]) -> None:
        settings = self.defn["chart"]
        chart_type = get_chart_type(settings["type"])
        count = len(dimension_keys)
        if count < chart_type.min_dimensions:
            self.error(
                "dimensions",
                f"a {chart_type.name} chart needs at least "
                f"{chart_type.min_dimensions} dimension(s)",
            )
        if chart_type.max_dimensions is not None and count > chart_type.max_dimensions:
            self.error(
                "dimensions",
                f"a {chart_type.name} chart takes at most {chart_type.max_dimensions} dimension(s)",
            )
        if settings.get("compare_previous_period"):
            types = {}
            for spec in self.defn.get("filters", []):
                try:
                    types[spec["field"]] = resolve_field(
                        spec["field"], self.entity_def, self.entities
                    ).type
                except FieldNotFound:
                    continue
            if report_period(self.defn.get("filters", []), types, _CLOCK) is None:
                self.error(
                    "chart.compare_previous_period",
                    "comparing with the previous "
                    "period needs a date filter that defines the period",
                )
        if settings["type"] == "pivot":
            pivot = self.defn.get("pivot") or {}
            used = list(pivot.get("rows", [])) + list(pivot.get("columns", []))
            if sorted(used) != sorted(dimension_keys):
                self.error("pivot", "pivot rows and columns must use each dimension exactly once")


def validate_report(
    defn: Mapping,
    entity_def: Mapping | None,
    entities: Mapping[str, Mapping] | None = None,
) -> None:
    """Raise :class:`ReportDefinitionError` listing every problem, or return None.

    ``entity_def`` is the report's entity (None if the caller could not find it);
    ``entities`` maps entity keys to definitions for ``relation.field`` paths and for
    finding the entity when ``entity_def`` is None.
    """
    errors = [
        detail(_path(error.absolute_path), error.message)
        for error in sorted(
            _schema_validator().iter_errors(defn), key=lambda e: _path(e.absolute_path)
        )
    ]
    if errors:
        raise ReportDefinitionError("the report definition is invalid", errors)
    entities = dict(entities or {})
    if entity_def is None:
        entity_def = entities.get(defn["entity"])
    if entity_def is None or entity_def.get("key") != defn["entity"]:
        message = f"unknown entity '{defn['entity']}'"
        raise ReportDefinitionError(message, [detail("entity", message)])
    entities.setdefault(entity_def["key"], entity_def)
    checker = _Checker(defn, entity_def, entities)
    checker.filters(defn.get("filters", []), "filters")
    checker.dimensions()
    measure_keys = [spec["key"] for spec in defn["measures"]]
    for index, spec in enumerate(defn["measures"]):
        checker.measure(spec, f"measures.{index}", set(measure_keys))
    dimension_keys = [spec.get("key") or spec["field"] for spec in defn.get("dimensions", [])]
    checker.references(dimension_keys, measure_keys)
    checker.chart(dimension_keys)
    if checker.errors:
        raise ReportDefinitionError("the report definition is invalid", checker.errors)
