"""Report filters → SQL WHERE clauses, with the record API's operators.

Values arrive as JSON (money as decimal strings, dates as ISO strings, relative periods as
``{"relative": "last_30_days"}``) and are converted to the column's storage form here:
money to integer minor units, datetimes to UTC. A date-only value on a datetime field means
the whole local day, so ``eq "2024-03-01"`` selects that day in the report timezone.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from engines.report.dataset import Dataset
from engines.report.errors import ReportDefinitionError, detail
from engines.report.fields import FieldRef
from engines.report.periods import ReportClock, relative_date_range

FILTER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "isnull")


@dataclass(frozen=True)
class Period:
    """A half-open local-day range ``[start, end)`` on one date/datetime field."""

    field: str
    start: date
    end: date

    def previous(self) -> Period:
        """The period of equal length that ends where this one starts."""
        length = self.end - self.start
        return Period(self.field, self.start - length, self.start)


def is_relative(value: object) -> bool:
    return isinstance(value, Mapping) and "relative" in value


def _date_only(value: object) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def coerce_scalar(ref: FieldRef, value: object, clock: ReportClock, path: str) -> object:
    """One JSON value → the Python value the column stores (money → minor units)."""
    try:
        field_type = ref.type
        if field_type == "money":
            minor = Decimal(str(value)).scaleb(ref.scale)
            if minor != minor.to_integral_value():
                raise ValueError(f"more than {ref.scale} decimal places")
            return int(minor)
        if field_type == "number" and ref.scale == 0 or field_type == "relation":
            if isinstance(value, bool) or Decimal(str(value)) % 1 != 0:
                raise ValueError("not a whole number")
            return int(Decimal(str(value)))
        if field_type in ("number", "percent"):
            return Decimal(str(value))
        if field_type == "date":
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if field_type == "datetime":
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            return moment if moment.tzinfo else moment.replace(tzinfo=clock.zone)
        if field_type == "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1"):
                return True
            if str(value).lower() in ("false", "0"):
                return False
            raise ValueError("not a boolean")
        return str(value)
    except (ValueError, TypeError, InvalidOperation) as exc:
        message = f"value {value!r} does not fit field '{ref.path}' ({ref.type}): {exc}"
        raise ReportDefinitionError(message, [detail(path, message)]) from exc


def _day_range_clause(
    dataset: Dataset, ref: FieldRef, op: str, start: date, end: date
) -> ColumnElement:
    """Compare a date/datetime column with local days ``[start, end)``."""
    column = dataset.column(ref)
    if ref.type == "datetime":
        low = dataset.bind_datetime(ref, dataset.clock.local_midnight(start))
        high = dataset.bind_datetime(ref, dataset.clock.local_midnight(end))
    else:
        low, high = start, end
    clauses = {
        "eq": sa.and_(column >= low, column < high),
        "ne": sa.or_(column < low, column >= high, column.is_(None)),
        "gte": column >= low,
        "gt": column >= high,
        "lt": column < low,
        "lte": column < high,
    }
    return clauses[op]


def filter_clause(dataset: Dataset, spec: Mapping, path: str) -> ColumnElement:
    """One ``{"field","op","value"}`` filter as a SQL condition."""
    ref = dataset.field(spec["field"], f"{path}.field")
    op = spec.get("op", "eq")
    value = spec.get("value")
    column = dataset.column(ref)
    clock = dataset.clock
    if op == "isnull":
        wants_null = coerce_scalar(_BOOLEAN, value if value is not None else True, clock, path)
        return column.is_(None) if wants_null else column.is_not(None)
    if op == "in":
        values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        coerced = [coerce_scalar(ref, item, clock, f"{path}.value") for item in values]
        if ref.type == "datetime":
            coerced = [dataset.bind_datetime(ref, item) for item in coerced]
        return column.in_(coerced)
    if op == "contains":
        if ref.type == "multiselect":
            return sa.cast(column, sa.Text()).contains(json.dumps(str(value)), autoescape=True)
        return sa.cast(column, sa.Text()).icontains(str(value), autoescape=True)
    if is_relative(value):
        start, end = relative_date_range(value["relative"], clock)
        return _day_range_clause(dataset, ref, op, start, end)
    if ref.type == "datetime" and (day := _date_only(value)) is not None:
        return _day_range_clause(dataset, ref, op, day, day + timedelta(days=1))
    if value is None and op in ("eq", "ne"):
        return column.is_(None) if op == "eq" else column.is_not(None)
    bound = coerce_scalar(ref, value, clock, f"{path}.value")
    if ref.type == "datetime":
        bound = dataset.bind_datetime(ref, bound)
    if op == "ne":
        return sa.or_(column != bound, column.is_(None))
    comparisons = {
        "eq": operator.eq,
        "gt": operator.gt,
        "gte": operator.ge,
        "lt": operator.lt,
        "lte": operator.le,
    }
    if op not in comparisons:
        message = f"unknown filter operator '{op}'"
        raise ReportDefinitionError(message, [detail(f"{path}.op", message)])
    return comparisons[op](column, bound)


_BOOLEAN = FieldRef("isnull", {"key": "isnull", "type": "boolean"}, "")


def filters_clause(
    dataset: Dataset, filters: Sequence[Mapping], path: str = "filters"
) -> ColumnElement | None:
    """All filters ANDed, or None when there are none."""
    clauses = [filter_clause(dataset, spec, f"{path}.{i}") for i, spec in enumerate(filters)]
    return sa.and_(*clauses) if clauses else None


def report_period(
    filters: Sequence[Mapping], fields: Mapping[str, str], clock: ReportClock
) -> Period | None:
    """The date range the report's filters pin down, used for "compare to previous period".

    ``fields`` maps field path → type. A relative ``eq`` filter is a period by itself;
    otherwise a ``gte``/``gt`` plus ``lt``/``lte`` pair of date values on one field is.
    """
    for spec in filters:
        if fields.get(spec["field"]) in ("date", "datetime") and is_relative(spec.get("value")):
            if spec.get("op", "eq") == "eq":
                start, end = relative_date_range(spec["value"]["relative"], clock)
                return Period(spec["field"], start, end)
    bounds: dict[str, dict[str, date]] = {}
    for spec in filters:
        if fields.get(spec["field"]) not in ("date", "datetime"):
            continue
        day = _date_only(spec.get("value"))
        if day is None:
            continue
        op = spec.get("op")
        edges = bounds.setdefault(spec["field"], {})
        if op in ("gte", "gt"):
            edges["start"] = day if op == "gte" else day + timedelta(days=1)
        elif op in ("lt", "lte"):
            edges["end"] = day if op == "lt" else day + timedelta(days=1)
    for field, edges in bounds.items():
        if "start" in edges and "end" in edges and edges["start"] < edges["end"]:
            return Period(field, edges["start"], edges["end"])
    return None


def without_period(filters: Sequence[Mapping], period: Period) -> list[Mapping]:
    """The filters minus those that define ``period`` (replaced when shifting periods)."""
    return [
        spec
        for spec in filters
        if not (
            spec["field"] == period.field
            and (is_relative(spec.get("value")) or _date_only(spec.get("value")) is not None)
        )
    ]


def period_filters(period: Period) -> list[dict]:
    """Filters selecting exactly ``period`` (date-only values mean local days)."""
    return [
        {"field": period.field, "op": "gte", "value": period.start.isoformat()},
        {"field": period.field, "op": "lt", "value": period.end.isoformat()},
    ]
