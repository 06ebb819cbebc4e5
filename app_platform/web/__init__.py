"""Browser pages: login (session + CSRF), home, app home, record list, API docs."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from app_platform.auth.identity import csrf_token, current_caller
from app_platform.errors import APIError
from app_platform.extensions import db

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _page_caller() -> Any:
    try:
        return current_caller(optional=True)
    except APIError:
        return None


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "caller": _page_caller}


@bp.get("/login")
def login_form():
    return render_template("login.html", error=None, next=request.args.get("next", "/"))


@bp.post("/login")
def login_submit():
    from app_platform.services import users

    sent = request.form.get("csrf_token", "")
    if not sent or sent != session.get("csrf"):
        return render_template("login.html", error="会话已过期，请重试 Session expired, "
                               "please try again", next="/"), 400
    try:
        user, _token = users.login(db.session, {"username": request.form.get("username", ""),
                                                "password": request.form.get("password", "")})
    except APIError as exc:
        return render_template("login.html", error=exc.message,
                               next=request.form.get("next", "/")), exc.status
    session.clear()
    session["user_id"] = user.id
    csrf_token()
    target = request.form.get("next", "/")
    return redirect(target if target.startswith("/") and not target.startswith("//") else "/")


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("web.login_form"))


@bp.get("/")
def home():
    caller = _page_caller()
    if caller is None:
        return redirect(url_for("web.login_form", next=request.path))
    from app_platform.services.apps import list_apps

    return render_template("home.html", apps=list_apps(db.session, caller))


@bp.get("/apps/<app_key>")
def app_home(app_key: str):
    caller = _page_caller()
    if caller is None:
        return redirect(url_for("web.login_form", next=request.path))
    from app_platform.services import apps, entities

    try:
        app = apps.app_for(db.session, caller, app_key)
    except APIError as exc:
        abort(exc.status)
    return render_template("app.html", app=app,
                           entities=entities.list_entities(db.session, app))


@bp.get("/apps/<app_key>/entities/<entity_key>")
def record_list(app_key: str, entity_key: str):
    caller = _page_caller()
    if caller is None:
        return redirect(url_for("web.login_form", next=request.path))
    from app_platform.services import apps, entities

    try:
        app = apps.app_for(db.session, caller, app_key)
        entity = entities.get_entity(db.session, app, entity_key)
    except APIError as exc:
        abort(exc.status)
    return render_template("records.html", app=app, entity=entity)


def init_app(app: Flask) -> None:
    from app_platform.api.openapi import docs_page

    # page modules register their routes on ``bp`` when imported
    from app_platform.web import (  # noqa: F401
        admin_pages,  # app templates and bundles
        flows_pages,  # approval designer, BPMN modeler, inbox, tasks
        forms_pages,  # form designer, record form/detail
        reports_pages,  # dashboards, report designer
        rules_pages,  # rule list and editor
    )

    app.register_blueprint(bp)
    app.add_url_rule("/api/docs", "api_docs", docs_page)

    @app.after_request
    def _security_headers(response: Any) -> Any:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response
