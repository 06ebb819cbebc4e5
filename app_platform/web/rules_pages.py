"""Browser pages for rules: the app's rule list and the rule editor.

Shells only: rule_editor.js reads and writes everything through the REST API as the
logged-in user (session cookie + X-CSRF-Token), so the API's checks are the ones that
matter; here "not allowed" only becomes the right HTTP status before any script runs.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for

from app_platform.errors import APIError
from app_platform.extensions import db
from app_platform.web import _page_caller, bp


def _page(app_key: str, **context: Any) -> Any:
    from app_platform.services import apps

    caller = _page_caller()
    if caller is None:
        return redirect(url_for("web.login_form", next=request.path))
    try:
        app = apps.app_for(db.session, caller, app_key, "design")
    except APIError as exc:
        abort(exc.status)
    return render_template("rule_editor.html", app=app, **context)


@bp.get("/designer/apps/<app_key>/rules")
def rule_index(app_key: str):
    return _page(app_key, key="", mode="index")


@bp.get("/designer/apps/<app_key>/rules/new")
@bp.get("/designer/apps/<app_key>/rules/<key>")
def rule_editor(app_key: str, key: str = ""):
    return _page(app_key, key=key, mode="edit")
