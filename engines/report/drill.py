"""Drill-down: the record-API filters behind one cell of a report.

Clicking a bar must open exactly the records that were counted in it, so this repeats
the report's own filters (relative periods made concrete with the same clock) and adds
one condition per dimension: equality, ``__isnull`` for the empty category, or a
``__gte``/``__lt`` range for a time bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from engines.report.errors import DrillDownError, detail
from engines.report.fields import FieldNotFound, resolve_field
from engines.report.filters import is_relative
from engines.report.periods import ReportClock, parse_bucket_label, relative_date_range


class _Bounds:
    """Collects record-API filters; repeated range bounds intersect instead of clashing."""

    def __init__(self) -> None:
        self.filters: dict[str, str] = {}

    def add(self, key: str, value: str) -> None:
        current = self.filters.get(key)
        if current is not None and key.endswith(("__gte", "__gt", "__lt", "__lte")):
            pick = max if key.endswith(("__gte", "__gt")) else min
            value = pick(current, value, key=_comparable)
        self.filters[key] = value


def _comparable(text: str) -> object:
    try:
        return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    except ValueError:
        return text


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _day_bound(day: date, field_type: str, clock: ReportClock) -> str:
    """Local midnight with its offset for datetime fields, the plain date otherwise."""
    if field_type == "datetime":
        return clock.local_midnight(day).isoformat()
    return day.isoformat()


def drill_filters(
    report: Mapping,
    row: Mapping,
    entity_def: Mapping | None = None,
    *,
    clock: ReportClock | None = None,
    measure: str | None = None,
    entities: Mapping[str, Mapping] | None = None,
) -> dict[str, str]:
    """Record-API query filters (``{"paid_at__gte": ..., "channel": "alipay"}``) for a row.

    ``entity_def`` tells datetime fields (bounds become local-midnight instants with the
    UTC offset) from date fields (plain dates); without it bounds are plain dates.
    ``measure`` adds that measure's own filters (a conditional measure's cell).
    """
    clock = clock or ReportClock()
    if row.get("_others"):
        message = "the 'others' row groups many categories and cannot be drilled into"
        raise DrillDownError(message, [detail("row", message)])

    def field_type(path: str) -> str:
        if entity_def is None:
            return "date"
        try:
            return resolve_field(path, entity_def, entities).type
        except FieldNotFound as exc:
            raise DrillDownError(str(exc), [detail(path, str(exc))]) from exc

    bounds = _Bounds()
    filters = list(report.get("filters", []))
    if measure is not None:
        specs = [spec for spec in report.get("measures", []) if spec["key"] == measure]
        if not specs:
            message = f"unknown measure '{measure}'"
            raise DrillDownError(message, [detail("measure", message)])
        filters += specs[0].get("filters", [])
    for spec in filters:
        _add_filter(
            bounds,
            spec,
            field_type(spec["field"]) if is_relative(spec.get("value")) else None,
            clock,
        )
    for spec in report.get("dimensions", []):
        key = spec.get("key") or spec["field"]
        if key not in row:
            message = f"the row has no value for dimension '{key}'"
            raise DrillDownError(message, [detail(f"row.{key}", message)])
        value, field = row[key], spec["field"]
        if value is None:
            bounds.add(f"{field}__isnull", "true")
        elif spec.get("bucket"):
            start, end = parse_bucket_label(str(value), spec["bucket"])
            kind = field_type(field)
            bounds.add(f"{field}__gte", _day_bound(start, kind, clock))
            bounds.add(f"{field}__lt", _day_bound(end, kind, clock))
        else:
            bounds.add(field, _text(value))
    return bounds.filters


def _add_filter(bounds: _Bounds, spec: Mapping, kind: str | None, clock: ReportClock) -> None:
    field, op, value = spec["field"], spec.get("op", "eq"), spec.get("value")
    if is_relative(value):
        start, end = relative_date_range(value["relative"], clock)
        if op == "eq":
            bounds.add(f"{field}__gte", _day_bound(start, kind, clock))
            bounds.add(f"{field}__lt", _day_bound(end, kind, clock))
        elif op in ("gte", "lt"):
            bounds.add(f"{field}__{op}", _day_bound(start, kind, clock))
        else:
            message = f"relative filter with op '{op}' has no record-API equivalent"
            raise DrillDownError(message, [detail(field, message)])
        return
    if op == "in":
        items = value if isinstance(value, list) else [value]
        bounds.add(f"{field}__in", ",".join(_text(item) for item in items))
    elif op == "isnull":
        bounds.add(f"{field}__isnull", _text(True if value is None else value))
    elif op == "eq":
        bounds.add(field, _text(value))
    else:
        bounds.add(f"{field}__{op}", _text(value))
