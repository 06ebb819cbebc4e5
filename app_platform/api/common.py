"""Request parsing shared by handlers: JSON bodies (decimals stay exact), paging, ids."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import request

from app_platform.errors import BadRequest, UnsupportedMediaType
from app_platform.params import whole_number

SPEC: list[dict[str, Any]] = []  # filled by @documented, read by openapi.py


def documented(method: str, path: str, summary: str, *, tag: str, body: dict | None = None,
               responses: dict[int, str] | None = None, params: list[dict] | None = None):
    """Record an endpoint for the OpenAPI document; the route itself is registered by
    Flask's decorator as usual."""

    def wrap(func):  # noqa: ANN001, ANN202
        SPEC.append({"method": method.lower(), "path": path, "summary": summary, "tag": tag,
                     "body": body, "responses": responses or {200: "OK"},
                     "params": params or [], "operation_id": func.__name__})
        return func

    return wrap


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_body(required: bool = True) -> Any:
    """The request's JSON, with numbers as Decimal (never float). 415 when the body is not
    declared JSON, 400 when it is not valid JSON."""
    if (request.content_length or 0) > 0 and request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    raw = request.get_data(cache=True)
    if not raw:
        if required:
            raise BadRequest("a JSON body is required", code="malformed_json")
        return None
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    if b"\\u0000" in raw:
        raise BadRequest("text must not contain NUL characters", code="malformed_json")
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=Decimal,
                          parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="malformed_json") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply", code="malformed_json") from None
    if b"\\ud" in raw.lower():
        _refuse_lone_surrogates(data)
    return data


def _refuse_lone_surrogates(data: Any) -> None:
    """A lone UTF-16 surrogate (\\ud800) parses as JSON but cannot be stored as UTF-8."""
    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("the body contains an unpaired UTF-16 surrogate",
                         code="malformed_json") from None


def json_object() -> dict[str, Any]:
    data = json_body()
    if not isinstance(data, dict):
        from app_platform.errors import Unprocessable

        raise Unprocessable("the body must be a JSON object")
    return data


def page_args(default: int = 50, high: int = 500) -> tuple[int, int]:
    def number(name: str, fallback: int) -> int:
        raw = request.args.get(name)
        if raw is None:
            return fallback
        value = whole_number(raw)
        if value is None:
            raise BadRequest(f"{name} must be a non-negative whole number", code="invalid_query")
        return value

    limit, offset = number("limit", default), number("offset", 0)
    if not 1 <= limit <= high:
        raise BadRequest(f"limit must be between 1 and {high}", code="invalid_query")
    return limit, offset


def if_match() -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    raw = raw.strip().strip('"').removeprefix("W/").strip('"')
    value = whole_number(raw)
    if value is None:
        raise BadRequest("If-Match must carry the record's version number")
    return value


def flag(name: str) -> bool:
    return request.args.get(name, "").lower() in ("1", "true", "yes")
