"""Templates and app bundles: list/install shipped templates, import/export apps."""

from flask import Response, jsonify, request

from app_platform.api import bp
from app_platform.api.common import documented, json_body
from app_platform.auth.identity import require_caller
from app_platform.errors import BadRequest, Forbidden
from app_platform.extensions import db
from app_platform.schemas import InstallSchema, json_schema, load
from app_platform.services import apps, bundles

INSTALL_BODY = json_schema(InstallSchema)


def _installer():
    caller = require_caller("apps:write")
    if not (caller.is_admin or "designer" in caller.roles):
        raise Forbidden("only admins and designers install apps")
    return caller


@bp.get("/templates")
@documented("GET", "/templates", "Template bundles shipped in app_templates/", tag="apps")
def list_templates():
    require_caller("apps:read")
    items = [{k: v for k, v in t.items() if k != "folder"} for t in bundles.shipped_templates()]
    return jsonify(items=items, total=len(items), next_cursor=None)


@bp.post("/templates/<template_key>/install")
@documented("POST", "/templates/{key}/install", "Install a shipped template as an app",
            tag="apps", body=INSTALL_BODY, responses={201: "installed", 409: "app key taken"})
def install_template(template_key: str):
    caller = _installer()
    data = load(InstallSchema, json_body(required=False) or {})
    app = bundles.install_template(db.session, caller, template_key,
                                   app_key=data.get("app_key"),
                                   with_sample_data=data.get("with_sample_data", False))
    return jsonify(apps.app_json(app, "manage")), 201


@bp.post("/apps/import")
@documented("POST", "/apps/import", "Import an app bundle (zip, multipart field 'file')",
            tag="apps", responses={201: "imported", 422: "invalid bundle; nothing changed"})
def import_app():
    caller = _installer()
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("send the bundle as multipart field 'file'")
    files = bundles.read_bundle(upload.read())
    app = bundles.import_bundle(db.session, caller, files,
                                app_key=request.form.get("app_key") or None,
                                with_seed=request.form.get("with_sample_data") == "true")
    return jsonify(apps.app_json(app, "manage")), 201


@bp.get("/apps/<app_key>/export")
@documented("GET", "/apps/{app}/export", "The app as a bundle zip", tag="apps",
            responses={200: "application/zip"})
def export_app(app_key: str):
    caller = require_caller("apps:read")
    apps.app_for(db.session, caller, app_key, "design")
    payload = bundles.zip_bundle(bundles.export_bundle(db.session, app_key))
    return Response(payload, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{app_key}.zip"'})
