"""The generic record API: every entity's records through the same endpoints."""

from flask import jsonify, request

from app_platform.api import bp
from app_platform.api.common import documented, if_match, json_body
from app_platform.auth.identity import require_caller
from app_platform.extensions import db
from app_platform.services import apps, entities
from app_platform.services.records import RecordService

BASE = "/apps/<app_key>/entities/<entity_key>/records"
DOC = "/apps/{app}/entities/{entity}/records"


def _service(app_key: str, entity_key: str, scope: str) -> RecordService:
    caller = require_caller(scope)
    app = apps.app_for(db.session, caller, app_key)
    return RecordService(db.session, caller, app,
                         entities.get_entity(db.session, app, entity_key))


@bp.get(BASE)
@documented("GET", DOC, "List records: filters field=, field__op=, sort, fields, q, paging",
            tag="records")
def list_records(app_key: str, entity_key: str):
    service = _service(app_key, entity_key, "records:read")
    return jsonify(service.list(request.args, request.args.getlist))


@bp.post(BASE)
@documented("POST", DOC, "Create a record", tag="records", body={"type": "object"},
            responses={201: "created", 403: "not allowed", 422: "invalid"})
def create_record(app_key: str, entity_key: str):
    service = _service(app_key, entity_key, "records:write")
    return jsonify(service.create(json_body())), 201


@bp.get(BASE + "/<int:record_id>")
@documented("GET", DOC + "/{id}", "One record", tag="records")
def get_record(app_key: str, entity_key: str, record_id: int):
    return jsonify(_service(app_key, entity_key, "records:read").get(record_id))


@bp.patch(BASE + "/<int:record_id>")
@documented("PATCH", DOC + "/{id}", "Update fields; send version (or If-Match) to lock",
            tag="records", body={"type": "object"},
            responses={200: "updated", 409: "stale version", 422: "invalid"})
def patch_record(app_key: str, entity_key: str, record_id: int):
    service = _service(app_key, entity_key, "records:write")
    return jsonify(service.update(record_id, json_body(), if_match()))


@bp.delete(BASE + "/<int:record_id>")
@documented("DELETE", DOC + "/{id}", "Delete a record", tag="records",
            responses={204: "deleted", 409: "linked or stale version"})
def delete_record(app_key: str, entity_key: str, record_id: int):
    _service(app_key, entity_key, "records:write").delete(record_id, if_match())
    return "", 204
