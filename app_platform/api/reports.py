"""Reports (definitions, data, chart options, drill-down, CSV) and dashboards."""

from flask import Response, jsonify, request

from app_platform.api import bp
from app_platform.api.common import documented, json_body
from app_platform.auth.identity import require_caller
from app_platform.errors import BadRequest
from app_platform.extensions import db
from app_platform.services import dashboards, reports

BASE = "/apps/<app_key>/reports"
DOC = "/apps/{app}/reports"
DASH, DASH_DOC = "/apps/<app_key>/dashboards", "/apps/{app}/dashboards"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FILTER_NOTE = [{"name": "<field>[__op]", "in": "query", "required": False,
                "description": "record-API style filters (paid_at__gte=2024-03-01, "
                               "channel=alipay, level__in=A,B) applied on top of the report's",
                "schema": {"type": "string"}}]
REPORT_BODY = {"type": "object", "required": ["key", "name", "entity", "measures", "chart"]}
DASHBOARD_BODY = {"type": "object", "required": ["key", "name", "items"]}


def _version() -> int | None:
    raw = request.args.get("version")
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest("version must be a whole number", code="invalid_query")
    return int(raw)


@bp.get(BASE)
@documented("GET", DOC, "Report definitions (newest version of each)", tag="reports")
def list_reports(app_key: str):
    items = reports.list_reports(db.session, require_caller("apps:read"), app_key)
    return jsonify(items=items, total=len(items), next_cursor=None)


@bp.post(BASE)
@documented("POST", DOC, "Create a report (validated against its entity)", tag="reports",
            body=REPORT_BODY, responses={201: "created", 409: "exists", 422: "invalid"})
def create_report(app_key: str):
    caller = require_caller("apps:write")
    return jsonify(reports.save_report(db.session, caller, app_key, json_body())), 201


@bp.post(BASE + "/preview")
@documented("POST", DOC + "/preview", "Run an unsaved definition (designer preview)",
            tag="reports", body=REPORT_BODY, params=FILTER_NOTE,
            responses={200: "data and chart", 422: "invalid"})
def preview_report(app_key: str):
    caller = require_caller("apps:read")
    return jsonify(reports.preview_report(db.session, caller, app_key, json_body(),
                                          request.args))


@bp.get(BASE + "/<key>")
@documented("GET", DOC + "/{key}", "One report definition (?version=N for an older one)",
            tag="reports")
def get_report(app_key: str, key: str):
    caller = require_caller("apps:read")
    return jsonify(reports.get_report(db.session, caller, app_key, key, _version()))


@bp.put(BASE + "/<key>")
@documented("PUT", DOC + "/{key}", "Save a new version (send the edited version to lock)",
            tag="reports", body=REPORT_BODY,
            responses={200: "saved", 409: "stale version", 422: "invalid"})
def put_report(app_key: str, key: str):
    caller = require_caller("apps:write")
    return jsonify(reports.save_report(db.session, caller, app_key, json_body(), key))


@bp.get(BASE + "/<key>/data")
@documented("GET", DOC + "/{key}/data", "Aggregated rows {columns, rows, chart, kpi|pivot}; "
            "?format=csv|xlsx downloads them", tag="reports", params=FILTER_NOTE,
            responses={200: "rows", 403: "no read rights", 422: "report needs fixing"})
def report_data(app_key: str, key: str):
    caller = require_caller("records:read")
    output = request.args.get("format", "json")
    if output not in ("json", "csv", "xlsx"):
        raise BadRequest("format must be json, csv or xlsx", code="invalid_query")
    result = reports.report_data(db.session, caller, app_key, key, request.args)
    if output == "json":
        return jsonify(result)
    name = reports.export_name(key, output)
    if output == "xlsx":
        body, mimetype = reports.result_xlsx(result), XLSX_MIME
    else:
        body, mimetype = reports.result_csv(result), "text/csv"
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get(BASE + "/<key>/chart")
@documented("GET", DOC + "/{key}/chart", "ECharts option JSON (or the KPI/table/pivot view)",
            tag="reports", params=FILTER_NOTE,
            responses={200: "options", 403: "no read rights", 422: "report needs fixing"})
def report_chart(app_key: str, key: str):
    caller = require_caller("records:read")
    return jsonify(reports.report_data(db.session, caller, app_key, key, request.args)["chart"])


@bp.post(BASE + "/<key>/drill")
@documented("POST", DOC + "/{key}/drill", "Record-list filters and URL behind a clicked row "
            '({"row": {...}, "measure"?})', tag="reports", params=FILTER_NOTE,
            body={"type": "object", "required": ["row"]},
            responses={200: "filters and url", 422: "cannot drill into this row"})
def drill_report(app_key: str, key: str):
    caller = require_caller("records:read")
    return jsonify(reports.drill(db.session, caller, app_key, key, json_body(), request.args))


@bp.get(DASH)
@documented("GET", DASH_DOC, "Dashboards (newest version of each)", tag="reports")
def list_dashboards(app_key: str):
    items = dashboards.list_dashboards(db.session, require_caller("apps:read"), app_key)
    return jsonify(items=items, total=len(items), next_cursor=None)


@bp.post(DASH)
@documented("POST", DASH_DOC, "Create a dashboard: grid items {report,x,y,w,h}, global "
            "filters, refresh_seconds", tag="reports", body=DASHBOARD_BODY,
            responses={201: "created", 409: "exists", 422: "invalid"})
def create_dashboard(app_key: str):
    caller = require_caller("apps:write")
    return jsonify(dashboards.save_dashboard(db.session, caller, app_key, json_body())), 201


@bp.get(DASH + "/<key>")
@documented("GET", DASH_DOC + "/{key}", "One dashboard with its cards (per-card filter "
            "fields and problems)", tag="reports")
def get_dashboard(app_key: str, key: str):
    caller = require_caller("apps:read")
    return jsonify(dashboards.get_dashboard(db.session, caller, app_key, key, _version()))


@bp.put(DASH + "/<key>")
@documented("PUT", DASH_DOC + "/{key}", "Save a new version of a dashboard", tag="reports",
            body=DASHBOARD_BODY, responses={200: "saved", 409: "stale version", 422: "invalid"})
def put_dashboard(app_key: str, key: str):
    caller = require_caller("apps:write")
    return jsonify(dashboards.save_dashboard(db.session, caller, app_key, json_body(), key))
