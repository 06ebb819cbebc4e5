"""Browser pages for approval flows: the approval (node) designer, the BPMN modeler, the
task inbox, a task and an instance.

Shells only, like the other page modules: the route checks who may open the page (so a
member is refused the designer before any script runs, and a stranger gets 403 on a
task) and hands ids to the static scripts through data- attributes; the scripts fetch
everything else from the REST API as the logged-in user, and the API checks again.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for

from app_platform.errors import APIError
from app_platform.extensions import db
from app_platform.web import _page_caller, bp


def _caller_or_redirect() -> Any:
    caller = _page_caller()
    if caller is None:
        abort(redirect(url_for("web.login_form", next=request.full_path.rstrip("?"))))
    return caller


def _app(caller: Any, app_key: str, level: str) -> Any:
    from app_platform.services import apps

    try:
        return apps.app_for(db.session, caller, app_key, level)
    except APIError as exc:
        abort(exc.status)


@bp.app_template_global("app_processes")
def app_processes(app: Any) -> list[dict[str, Any]]:
    """The app's processes (newest versions) for the app home page; empty for a caller
    who may not list them."""
    from app_platform.services import flows

    caller = _page_caller()
    if caller is None:
        return []
    try:
        return flows.list_processes(db.session, caller, app.key)
    except APIError:
        return []


@bp.get("/designer/apps/<app_key>/processes/new")
@bp.get("/designer/apps/<app_key>/processes/<key>")
def approval_designer(app_key: str, key: str = "") -> Any:
    from app_platform.services import entities

    app = _app(_caller_or_redirect(), app_key, "design")
    return render_template("approval_designer.html", app=app, key=key,
                           entities=entities.list_entities(db.session, app))


@bp.get("/designer/apps/<app_key>/processes/<key>/bpmn")
def bpmn_modeler(app_key: str, key: str) -> Any:
    from app_platform.services import entities

    app = _app(_caller_or_redirect(), app_key, "design")
    return render_template("bpmn_modeler.html", app=app, key="" if key == "new" else key,
                           entities=entities.list_entities(db.session, app))


@bp.get("/inbox")
def inbox_page() -> Any:
    _caller_or_redirect()
    view = request.args.get("view", "todo")
    return render_template("inbox.html", view=view if view in ("todo", "done", "started",
                                                               "cc") else "todo")


@bp.get("/tasks/<int:task_id>")
def task_page(task_id: int) -> Any:
    from app_platform.models import utcnow
    from app_platform.services import flow_tasks

    caller = _caller_or_redirect()
    try:  # the same check the API makes, so a stranger gets a 403 page, not an empty one
        flow_tasks.task_detail(db.session, caller, task_id, utcnow())
    except APIError as exc:
        abort(exc.status)
    return render_template("task.html", task_id=task_id)


@bp.get("/instances/<int:instance_id>")
def instance_page(instance_id: int) -> Any:
    from app_platform.services import flow_instances

    caller = _caller_or_redirect()
    try:
        flow_instances.get_instance(db.session, caller, instance_id)
    except APIError as exc:
        abort(exc.status)
    return render_template("instance.html", instance_id=instance_id)
