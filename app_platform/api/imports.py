"""Record import (a job) and export, job progress, and attachment uploads."""

import json

from flask import Response, current_app, jsonify, request, send_file, stream_with_context
from werkzeug.datastructures import FileStorage

from app_platform.api import bp
from app_platform.api.common import documented
from app_platform.auth.identity import require_caller
from app_platform.errors import BadRequest
from app_platform.extensions import db
from app_platform.services import apps, entities, exports, imports, uploads
from app_platform.services.records import RecordService

BASE = "/apps/<app_key>/entities/<entity_key>/records"
DOC = "/apps/{app}/entities/{entity}/records"
MULTIPART = {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}


def _file() -> FileStorage:
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("send the file as multipart/form-data field 'file'",
                         code="missing_file")
    return upload


def _option(name: str) -> str | None:
    return request.form.get(name) or request.args.get(name)


def _mapping() -> dict | None:
    raw = _option("mapping")
    try:
        mapping = json.loads(raw) if raw else None
    except ValueError:
        mapping = []
    if mapping is not None and not isinstance(mapping, dict):
        raise BadRequest('mapping must be a JSON object {"column header": "field key"}')
    return mapping


@bp.post(BASE + "/import")
@documented("POST", DOC + "/import", "Import CSV/XLSX rows as a job (multipart 'file'; mode, "
            "dry_run, mapping)", tag="records", body=MULTIPART,
            responses={202: "job started", 413: "too large", 415: "not CSV/XLSX",
                       422: "columns do not fit"})
def import_records(app_key: str, entity_key: str):
    request.max_content_length = current_app.config.get("IMPORT_MAX_BYTES",
                                                        imports.DEFAULT_MAX_BYTES)
    caller = require_caller("records:write")
    app = apps.app_for(db.session, caller, app_key)
    entity = entities.get_entity(db.session, app, entity_key)
    upload = _file()
    job = imports.start_import(
        db.session, caller, app, entity, upload.stream, upload.filename or "",
        mode=_option("mode") or "all_or_nothing",
        dry_run=(_option("dry_run") or "").lower() in ("1", "true", "yes"),
        mapping=_mapping())
    imports.launch(job.id)
    return jsonify({"job_id": job.id}), 202


@bp.get("/jobs/<job_id>")
@documented("GET", "/jobs/{id}", "Progress and errors of a job", tag="records")
def get_job(job_id: str):
    caller = require_caller("records:read")
    return jsonify(imports.job_json(db.session, caller, job_id))


@bp.get(BASE + "/export")
@documented("GET", DOC + "/export", "Export the filtered list as CSV or XLSX (?format=)",
            tag="records", responses={200: "file", 400: "bad filter"})
def export_records(app_key: str, entity_key: str):
    caller = require_caller("records:read")
    app = apps.app_for(db.session, caller, app_key)
    service = RecordService(db.session, caller, app,
                            entities.get_entity(db.session, app, entity_key))
    chunks, mimetype, name = exports.export_records(
        service, request.args, request.args.getlist, request.args.get("format", "csv"))
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.post("/uploads")
@documented("POST", "/uploads", "Upload an attachment (multipart 'file')", tag="uploads",
            body=MULTIPART, responses={201: "stored", 413: "too large", 415: "type refused"})
def create_upload():
    caller = require_caller("records:write")
    upload = _file()
    return jsonify(uploads.store_upload(db.session, caller, upload.stream,
                                        upload.filename)), 201


@bp.get("/uploads/<upload_id>")
@documented("GET", "/uploads/{id}", "Download an attachment", tag="uploads",
            responses={200: "the file", 404: "unknown or not yours to see"})
def download_upload(upload_id: str):
    caller = require_caller("records:read")
    upload, path = uploads.open_upload(db.session, caller, upload_id)
    response = send_file(path, mimetype=upload.content_type, as_attachment=True,
                         download_name=upload.name, etag=upload.sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
