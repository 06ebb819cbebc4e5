"""Reports and dashboards: versioned definitions, and running a report for one caller.

Why the caller's entity definition is rewritten before the report engine sees it: the
engine knows nothing of roles. Fields the caller may not see are marked ``hidden`` (the
engine refuses to report on them), removed fields are dropped (a report still naming one
"needs fixing"), and "read own records only" becomes a WHERE clause the engine ANDs into
every aggregate, so nobody sees totals over rows they could not list.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app_platform.auth.identity import Caller
from app_platform.auth.permissions import entity_rights, field_access
from app_platform.errors import BadRequest, Conflict, Forbidden, NotFound, Unprocessable
from app_platform.models import App, Entity, utcnow
from app_platform.models.reports import DashboardDefinition, ReportDefinition
from app_platform.services import audit
from app_platform.services.apps import app_for
from app_platform.services.entities import entity_table
from engines.form import live_fields
from engines.report import (
    DEFAULT_TIMEZONE,
    DrillDownError,
    ReportClock,
    ReportDefinitionError,
    ReportError,
    drill_filters,
    run_report,
    validate_report,
)
from engines.report.fields import entity_fields

NEEDS_FIXING = "this report needs fixing: "
RESERVED_PARAMS = frozenset({"format"})
Model = type[ReportDefinition] | type[DashboardDefinition]


@dataclass
class ReportContext:
    """What the engine needs to run a report on one entity for one caller."""

    entity_def: dict[str, Any]
    table: sa.Table
    tables: dict[str, tuple[dict[str, Any], sa.Table]]
    where: ColumnElement | None

    @property
    def entities(self) -> dict[str, dict[str, Any]]:
        return {key: definition for key, (definition, _) in self.tables.items()}


def report_clock() -> ReportClock:
    """Reports read in one business timezone (config REPORT_TIMEZONE, Asia/Shanghai)."""
    return ReportClock(timezone=current_app.config.get("REPORT_TIMEZONE") or DEFAULT_TIMEZONE)


# -- versions ---------------------------------------------------------------------------
def latest_version(session: Session, model: Model, app: App, key: str) -> Any:
    return (session.query(model).filter_by(app_id=app.id, key=key)
            .order_by(model.version.desc()).first())


def latest_versions(session: Session, model: Model, app: App) -> list[Any]:
    newest = (sa.select(model.key, sa.func.max(model.version).label("version"))
              .where(model.app_id == app.id).group_by(model.key).subquery())
    return (session.query(model).join(newest, sa.and_(model.key == newest.c.key,
                                                      model.version == newest.c.version))
            .filter(model.app_id == app.id).order_by(model.key).all())


def get_version(session: Session, model: Model, app: App, key: str, version: int | None) -> Any:
    query = session.query(model).filter_by(app_id=app.id, key=key)
    row = (query.filter_by(version=version).first() if version is not None
           else query.order_by(model.version.desc()).first())
    if row is None:
        noun = "report" if model is ReportDefinition else "dashboard"
        suffix = f" at version {version}" if version is not None else ""
        raise NotFound(f"no {noun} {key!r}{suffix} in app {app.key!r}")
    return row


def prepare_body(data: Any, key: str | None, noun: str) -> tuple[dict[str, Any], int | None]:
    """The body without its ``version`` (the version the editor started from)."""
    if not isinstance(data, dict):
        raise Unprocessable(f"the {noun} must be a JSON object")
    data = dict(data)
    if key is not None and data.setdefault("key", key) != key:
        raise Unprocessable(f"a {noun}'s key never changes",
                            [{"path": "key", "message": f"must stay {key!r}"}])
    expected = data.pop("version", None)
    for read_only in ("created_by", "created_at", "cards"):
        data.pop(read_only, None)
    return data, expected


def store_version(session: Session, caller: Caller, app: App, model: Model, data: dict[str, Any],
           key: str | None, expected: int | None, **columns: Any) -> Any:
    """Add the next version; POST (``key`` None) must be new, PUT must exist and be current."""
    latest = latest_version(session, model, app, data["key"])
    noun = "report" if model is ReportDefinition else "dashboard"
    if key is None and latest is not None:
        raise Conflict(f"{noun} {data['key']!r} already exists; PUT a new version")
    if key is not None and latest is None:
        raise NotFound(f"no {noun} {key!r} in app {app.key!r}")
    if latest is not None and expected is not None and expected != latest.version:
        raise Conflict(f"the {noun} is at version {latest.version}, not {expected}; "
                       "reload and save again")
    row = model(app_id=app.id, key=data["key"], version=(latest.version if latest else 0) + 1,
                name=data["name"], definition=data, created_by=caller.username,
                created_at=utcnow(), **columns)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"{noun} {data['key']!r} was saved meanwhile; reload") from None
    audit.write(session, [audit.audit_row(caller.username, app.key, columns.get("entity_key"),
                                          None, f"{noun}.save",
                                          {noun: row.key, "version": row.version})])
    session.commit()
    return row


def definition_json(row: Any) -> dict[str, Any]:
    """A stored definition as the API returns it: the body plus version metadata."""
    return {**row.definition, "version": row.version, "created_by": row.created_by,
            "created_at": row.created_at.isoformat() if row.created_at else None}


# -- the caller's view of an entity -----------------------------------------------------
def _visible_definition(caller: Caller, entity: Entity) -> dict[str, Any]:
    hidden, _ = field_access(caller.roles, caller.is_admin, entity.definition)
    definition = dict(entity.definition)
    definition["fields"] = [{**f, "hidden": True} if f["key"] in hidden else f
                            for f in live_fields(entity.definition)]
    return definition


def find_entity(session: Session, app: App, key: Any) -> Entity | None:
    if not isinstance(key, str):
        return None
    return session.query(Entity).filter_by(app_id=app.id, key=key).first()


def report_context(session: Session, caller: Caller, app: App, entity: Entity) -> ReportContext:
    """403 without read rights; relation targets join only when the caller reads all of
    them (a joined label must not reveal a record the caller could not open)."""
    rights = entity_rights(caller.roles, caller.is_admin, app, entity.definition)
    if not rights.read:
        raise Forbidden(f"you may not read {entity.key!r} records, so not report on them")
    table = entity_table(entity)
    where = table.c.created_by == caller.username if rights.read == "own" else None
    definition = _visible_definition(caller, entity)
    tables = {entity.key: (definition, table)}
    for fdef in live_fields(entity.definition):
        target_key = fdef.get("target") if fdef["type"] == "relation" else None
        target = None if target_key in tables else find_entity(session, app, target_key)
        if target is not None and entity_rights(caller.roles, caller.is_admin, app,
                                                target.definition).read == "all":
            tables[target.key] = (_visible_definition(caller, target), entity_table(target))
    return ReportContext(definition, table, tables, where)


# -- report definitions -----------------------------------------------------------------
def list_reports(session: Session, caller: Caller, app_key: str) -> list[dict[str, Any]]:
    app = app_for(session, caller, app_key)
    return [definition_json(row) for row in latest_versions(session, ReportDefinition, app)]


def get_report(session: Session, caller: Caller, app_key: str, key: str,
               version: int | None = None) -> dict[str, Any]:
    app = app_for(session, caller, app_key)
    return definition_json(get_version(session, ReportDefinition, app, key, version))


def _validate(session: Session, caller: Caller, app: App, report: dict[str, Any]) -> None:
    entity = find_entity(session, app, report.get("entity"))
    try:
        if entity is None:
            validate_report(report, None, {})
        else:
            context = report_context(session, caller, app, entity)
            validate_report(report, context.entity_def, context.entities)
    except ReportDefinitionError as exc:
        raise Unprocessable(exc.message, exc.details) from None


def save_report(session: Session, caller: Caller, app_key: str, data: Any,
                key: str | None = None) -> dict[str, Any]:
    """Validate against the entity as the designer sees it, then store a new version."""
    app = app_for(session, caller, app_key, "design")
    report, expected = prepare_body(data, key, "report")
    _validate(session, caller, app, report)
    row = store_version(session, caller, app, ReportDefinition, report, key, expected,
                 entity_key=report["entity"])
    return definition_json(row)


# -- running ------------------------------------------------------------------------------
def filter_params(args: Any) -> list[tuple[str, dict[str, Any]]]:
    """Query parameters in the record API's syntax (``channel=alipay``, ``paid_at__gte=``,
    ``level__in=A,B``) as (parameter, report filter) pairs."""
    pairs = []
    for name in args:
        if name in RESERVED_PARAMS:
            continue
        field, sep, op = name.partition("__")
        op = op if sep else "eq"
        for raw in args.getlist(name):
            value: Any = raw
            if op == "in":
                value = raw.split(",")
            elif op == "isnull":
                value = raw.lower() in ("1", "true", "yes")
            pairs.append((name, {"field": field, "op": op, "value": value}))
    return pairs


def _check_filters(context: ReportContext, report: dict[str, Any],
                   pairs: list[tuple[str, dict[str, Any]]]) -> None:
    """Bad filter parameters are the caller's mistake (400 naming the parameter)."""
    own = len(report.get("filters", []))
    try:
        validate_report({**report, "filters": [*report.get("filters", []),
                                               *(spec for _, spec in pairs)]},
                        context.entity_def, context.entities)
    except ReportDefinitionError as exc:
        details = []
        for item in exc.details:
            parts = str(item.get("path", "")).split(".")
            index = int(parts[1]) - own if parts[0] == "filters" and len(parts) > 1 \
                and parts[1].isdigit() else -1
            param = pairs[index][0] if 0 <= index < len(pairs) else item.get("path", "")
            details.append({"path": param, "message": item["message"]})
        raise BadRequest("the filter parameters do not fit this report", details,
                         code="invalid_query") from None


def needs_fixing(exc: ReportError) -> Unprocessable:
    return Unprocessable(NEEDS_FIXING + "; ".join(d["message"] for d in exc.details)
                         if exc.details else NEEDS_FIXING + exc.message, exc.details,
                         code="report_needs_fixing")


def _runnable(session: Session, caller: Caller, app: App, report: dict[str, Any],
              args: Any, saved: bool) -> tuple[ReportContext, list[tuple[str, dict]]]:
    entity = find_entity(session, app, report.get("entity"))
    if entity is None:
        message = f"its entity {report.get('entity')!r} no longer exists"
        detail = [{"path": "entity", "message": message}]
        if saved:
            raise Unprocessable(NEEDS_FIXING + message, detail, code="report_needs_fixing")
        raise Unprocessable(f"unknown entity {report.get('entity')!r}", detail)
    context = report_context(session, caller, app, entity)
    try:
        validate_report(report, context.entity_def, context.entities)
    except ReportDefinitionError as exc:
        raise (needs_fixing(exc) if saved else Unprocessable(exc.message, exc.details)) \
            from None
    pairs = filter_params(args)
    if pairs:
        _check_filters(context, report, pairs)
    return context, pairs


def _execute(session: Session, caller: Caller, app: App, report: dict[str, Any], args: Any,
             saved: bool) -> dict[str, Any]:
    context, pairs = _runnable(session, caller, app, report, args, saved)
    try:
        return run_report(session.connection(), context.entity_def, context.table, report,
                          where=context.where, clock=report_clock(), tables=context.tables,
                          extra_filters=[spec for _, spec in pairs])
    except ReportError as exc:
        raise needs_fixing(exc) from None


def report_data(session: Session, caller: Caller, app_key: str, key: str,
                args: Any) -> dict[str, Any]:
    """``{"columns","rows","chart", ...}`` of the newest version, for this caller."""
    app = app_for(session, caller, app_key)
    row = get_version(session, ReportDefinition, app, key, None)
    result = _execute(session, caller, app, row.definition, args, saved=True)
    return {"report": key, "version": row.version, **result}


def preview_report(session: Session, caller: Caller, app_key: str, data: Any,
                   args: Any) -> dict[str, Any]:
    """Run an unsaved definition (the designer's live preview); nothing is stored."""
    app = app_for(session, caller, app_key, "design")
    if not isinstance(data, dict):
        raise Unprocessable("the report must be a JSON object")
    report = {"key": "preview", "name": "预览 Preview", **data}
    report.pop("version", None)
    return _execute(session, caller, app, report, args, saved=False)


def _explicit_days(spec: dict[str, Any], kind: str | None, clock: ReportClock) -> list[dict]:
    """A date-only bound on a datetime field as instants, which the record API (the drill
    target) compares literally: ``lte 2024-03-31`` means before 04-01 00:00 local."""
    value = spec.get("value")
    if kind != "datetime" or not isinstance(value, str) or len(value) != 10:
        return [spec]
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return [spec]
    start = clock.local_midnight(day).isoformat()
    end = clock.local_midnight(day + timedelta(days=1)).isoformat()
    field, op = spec["field"], spec.get("op", "eq")
    shifted = {"gte": [("gte", start)], "gt": [("gte", end)], "lt": [("lt", start)],
               "lte": [("lt", end)], "eq": [("gte", start), ("lt", end)]}
    if op not in shifted:
        return [spec]
    return [{"field": field, "op": new_op, "value": bound} for new_op, bound in shifted[op]]


def drill(session: Session, caller: Caller, app_key: str, key: str, body: Any,
          args: Any) -> dict[str, Any]:
    """The record-list filters behind one clicked row (plus the page's filter params)."""
    app = app_for(session, caller, app_key)
    report = get_version(session, ReportDefinition, app, key, None).definition
    context, pairs = _runnable(session, caller, app, report, args, saved=True)
    if not isinstance(body, dict) or not isinstance(body.get("row"), dict):
        raise Unprocessable("send {\"row\": {...}} with the clicked row's dimension values",
                            [{"path": "row", "message": "an object is required"}])
    clock = report_clock()
    fields = entity_fields(context.entity_def)
    filters: list[dict] = []
    for spec in [*report.get("filters", []), *(spec for _, spec in pairs)]:
        kind = fields.get(spec["field"], {}).get("type")
        filters += _explicit_days(spec, kind, clock)
    try:
        found = drill_filters({**report, "filters": filters}, body["row"], context.entity_def,
                              clock=clock, measure=body.get("measure"),
                              entities=context.entities)
    except DrillDownError as exc:
        raise Unprocessable(exc.message, exc.details, code="drill_down_error") from None
    except ValueError as exc:  # a row value that is no bucket label ("2024-13")
        raise Unprocessable(f"the row does not come from this report: {exc}",
                            [{"path": "row", "message": str(exc)}],
                            code="drill_down_error") from None
    url = f"/apps/{app.key}/entities/{report['entity']}"
    return {"entity": report["entity"], "filters": found,
            "url": f"{url}?{urlencode(found)}" if found else url}


def _cell(value: Any) -> Any:
    """CSV cells: text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "@", "\t", "\r"):
        return "'" + value
    if isinstance(value, str) and value[:1] == "-" and not value[1:2].isdigit():
        return "'" + value
    return "" if value is None else value


def result_csv(result: dict[str, Any]) -> str:
    """The rows as CSV with labelled headers (UTF-8 BOM so Excel reads Chinese)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = result["columns"]
    writer.writerow([column["label"] for column in columns])
    for row in result["rows"]:
        writer.writerow([_cell(row.get(column["key"])) for column in columns])
    return "\ufeff" + buffer.getvalue()


def result_xlsx(result: dict[str, Any]) -> bytes:
    """The rows as an Excel workbook; measure values become real numbers (exact decimals)
    so totals and charts in Excel work on them."""
    from engines.form.io_files import write_xlsx

    columns = result["columns"]
    measures = {i for i, c in enumerate(columns) if c.get("role") != "dimension"}

    def cells(row: dict[str, Any]) -> list[Any]:
        out = []
        for i, column in enumerate(columns):
            value = row.get(column["key"])
            if i in measures and isinstance(value, str) and _DECIMAL.fullmatch(value):
                value = Decimal(value)
            out.append(_cell(value) if isinstance(value, str) else value)
        return out

    buffer = io.BytesIO()
    write_xlsx(buffer, [c["label"] for c in columns], (cells(r) for r in result["rows"]),
               [None] * len(columns), title=str(result.get("report") or "report"))
    return buffer.getvalue()


_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def export_name(key: str, extension: str = "csv") -> str:
    return f"{key}-{datetime.now().strftime('%Y%m%d-%H%M')}.{extension}"
