"""The aggregate query: GROUP BY dimensions, SELECT measure parts, all in the database.

Rows never come into Python; only the grouped result does, as :class:`GroupRow` objects
whose dimension values are already in output form (bucket labels, decimal strings) and
whose measure parts are still raw, so totals can be re-aggregated exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from engines.report.dataset import Dataset, as_date, as_int
from engines.report.errors import ReportDefinitionError, detail
from engines.report.fields import FieldRef
from engines.report.measures import Measure, Part, order_expression, to_json_value
from engines.report.periods import bucket_label


@dataclass
class Dimension:
    """A GROUP BY column: a field, optionally bucketed to day/week/month/quarter/year."""

    key: str
    ref: FieldRef
    bucket: str | None
    expression: ColumnElement
    label: str

    @property
    def value_type(self) -> str:
        return "text" if self.bucket else self.ref.type

    def output(self, value: object, zone) -> object:
        """The SQL value in output form: bucket label, decimal string for money, ISO dates."""
        if value is None:
            return None
        if self.bucket:
            return bucket_label(as_date(value), self.bucket)
        if self.ref.type == "money":
            return format(Decimal(as_int(value)).scaleb(-self.ref.scale), "f")
        return to_json_value(value, zone)


@dataclass
class GroupRow:
    """One grouped result row: output dimension values and raw measure part values."""

    dims: tuple
    parts: dict[str, object]
    raw: tuple = ()
    others: bool = False


BUCKET_LABELS = {"day": "日", "week": "周", "month": "月", "quarter": "季度", "year": "年"}


def compile_dimensions(dataset: Dataset, specs: Sequence[Mapping]) -> list[Dimension]:
    dimensions = []
    for index, spec in enumerate(specs):
        path = f"dimensions.{index}"
        ref = dataset.field(spec["field"], f"{path}.field")
        bucket = spec.get("bucket")
        if bucket:
            if ref.type not in ("date", "datetime"):
                message = f"bucket '{bucket}' needs a date or datetime field"
                raise ReportDefinitionError(message, [detail(f"{path}.bucket", message)])
            expression = dataset.bucket(ref, bucket)
            label = f"{ref.label}（{BUCKET_LABELS[bucket]}）"
        else:
            expression = dataset.column(ref)
            label = ref.label
        dimensions.append(
            Dimension(
                spec.get("key") or spec["field"],
                ref,
                bucket,
                expression,
                spec.get("label") or label,
            )
        )
    return dimensions


class AggregateQuery:
    """Builds and runs grouped SELECTs over one dataset with a fixed base WHERE."""

    def __init__(
        self, dataset: Dataset, measures: Sequence[Measure], base_where: Sequence[ColumnElement]
    ) -> None:
        self.dataset = dataset
        self.measures = list(measures)
        self.base_where = [clause for clause in base_where if clause is not None]
        seen: dict[str, Part] = {}
        for measure in self.measures:
            for part in measure.all_parts():
                seen.setdefault(part.label, part)
        self.parts = list(seen.values())

    def statement(
        self,
        dimensions: Sequence[Dimension],
        where: Sequence[ColumnElement] = (),
        order_by: Sequence[ColumnElement] = (),
        limit: int | None = None,
        parts: Sequence[Part] | None = None,
    ) -> sa.Select:
        """``SELECT dims, parts FROM dataset WHERE ... GROUP BY dims [ORDER BY] [LIMIT]``."""
        columns = [dim.expression.label(f"d{i}") for i, dim in enumerate(dimensions)]
        columns += [part.expression.label(part.label) for part in (parts or self.parts)]
        statement = sa.select(*columns).select_from(self.dataset.from_clause())
        clauses = [*self.base_where, *where]
        if clauses:
            statement = statement.where(*clauses)
        if dimensions:
            statement = statement.group_by(*(dim.expression for dim in dimensions))
        if order_by:
            statement = statement.order_by(*order_by)
        if limit is not None:
            statement = statement.limit(limit)
        return statement

    def fetch(
        self,
        connection: Connection,
        dimensions: Sequence[Dimension],
        where: Sequence[ColumnElement] = (),
        order_by: Sequence[ColumnElement] = (),
        limit: int | None = None,
        parts: Sequence[Part] | None = None,
    ) -> list[GroupRow]:
        statement = self.statement(dimensions, where, order_by, limit, parts)
        zone = self.dataset.clock.zone
        rows = []
        for row in connection.execute(statement).mappings():
            raw = tuple(row[f"d{i}"] for i in range(len(dimensions)))
            dims = tuple(
                dim.output(value, zone) for dim, value in zip(dimensions, raw, strict=True)
            )
            values = {part.label: row[part.label] for part in (parts or self.parts)}
            rows.append(GroupRow(dims, values, raw))
        return rows

    def default_order(self, dimensions: Sequence[Dimension]) -> list[ColumnElement]:
        """Dimensions ascending, NULLs last on both databases, text compared byte-wise."""
        return [
            self.dataset.sortable(dim.expression, None if dim.bucket else dim.ref)
            .asc()
            .nulls_last()
            for dim in dimensions
        ]

    def measure_order(self, measure: Measure, descending: bool) -> ColumnElement:
        expression = order_expression(measure)
        return (expression.desc() if descending else expression.asc()).nulls_last()
