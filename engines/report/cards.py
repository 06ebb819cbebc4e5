"""Non-ECharts visualisations: KPI cards, plain tables and pivot tables.

These are small structures the UI renders itself; they carry the same decimal strings as
the data so the UI never re-formats money.
"""

from __future__ import annotations

from collections.abc import Mapping

TABLE_PAGE_SIZE = 50


def kpi_card(report: Mapping, result: Mapping) -> dict:
    """``{"type": "kpi", "title", "cards": [...]}``; a card has key, label, type, value and,
    when comparing, previous, delta and delta_pct (percent, 2 places)."""
    card = {"type": "kpi", "title": report.get("name") or "", "cards": result.get("kpi", [])}
    for key in ("period", "previous_period"):
        if key in result:
            card[key] = result[key]
    return card


def table_view(report: Mapping, result: Mapping) -> dict:
    """Columns (with labels/types) and rows for a paged table."""
    return {
        "type": "table",
        "title": report.get("name") or "",
        "columns": result["columns"],
        "rows": result["rows"],
        "page_size": int(report.get("chart", {}).get("page_size", TABLE_PAGE_SIZE)),
        "empty": not result["rows"],
    }


def pivot_view(report: Mapping, result: Mapping) -> dict:
    """The pivot structure (headers, subtotal flags, cells per measure) plus a title."""
    return {"type": "pivot", "title": report.get("name") or "", **result.get("pivot", {})}
