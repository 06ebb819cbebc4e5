"""The FROM side of a report: entity table, relation joins and per-dialect date buckets.

Bucketing is the one place where SQLite and PostgreSQL differ: PostgreSQL converts with
``AT TIME ZONE`` and ``date_trunc``; SQLite has only ``strftime``/``date`` modifiers and a
constant offset. Both produce the first local day of the bucket so results are identical.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from engines.report.errors import ReportDefinitionError, ReportExecutionError, detail
from engines.report.fields import TEXT_TYPES, FieldNotFound, FieldRef, resolve_field
from engines.report.periods import ReportClock

TableResolver = Mapping[str, tuple[Mapping, sa.Table]]


class Dataset:
    """Resolves field paths to SQL columns, adding LEFT JOINs for ``relation.field`` paths."""

    def __init__(
        self,
        entity_def: Mapping,
        table: sa.Table,
        dialect: str,
        clock: ReportClock,
        tables: TableResolver | None = None,
    ) -> None:
        self.entity_def = entity_def
        self.table = table
        self.dialect = dialect
        self.clock = clock
        self.tables = dict(tables or {})
        self._joins: dict[str, tuple[sa.Table, ColumnElement]] = {}
        self._entities = {key: definition for key, (definition, _) in self.tables.items()}

    def field(self, path: str, where: str = "field") -> FieldRef:
        """The field behind ``path``; an unknown path is a definition error at ``where``."""
        try:
            return resolve_field(path, self.entity_def, self._entities)
        except FieldNotFound as exc:
            raise ReportDefinitionError(str(exc), [detail(where, str(exc))]) from exc

    def column(self, ref: FieldRef) -> ColumnElement:
        """The SQL column for a resolved field, joining the relation target when needed."""
        if ref.relation is None:
            return self._table_column(self.table, ref.key, self.entity_def.get("key", ""))
        if ref.relation not in self._joins:
            _, target_table = self.tables[ref.entity_key]
            alias = target_table.alias(f"rel_{ref.relation}")
            source = self._table_column(self.table, ref.relation, self.entity_def.get("key", ""))
            self._joins[ref.relation] = (alias, source == alias.c.id)
        alias, _ = self._joins[ref.relation]
        return self._table_column(alias, ref.key, ref.entity_key)

    @staticmethod
    def _table_column(table: sa.FromClause, key: str, entity_key: str) -> ColumnElement:
        if key not in table.c:
            message = f"table of entity '{entity_key}' has no column '{key}'"
            raise ReportExecutionError(message, [detail(key, message)])
        return table.c[key]

    def from_clause(self) -> sa.FromClause:
        """The entity table with every relation join that the columns so far required."""
        clause: sa.FromClause = self.table
        for alias, on_clause in self._joins.values():
            clause = clause.outerjoin(alias, on_clause)
        return clause

    def sortable(self, expression: ColumnElement, ref: FieldRef | None) -> ColumnElement:
        """Text sorts byte-wise on both databases (PostgreSQL's locale collation differs)."""
        if ref is not None and ref.type in TEXT_TYPES and self.dialect == "postgresql":
            return expression.collate("C")
        return expression

    # -- time buckets -------------------------------------------------------------------
    def local_time(self, ref: FieldRef) -> ColumnElement:
        """The field as a local wall-clock value in the report timezone (dates unchanged)."""
        column = self.column(ref)
        if ref.type == "date":
            return column
        if self.dialect == "postgresql":
            if getattr(column.type, "timezone", False):
                return sa.func.timezone(_inline(self.clock.timezone), column)
            utc = sa.func.timezone(_inline("UTC"), column)
            return sa.func.timezone(_inline(self.clock.timezone), utc)
        offset = self.clock.fixed_utc_offset()
        if offset is None:
            message = (
                f"timezone '{self.clock.timezone}' has daylight saving; SQLite can only "
                "bucket by a fixed UTC offset"
            )
            raise ReportExecutionError(message, [detail("timezone", message)])
        minutes = int(offset.total_seconds() // 60)
        return sa.func.datetime(column, _inline(f"{minutes:+d} minutes"))

    def bucket(self, ref: FieldRef, bucket: str) -> ColumnElement:
        """SQL for the first local day of the bucket containing the field's value."""
        local = self.local_time(ref)
        if self.dialect == "postgresql":
            as_timestamp = sa.cast(local, sa.DateTime()) if ref.type == "date" else local
            return sa.cast(sa.func.date_trunc(_inline(bucket), as_timestamp), sa.Date())
        if self.dialect != "sqlite":
            message = f"date buckets are not implemented for dialect '{self.dialect}'"
            raise ReportExecutionError(message, [detail("dimensions", message)])
        if bucket == "day":
            return sa.func.date(local)
        if bucket == "week":
            return sa.func.date(local, _inline("weekday 0"), _inline("-6 days"))
        if bucket == "month":
            return sa.func.strftime(_inline("%Y-%m-01"), local)
        if bucket == "year":
            return sa.func.strftime(_inline("%Y-01-01"), local)
        month = sa.func.strftime(_inline("%m"), local)
        first_month = sa.case(
            (month <= _inline("03"), _inline("01")),
            (month <= _inline("06"), _inline("04")),
            (month <= _inline("09"), _inline("07")),
            else_=_inline("10"),
        )
        year = sa.func.strftime(_inline("%Y-"), local)  # NULL stays NULL through ||
        return year.op("||")(first_month).op("||")(_inline("-01"))

    def bind_datetime(self, ref: FieldRef, moment: datetime) -> datetime:
        """A bound value for comparing with the stored UTC column (naive if the column is)."""
        column = self.column(ref)
        utc = moment.astimezone(UTC)
        if self.dialect == "sqlite" or not getattr(column.type, "timezone", False):
            return utc.replace(tzinfo=None)
        return utc


def _inline(text: str) -> ColumnElement:
    """A string rendered into the SQL, not bound: PostgreSQL only accepts a GROUP BY on
    ``date_trunc(...)`` when SELECT and GROUP BY are textually identical, and separate
    bind parameters would make them differ. Values here are engine constants or a
    timezone name already validated by ``zoneinfo``."""
    return sa.literal(text, sa.String(), literal_execute=True)


def as_date(value: object) -> date | None:
    """Bucket values come back as ``date`` (PostgreSQL) or ``'YYYY-MM-DD'`` (SQLite)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def as_int(value: object) -> int | None:
    """Integer aggregates: PostgreSQL returns ``sum(bigint)`` as NUMERIC (a Decimal)."""
    if value is None:
        return None
    if isinstance(value, Decimal | float):
        if value != int(value):
            raise ReportExecutionError(f"expected a whole number, got {value}")
        return int(value)
    return int(value)
