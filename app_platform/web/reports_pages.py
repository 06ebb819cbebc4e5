"""Browser pages for dashboards (index, view, layout editor) and the report designer.

The pages are shells: dashboard.js and report_designer.js fetch everything from the
REST API as the logged-in user, so the API's permission checks are the ones that matter;
the checks here only turn "not allowed" into the right HTTP status before any script runs.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for

from app_platform.auth.permissions import RANK, app_level
from app_platform.errors import APIError
from app_platform.extensions import db
from app_platform.web import _page_caller, bp


def _page(template: str, app_key: str, level: str, **context: Any) -> Any:
    """Render for a logged-in caller holding ``level`` on the app (login redirect, 403/404)."""
    from app_platform.services import apps

    caller = _page_caller()
    if caller is None:
        return redirect(url_for("web.login_form", next=request.path))
    try:
        app = apps.app_for(db.session, caller, app_key, level)
    except APIError as exc:
        abort(exc.status)
    have = app_level(caller.roles, caller.is_admin, app)
    can_design = have is not None and RANK[have] >= RANK["design"]
    return render_template(template, app=app, can_design=can_design, **context)


@bp.get("/apps/<app_key>/dashboards")
def dashboard_index(app_key: str):
    return _page("dashboard.html", app_key, "use", key="", mode="index")


@bp.get("/apps/<app_key>/dashboards/<key>")
def dashboard_view(app_key: str, key: str):
    return _page("dashboard.html", app_key, "use", key=key, mode="view")


@bp.get("/designer/apps/<app_key>/dashboards/new")
@bp.get("/designer/apps/<app_key>/dashboards/<key>")
def dashboard_editor(app_key: str, key: str = ""):
    return _page("dashboard.html", app_key, "design", key=key, mode="edit")


@bp.get("/designer/apps/<app_key>/reports/new")
@bp.get("/designer/apps/<app_key>/reports/<key>")
def report_designer(app_key: str, key: str = ""):
    return _page("report_designer.html", app_key, "design", key=key)
