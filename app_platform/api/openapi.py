"""The OpenAPI 3.1 document, generated from the registered endpoints plus, for a logged-in
caller, one set of record paths per entity with that entity's JSON Schema."""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify, render_template

from app_platform.api import bp
from app_platform.api.common import SPEC
from app_platform.auth.identity import current_caller
from app_platform.auth.permissions import app_level, field_access
from app_platform.extensions import db
from app_platform.models import App, Entity
from engines.form import output_schema, record_schema

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
            "details": {"type": "array", "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}},
        },
    }},
}
ERROR_CODES = {400: "Malformed request", 401: "Not authenticated", 403: "Forbidden",
               404: "Not found", 409: "Conflict", 413: "Too large",
               415: "Unsupported media type", 422: "Invalid"}


def _operation(entry: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": entry["operation_id"],
        "summary": entry["summary"],
        "tags": [entry["tag"]],
        "responses": {},
    }
    for status, text in sorted(entry["responses"].items()):
        response: dict[str, Any] = {"description": text}
        if status != 204:
            response["content"] = {"application/json": {"schema": {}}}
        op["responses"][str(status)] = response
    for status, text in ERROR_CODES.items():
        op["responses"].setdefault(str(status), {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        })
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
              for n in re.findall(r"{(\w+)}", entry["path"])]
    params += [{**p, "schema": {"type": "string"}} for p in entry["params"]]
    if params:
        op["parameters"] = params
    if entry["body"] is not None:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": entry["body"]}}}
    if entry["path"] != "/auth/login":
        op["security"] = [{"bearer": []}]
    return op


def _entity_paths(app: App, entity: Entity, hidden: set[str]) -> dict[str, Any]:
    name = f"{app.key}.{entity.key}"
    definition = dict(entity.definition)
    definition["fields"] = [f for f in definition["fields"] if f["key"] not in hidden]
    ref = {"$ref": f"#/components/schemas/{name}"}
    base = f"/apps/{app.key}/entities/{entity.key}/records"
    listing = {"type": "object", "properties": {
        "items": {"type": "array", "items": ref}, "total": {"type": "integer"},
        "next_cursor": {"type": ["string", "null"]}}}
    tag = f"records: {app.key}"

    def ok(schema: Any) -> dict[str, Any]:
        return {"description": "OK", "content": {"application/json": {"schema": schema}}}

    body = {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{name}.input"}}}}
    return {
        "schemas": {name: output_schema(definition),
                    f"{name}.input": _strip_meta(record_schema(definition))},
        "paths": {
            base: {
                "get": {"summary": f"List {entity.label}", "tags": [tag],
                        "security": [{"bearer": []}], "responses": {"200": ok(listing)}},
                "post": {"summary": f"Create {entity.label}", "tags": [tag],
                         "security": [{"bearer": []}], "requestBody": body,
                         "responses": {"201": ok(ref)}},
            },
            base + "/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "integer"}}],
                "get": {"summary": f"One {entity.label}", "tags": [tag],
                        "security": [{"bearer": []}], "responses": {"200": ok(ref)}},
            },
        },
    }


def _strip_meta(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "$schema"}


def build_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for entry in SPEC:
        paths.setdefault(entry["path"], {})[entry["method"]] = _operation(entry)
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    caller = current_caller(optional=True)
    if caller is not None:
        for app in db.session.query(App).order_by(App.key):
            if not app_level(caller.roles, caller.is_admin, app):
                continue
            for entity in db.session.query(Entity).filter_by(app_id=app.id).order_by(
                    Entity.key):
                hidden, _ = field_access(caller.roles, caller.is_admin, entity.definition)
                part = _entity_paths(app, entity, hidden)
                schemas.update(part["schemas"])
                paths.update(part["paths"])
    return {
        "openapi": "3.1.0",
        "info": {"title": "Loom API", "version": "1.0.0",
                 "description": "Generic record API and platform resources. Errors use one "
                                "envelope: {\"error\": {code, message, details}}."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(build_spec())


def docs_page():
    """/api/docs: Swagger UI served from local assets (no CDN)."""
    return render_template("api_docs.html")
