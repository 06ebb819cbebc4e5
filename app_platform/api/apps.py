"""Apps and their audit trail."""

from flask import jsonify, request

from app_platform.api import bp
from app_platform.api.common import documented, json_body, page_args
from app_platform.auth.identity import require_caller
from app_platform.auth.permissions import app_level, field_access
from app_platform.errors import BadRequest
from app_platform.extensions import db
from app_platform.params import whole_number
from app_platform.schemas import AppCreateSchema, json_schema
from app_platform.services import apps, audit
from app_platform.services.entities import get_entity, list_entities
from app_platform.services.records import RecordService

APP_BODY = json_schema(AppCreateSchema)


@bp.get("/apps")
@documented("GET", "/apps", "Apps the caller can access", tag="apps")
def list_apps():
    caller = require_caller("apps:read")
    items = apps.list_apps(db.session, caller)
    return jsonify(items=items, total=len(items), next_cursor=None)


@bp.post("/apps")
@documented("POST", "/apps", "Create a blank app", tag="apps", body=APP_BODY,
            responses={201: "created", 409: "key taken", 422: "invalid"})
def create_app():
    caller = require_caller("apps:write")
    app = apps.create_app_record(db.session, caller, json_body())
    return jsonify(apps.app_json(app, "manage")), 201


@bp.get("/apps/<app_key>")
@documented("GET", "/apps/{app}", "One app", tag="apps")
def get_app(app_key: str):
    caller = require_caller("apps:read")
    app = apps.app_for(db.session, caller, app_key)
    return jsonify(apps.app_json(app, app_level(caller.roles, caller.is_admin, app)))


@bp.get("/apps/<app_key>/audit")
@documented("GET", "/apps/{app}/audit", "Audit trail (filter by entity and record_id)",
            tag="apps", params=[{"name": "entity", "in": "query"},
                                {"name": "record_id", "in": "query"}])
def app_audit(app_key: str):
    caller = require_caller("records:read")
    entity_key = request.args.get("entity") or None
    raw_id = request.args.get("record_id")
    record_id = whole_number(raw_id) if raw_id else None
    if raw_id and record_id is None:
        raise BadRequest("record_id must be a whole number", code="invalid_query")
    app = apps.get_app(db.session, app_key)
    if entity_key and record_id is not None and \
            app_level(caller.roles, caller.is_admin, app) == "use":
        # a record's history is visible to whoever may read the record
        RecordService(db.session, caller, app, get_entity(db.session, app, entity_key)) \
            .get(record_id)
    else:
        apps.app_for(db.session, caller, app_key, "design")
    limit, offset = page_args()
    hidden = {e.key: field_access(caller.roles, caller.is_admin, e.definition)[0]
              for e in list_entities(db.session, app)}
    items, total = audit.query(db.session, app_key, entity_key, record_id, limit, offset,
                               hidden)
    return jsonify(items=items, total=total, next_cursor=None)
