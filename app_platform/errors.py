"""One error envelope for every API error:
``{"error": {"code", "message", "details": [{"path", "message"}], "request_id"}}``.

Handlers here map the APIError hierarchy, engine exceptions, Werkzeug's HTTP errors and
anything unexpected (logged with the request id; the client sees only the id)."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Flask, g, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from engines.form import DefinitionError, FormError, RecordInvalid, UnsafeChange

log = logging.getLogger("loom.errors")


class APIError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code:
            self.code = code


class BadRequest(APIError):
    status, code = 400, "bad_request"


class Unauthenticated(APIError):
    status, code = 401, "unauthenticated"


class Forbidden(APIError):
    status, code = 403, "forbidden"


class NotFound(APIError):
    status, code = 404, "not_found"


class Conflict(APIError):
    status, code = 409, "conflict"


class TooLarge(APIError):
    status, code = 413, "too_large"


class UnsupportedMediaType(APIError):
    status, code = 415, "unsupported_media_type"


class Unprocessable(APIError):
    status, code = 422, "validation_error"


class Locked(APIError):
    status, code = 423, "locked"


class TooManyRequests(APIError):
    status, code = 429, "too_many_requests"


HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "validation_error", 429: "too_many_requests", 503: "unavailable",
}


def request_id() -> str:
    rid = g.get("request_id")
    if rid is None:
        rid = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex
        g.request_id = rid
    return rid


def envelope(status: int, code: str, message: str,
             details: list[dict[str, Any]] | None = None) -> Any:
    body = {"error": {"code": code, "message": message, "details": details or [],
                      "request_id": request_id()}}
    response = jsonify(body)
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == \
        "application/json"


UNAVAILABLE_HINTS = ("connection", "connect", "database is locked", "server closed",
                     "terminating", "shutdown")


def _is_unavailable(exc: Exception) -> bool:
    """A lost or refused connection (or a busy SQLite file), as opposed to a bug such as a
    missing column, which must stay a logged 500."""
    if isinstance(exc, PoolTimeout) or getattr(exc, "connection_invalidated", False):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return any(hint in text for hint in UNAVAILABLE_HINTS)


def init_app(app: Flask) -> None:
    @app.before_request
    def _assign_request_id() -> None:
        request_id()
        # NUL characters cannot be stored (PostgreSQL refuses them): stop them at the door
        pairs = list(request.args.items(multi=True))
        if request.mimetype == "application/x-www-form-urlencoded":
            pairs += list(request.form.items(multi=True))
        if "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in pairs):
            raise BadRequest("text must not contain NUL characters")

    @app.after_request
    def _echo_request_id(response: Any) -> Any:
        response.headers["X-Request-Id"] = request_id()
        return response

    @app.errorhandler(APIError)
    def _api_error(exc: APIError) -> Any:
        return envelope(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(FormError)
    def _form_error(exc: FormError) -> Any:
        if isinstance(exc, RecordInvalid):
            return envelope(422, "validation_error", exc.message, exc.details())
        if isinstance(exc, UnsafeChange):
            return envelope(422, "unsafe_change", exc.message, exc.details())
        if isinstance(exc, DefinitionError):
            return envelope(422, "invalid_definition", exc.message, exc.details())
        return envelope(422, exc.code, exc.message, exc.details())

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if not _wants_json():
            return exc
        message = {
            404: "no such resource",
            405: f"method {request.method} is not allowed here",
            413: f"request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes",
        }.get(status, exc.description or exc.name)
        return envelope(status, HTTP_CODES.get(status, "error"), message)

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError) -> Any:
        """A unique index refused a duplicate (two writers racing past the service's own
        checks end here too)."""
        text = str(exc.orig)
        match = re.search(r"uq_\w+?__(\w+)", text) or re.search(r"\.(\w+)$", text.split("\n")[0])
        field = match.group(1) if match else ""
        details = [{"path": field, "message": "this value is already used"}] if field else []
        return envelope(409, "unique_violation",
                        "a record with this value already exists", details)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_down(exc: Exception) -> Any:
        if not _is_unavailable(exc):
            return _unexpected(exc)
        log.error("database unavailable (request %s): %s", request_id(), exc.__class__.__name__)
        return envelope(503, "unavailable", "the database is unavailable; try again shortly")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        log.exception("unhandled error in request %s", request_id())
        return envelope(500, "internal_error",
                        f"an internal error occurred; quote request id {request_id()}")
