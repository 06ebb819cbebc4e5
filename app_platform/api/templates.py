"""Template bundles beyond install: the published file-kind schemas and app upgrades."""

from flask import jsonify

from app_platform.api import bp
from app_platform.api.common import documented, json_body
from app_platform.auth.identity import require_caller
from app_platform.errors import Unprocessable
from app_platform.extensions import db
from app_platform.services import bundles_upgrade
from app_platform.services.bundles_schemas import bundle_schemas

UPGRADE_BODY = {"type": "object", "properties": {
    "template": {"type": "string", "description": "defaults to the one installed from"},
    "dry_run": {"type": "boolean", "default": False}}}


@bp.get("/bundle-schemas")
@documented("GET", "/bundle-schemas", "JSON Schema of every bundle file kind", tag="apps")
def list_bundle_schemas():
    require_caller("apps:read")
    return jsonify(bundle_schemas())


@bp.post("/apps/<app_key>/upgrade")
@documented("POST", "/apps/{app}/upgrade", "Upgrade an app to its template's newer version: "
            "new definitions come in, ones changed in the app are kept and listed as "
            "conflicts", tag="apps", body=UPGRADE_BODY,
            responses={200: "upgrade report", 409: "older version"})
def upgrade_app(app_key: str):
    caller = require_caller("apps:write")
    body = json_body(required=False) or {}
    if not isinstance(body, dict) or set(body) - {"template", "dry_run"} or \
            not isinstance(body.get("dry_run", False), bool):
        raise Unprocessable("expected {\"template\"?, \"dry_run\"?: boolean}")
    return jsonify(bundles_upgrade.upgrade_app(
        db.session, caller, app_key, body.get("template"),
        dry_run=body.get("dry_run", False)))
