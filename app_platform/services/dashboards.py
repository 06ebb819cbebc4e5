"""Dashboards: a 12-column grid of report cards, global filters and a refresh interval.

Why the dashboard answers with ``cards``: a global filter names one field (say
``paid_at``) but the cards may report on different entities; the server, which knows
each report's entity as this caller sees it, says per card which field each global
filter applies to (or that it does not apply), so the page never sends a filter a report
would refuse.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import APIError, Unprocessable
from app_platform.models import App
from app_platform.models.reports import DashboardDefinition, ReportDefinition
from app_platform.services import reports
from app_platform.services.apps import app_for
from engines.report.fields import entity_fields

GRID_COLUMNS = 12
KEY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}
FIELD = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}(\\.[a-z][a-z0-9_]{0,62})?$"}
DASHBOARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "key": KEY,
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string", "maxLength": 2000},
        "refresh_seconds": {"anyOf": [{"const": 0},
                                      {"type": "integer", "minimum": 10, "maximum": 86400}]},
        "filters": {"type": "array", "maxItems": 10, "items": {
            "type": "object",
            "properties": {"key": KEY, "label": {"type": "string", "maxLength": 100},
                           "type": {"enum": ["date_range", "select"]}, "field": FIELD,
                           "options": {"type": "array", "maxItems": 200,
                                       "items": {"type": "string", "maxLength": 200}},
                           "default": {}},
            "required": ["key", "type", "field"], "additionalProperties": False}},
        "items": {"type": "array", "maxItems": 48, "items": {
            "type": "object",
            "properties": {"report": KEY, "title": {"type": "string", "maxLength": 200},
                           "x": {"type": "integer", "minimum": 0, "maximum": GRID_COLUMNS - 1},
                           "y": {"type": "integer", "minimum": 0, "maximum": 1000},
                           "w": {"type": "integer", "minimum": 1, "maximum": GRID_COLUMNS},
                           "h": {"type": "integer", "minimum": 1, "maximum": 12},
                           "filter_fields": {"type": "object", "additionalProperties": {
                               "anyOf": [FIELD, {"type": "null"}]}}},
            "required": ["report", "x", "y", "w", "h"], "additionalProperties": False}},
    },
    "required": ["key", "name", "items"],
    "additionalProperties": False,
}
_VALIDATOR = Draft202012Validator(DASHBOARD_SCHEMA)


def _check(session: Session, app: App, data: dict[str, Any]) -> None:
    """Every problem at once, each with its path (``items.2.report``)."""
    problems = [{"path": ".".join(str(p) for p in error.absolute_path), "message": error.message}
                for error in _VALIDATOR.iter_errors(data)]
    if problems:
        raise Unprocessable("the dashboard definition is invalid", problems)
    filter_keys = [spec["key"] for spec in data.get("filters", [])]
    problems += [{"path": f"filters.{i}.key", "message": f"filter key {key!r} is used twice"}
                 for i, key in enumerate(filter_keys) if key in filter_keys[:i]]
    known = {row.key for row in reports.latest_versions(session, ReportDefinition, app)}
    for index, item in enumerate(data["items"]):
        if item["x"] + item["w"] > GRID_COLUMNS:
            problems.append({"path": f"items.{index}.w", "message":
                             f"x + w must stay within the {GRID_COLUMNS}-column grid"})
        if item["report"] not in known:
            problems.append({"path": f"items.{index}.report",
                             "message": f"no report {item['report']!r} in this app"})
        problems += [{"path": f"items.{index}.filter_fields.{key}",
                      "message": f"no global filter {key!r}"}
                     for key in item.get("filter_fields", {}) if key not in filter_keys]
    if problems:
        raise Unprocessable("the dashboard definition is invalid", problems)


def list_dashboards(session: Session, caller: Caller, app_key: str) -> list[dict[str, Any]]:
    app = app_for(session, caller, app_key)
    return [reports.definition_json(row)
            for row in reports.latest_versions(session, DashboardDefinition, app)]


def save_dashboard(session: Session, caller: Caller, app_key: str, data: Any,
                   key: str | None = None) -> dict[str, Any]:
    """POST (``key`` None) creates version 1; PUT adds the next version."""
    app = app_for(session, caller, app_key, "design")
    dashboard, expected = reports.prepare_body(data, key, "dashboard")
    _check(session, app, dashboard)
    row = reports.store_version(session, caller, app, DashboardDefinition, dashboard, key, expected)
    return get_dashboard(session, caller, app_key, row.key)


def _card(session: Session, caller: Caller, app: App, item: dict[str, Any],
          filters: list[dict[str, Any]], report_rows: dict[str, Any]) -> dict[str, Any]:
    row = report_rows.get(item["report"])
    report = row.definition if row is not None else {}
    card: dict[str, Any] = {
        "report": item["report"], "name": item.get("title") or report.get("name", ""),
        "chart_type": (report.get("chart") or {}).get("type"),
        "entity": report.get("entity"), "filter_fields": {}, "problem": None,
    }
    entity = reports.find_entity(session, app, report.get("entity"))
    fields: dict[str, Any] = {}
    if row is None:
        card["problem"] = f"{reports.NEEDS_FIXING}report {item['report']!r} does not exist"
    elif entity is None:
        card["problem"] = (f"{reports.NEEDS_FIXING}its entity {report.get('entity')!r} "
                           "no longer exists")
    else:
        try:
            context = reports.report_context(session, caller, app, entity)
            fields = {k: f for k, f in entity_fields(context.entity_def).items()
                      if not f.get("hidden")}
        except APIError as exc:
            card["problem"] = exc.message
    overrides = item.get("filter_fields", {})
    for spec in filters:
        field = overrides.get(spec["key"], spec["field"])
        card["filter_fields"][spec["key"]] = field if field in fields else None
    return card


def get_dashboard(session: Session, caller: Caller, app_key: str, key: str,
                  version: int | None = None) -> dict[str, Any]:
    """The definition plus ``cards``: per item its report's name, chart type, entity, the
    field each global filter maps to there (None: not applicable) and any problem."""
    app = app_for(session, caller, app_key)
    row = reports.get_version(session, DashboardDefinition, app, key, version)
    latest = {r.key: r for r in reports.latest_versions(session, ReportDefinition, app)}
    filters = row.definition.get("filters", [])
    cards = [_card(session, caller, app, item, filters, latest)
             for item in row.definition.get("items", [])]
    return {**reports.definition_json(row), "cards": cards}
