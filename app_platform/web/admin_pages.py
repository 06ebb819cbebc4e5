"""The admin's app-template page: list the shipped templates and install them (with or
without sample data), import an app bundle, and export or upgrade installed apps. A thin
shell: static/admin_templates.js calls the REST API, which checks every action again."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for

from app_platform.web import _page_caller, bp


@bp.get("/admin/templates")
def admin_templates() -> Any:
    caller = _page_caller()
    if caller is None:
        return redirect(url_for("web.login_form", next=request.path))
    if not (caller.is_admin or "designer" in caller.roles):
        abort(403)
    return render_template("admin_templates.html")
