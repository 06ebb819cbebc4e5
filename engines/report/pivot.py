"""Pivot tables: row dimensions × column dimensions × measures, with subtotals.

The detail cells come from one GROUP BY over all pivot dimensions. Subtotals and the
grand total are re-aggregated in Python from those grouped parts when every measure
allows it (counts and sums add, min/max combine, avg is sum/count); ``count_distinct``
does not add up, so for it each subtotal level is a GROUP BY of its own in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from engines.report.errors import ReportDefinitionError, detail
from engines.report.measures import combine_parts
from engines.report.plan import ReportPlan
from engines.report.query import Dimension, GroupRow


def _sort_key(values: tuple) -> tuple:
    """Ascending with NULLs last, like the SQL default order."""
    return tuple((value is None, value if value is not None else "") for value in values)


def with_subtotals(keys: Sequence[tuple], depth: int) -> list[tuple]:
    """Keys in order with a subtotal prefix after each group, e.g. (a,x),(a,y),(a,),(b,x),(b,)."""
    ordered: list[tuple] = []
    previous: tuple | None = None
    for key in keys:
        if previous is not None:
            ordered += _closed_prefixes(previous, key, depth)
        ordered.append(key)
        previous = key
    if previous is not None:
        ordered += _closed_prefixes(previous, None, depth)
    return ordered


def _closed_prefixes(previous: tuple, current: tuple | None, depth: int) -> list[tuple]:
    closed = []
    for level in range(depth - 1, 0, -1):
        if current is None or previous[:level] != current[:level]:
            closed.append(previous[:level])
    return closed


def _resolve(plan: ReportPlan, keys: Sequence[str], path: str) -> list[Dimension]:
    return [plan.dimension(key, f"{path}.{i}") for i, key in enumerate(keys)]


def run_pivot(connection: Connection, plan: ReportPlan) -> dict:
    """Flat grouped rows plus a ``pivot`` structure with subtotal rows/columns and totals."""
    spec = plan.report.get("pivot") or {}
    row_dims = _resolve(plan, spec.get("rows", []), "pivot.rows")
    col_dims = _resolve(plan, spec.get("columns", []), "pivot.columns")
    if not row_dims and not col_dims:
        message = "a pivot needs at least one row or column dimension"
        raise ReportDefinitionError(message, [detail("pivot", message)])
    dims = row_dims + col_dims
    query = plan.query()
    base = query.fetch(connection, dims, order_by=query.default_order(dims))
    n_rows, n_cols = len(row_dims), len(col_dims)
    decomposable = all(measure.decomposable for measure in plan.measures)
    zone = plan.dataset.clock.zone

    cells: dict[tuple, dict] = {}
    for row_level in range(n_rows + 1):
        for col_level in range(n_cols + 1):
            keep = list(range(row_level)) + [n_rows + i for i in range(col_level)]
            if decomposable or len(keep) == len(dims):
                groups: dict[tuple, list[GroupRow]] = {}
                for row in base:
                    key = (row.dims[:row_level], row.dims[n_rows : n_rows + col_level])
                    groups.setdefault(key, []).append(row)
                for key, members in groups.items():
                    parts = (
                        members[0].parts
                        if len(members) == 1
                        else combine_parts(query.parts, [member.parts for member in members])
                    )
                    cells[key] = parts
            else:
                subset = [dims[i] for i in keep]
                for row in query.fetch(connection, subset):
                    cells[(row.dims[:row_level], row.dims[row_level:])] = row.parts

    row_keys = sorted({row.dims[:n_rows] for row in base}, key=_sort_key)
    col_keys = sorted({row.dims[n_rows:] for row in base}, key=_sort_key)
    row_order = with_subtotals(row_keys, n_rows) + ([()] if n_rows else [])
    col_order = with_subtotals(col_keys, n_cols) + ([()] if n_cols else [])
    if not base:  # nothing to cross-tabulate: just the (empty) grand total cell
        row_order, col_order = [()], [()]

    def values(row_key: tuple, col_key: tuple) -> dict | None:
        parts = cells.get((row_key, col_key))
        if parts is None:
            return None
        return {m.key: m.output(parts, zone) for m in plan.visible_measures}

    pivot = {
        "row_dimensions": [{"key": d.key, "label": d.label} for d in row_dims],
        "column_dimensions": [{"key": d.key, "label": d.label} for d in col_dims],
        "measures": [
            {"key": m.key, "label": m.label, "type": m.value_type} for m in plan.visible_measures
        ],
        "columns": [_header(key, n_cols) for key in col_order],
        "rows": [
            {
                **_header(row_key, n_rows),
                "cells": [values(row_key, col_key) for col_key in col_order],
            }
            for row_key in row_order
        ],
    }
    return {
        "columns": plan.columns(),
        "rows": [plan.output_row(row) for row in base],
        "pivot": pivot,
    }


def _header(key: tuple, depth: int) -> dict:
    """``subtotal`` for a partial key, ``total`` for the grand total (empty key)."""
    header: dict = {"key": list(key)}
    if depth and not key:
        header["total"] = True
    elif len(key) < depth:
        header["subtotal"] = True
    return header
