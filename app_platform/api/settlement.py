"""Settlement template endpoints: channel bill import, reconciliation, vouchers."""

from flask import Response, current_app, jsonify, request

from app_platform.api import bp
from app_platform.api.common import documented, json_body
from app_platform.auth.identity import require_caller
from app_platform.errors import BadRequest
from app_platform.extensions import db
from app_platform.services import settlement, settlement_vouchers

BASE = "/apps/<app_key>/settlement"
DOC = "/apps/{app}/settlement"
MULTIPART = {"type": "object", "properties": {
    "file": {"type": "string", "format": "binary"},
    "channel": {"type": "string", "enum": ["alipay", "wechat", "unionpay", "stripe"]}}}
RECONCILE_BODY = {"type": "object", "required": ["channel", "date"], "properties": {
    "channel": {"type": "string", "enum": ["alipay", "wechat", "unionpay", "stripe"]},
    "date": {"type": "string", "format": "date"},
    "window_days": {"type": "integer", "minimum": 0, "maximum": 7, "default": 1}}}
BILL_MAX_BYTES = 200 * 1024 * 1024


@bp.post(BASE + "/bills")
@documented("POST", DOC + "/bills", "Import a channel bill (multipart 'file'; the channel "
            "is detected); a file imported before is refused", tag="settlement",
            body=MULTIPART, responses={201: "imported", 409: "already imported",
                                       422: "not a valid bill (names the line)"})
def import_bill(app_key: str):
    request.max_content_length = current_app.config.get("BILL_MAX_BYTES", BILL_MAX_BYTES)
    caller = require_caller("records:write")
    upload = request.files.get("file")
    if upload is None:
        raise BadRequest("send the bill as multipart/form-data field 'file'",
                         code="missing_file")
    result = settlement.import_bill(db.session, caller, app_key, upload.filename or "",
                                    upload.read(), request.form.get("channel") or None)
    return jsonify(result), 201


@bp.post(BASE + "/reconcile")
@documented("POST", DOC + "/reconcile", "Reconcile one channel and business day (T+1 "
            "window); re-running updates the same batch", tag="settlement",
            body=RECONCILE_BODY, responses={200: "the batch, its summary and items"})
def reconcile(app_key: str):
    caller = require_caller("records:write")
    return jsonify(settlement.reconcile_day(db.session, caller, app_key, json_body()))


@bp.post(BASE + "/batches/<int:batch_id>/vouchers")
@documented("POST", DOC + "/batches/{id}/vouchers", "Book balanced vouchers for a fully "
            "reconciled batch (idempotent)", tag="settlement",
            responses={200: "vouchers", 409: "the batch has open exceptions"})
def generate_vouchers(app_key: str, batch_id: int):
    caller = require_caller("records:write")
    return jsonify(settlement_vouchers.generate_vouchers(db.session, caller, app_key,
                                                         batch_id))


@bp.get(BASE + "/vouchers/export")
@documented("GET", DOC + "/vouchers/export", "Vouchers as CSV in the voucher-import layout "
            "(?batch=ID or ?date_from=&date_to=)", tag="settlement",
            responses={200: "text/csv"})
def export_vouchers(app_key: str):
    caller = require_caller("records:read")
    text = settlement_vouchers.export_vouchers_csv(db.session, caller, app_key,
                                                   request.args.to_dict())
    return Response(text.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{app_key}-vouchers.csv"'})
