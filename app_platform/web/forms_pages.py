"""Browser pages generated from entity definitions: the form designer and the record
create/edit/detail views.

The pages are thin Jinja shells: they check who may open them (so a member never sees a
designer that would fail on publish) and hand the keys to the static scripts through
data- attributes; everything else comes from the REST API, which checks again on every
call. The CSP forbids inline scripts, so no JSON is ever embedded in a <script> block.
"""

from __future__ import annotations

import json
from typing import Any

from flask import abort, redirect, render_template, request, url_for

from app_platform.errors import APIError
from app_platform.extensions import db
from app_platform.web import _page_caller, bp


def _login_redirect() -> Any:
    return redirect(url_for("web.login_form", next=request.path))


def _app_and_entity(caller: Any, app_key: str, entity_key: str | None,
                    level: str = "use") -> tuple[Any, Any]:
    """Load the app (at ``level``) and, when named, its entity; a refusal becomes the
    matching HTTP error page (403/404), never a half-rendered page."""
    from app_platform.services import apps, entities

    try:
        app = apps.app_for(db.session, caller, app_key, level)
        entity = entities.get_entity(db.session, app, entity_key) if entity_key else None
    except APIError as exc:
        abort(exc.status)
    return app, entity


@bp.app_template_global("may_design")
def may_design(app: Any) -> bool:
    """Whether the logged-in user may open the designer for ``app`` (pages show the
    designer links only then; the API refuses everyone else anyway)."""
    from app_platform.auth.permissions import RANK, app_level

    caller = _page_caller()
    if caller is None:
        return False
    level = app_level(caller.roles, caller.is_admin, app)
    return level is not None and RANK[level] >= RANK["design"]


def _formula_functions() -> str:
    """The formula language's functions (name + one-line doc) for the designer's picker,
    straight from the engine's registry so the picker never offers a function the server
    would refuse."""
    from engines.form.formula import DEFAULT_FUNCTIONS

    return json.dumps(DEFAULT_FUNCTIONS.describe(), ensure_ascii=False)


@bp.get("/designer/apps/<app_key>/entities/new")
def designer_new_entity(app_key: str) -> Any:
    caller = _page_caller()
    if caller is None:
        return _login_redirect()
    app, _ = _app_and_entity(caller, app_key, None, "design")
    return render_template("designer_form.html", app=app, entity=None,
                           functions=_formula_functions())


@bp.get("/designer/apps/<app_key>/entities/<entity_key>")
def designer_entity(app_key: str, entity_key: str) -> Any:
    caller = _page_caller()
    if caller is None:
        return _login_redirect()
    app, entity = _app_and_entity(caller, app_key, entity_key, "design")
    return render_template("designer_form.html", app=app, entity=entity,
                           functions=_formula_functions())


@bp.get("/apps/<app_key>/entities/<entity_key>/new")
def record_new(app_key: str, entity_key: str) -> Any:
    caller = _page_caller()
    if caller is None:
        return _login_redirect()
    app, entity = _app_and_entity(caller, app_key, entity_key)
    return render_template("record_form.html", app=app, entity=entity, record_id=None)


@bp.get("/apps/<app_key>/entities/<entity_key>/<int:record_id>/edit")
def record_edit(app_key: str, entity_key: str, record_id: int) -> Any:
    caller = _page_caller()
    if caller is None:
        return _login_redirect()
    app, entity = _app_and_entity(caller, app_key, entity_key)
    return render_template("record_form.html", app=app, entity=entity, record_id=record_id)


@bp.get("/apps/<app_key>/entities/<entity_key>/<int:record_id>")
def record_detail(app_key: str, entity_key: str, record_id: int) -> Any:
    caller = _page_caller()
    if caller is None:
        return _login_redirect()
    app, entity = _app_and_entity(caller, app_key, entity_key)
    return render_template("record_detail.html", app=app, entity=entity,
                           record_id=record_id)
