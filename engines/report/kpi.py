"""KPI cards: one total per measure, optionally against the previous period.

The previous period has the same length and ends where the current one starts (for
``last_30_days``: the 30 days before). It replaces the filters that define the current
period and keeps every other filter, including the caller's permission clause.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.engine import Connection

from engines.report.errors import ReportDefinitionError, detail
from engines.report.filters import period_filters, without_period
from engines.report.measures import to_json_value
from engines.report.plan import ReportPlan


def _delta(current: object, previous: object) -> tuple[object, Decimal | None]:
    numeric = (int, Decimal)
    if not isinstance(current, numeric) or not isinstance(previous, numeric):
        return None, None
    delta = current - previous
    if not previous:
        return delta, None
    percent = (Decimal(delta) * 100 / Decimal(previous)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    return delta, percent


def run_kpi(connection: Connection, plan: ReportPlan) -> dict:
    """``rows`` holds the single total row; ``kpi`` holds one card entry per measure."""
    zone = plan.dataset.clock.zone
    current = plan.query().fetch(connection, [])[0]
    previous_row = None
    period = plan.period
    if plan.chart.get("compare_previous_period"):
        if period is None:
            message = (
                "compare_previous_period needs a date filter that defines the period "
                '(a relative value such as {"relative": "last_30_days"}, or gte + lt dates)'
            )
            raise ReportDefinitionError(message, [detail("chart.compare_previous_period", message)])
        previous_period = period.previous()
        filters = without_period(plan.filters, period) + period_filters(previous_period)
        previous_row = plan.query(plan.where_for(filters)).fetch(connection, [])[0]
    cards = []
    for measure in plan.visible_measures:
        value = measure.exact(current.parts)
        card = {
            "key": measure.key,
            "label": measure.label,
            "type": measure.value_type,
            "value": to_json_value(value, zone),
        }
        if previous_row is not None:
            previous = measure.exact(previous_row.parts)
            delta, percent = _delta(value, previous)
            card.update(
                previous=to_json_value(previous, zone),
                delta=to_json_value(delta, zone),
                delta_pct=to_json_value(percent, zone),
            )
        cards.append(card)
    result = {"columns": plan.columns(), "rows": [plan.output_row(current)], "kpi": cards}
    if period is not None:
        result["period"] = {
            "field": period.field,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
        }
        if previous_row is not None:
            prior = period.previous()
            result["previous_period"] = {
                "field": prior.field,
                "start": prior.start.isoformat(),
                "end": prior.end.isoformat(),
            }
    return result
