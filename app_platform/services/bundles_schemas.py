"""The JSON Schema of every file kind an app bundle may hold, published for bundle authors.

Why one module: ``validate_bundle`` checks each file's shape against exactly the schema
served at ``GET /api/v1/bundle-schemas`` (and written to docs/bundle-schemas/), so the
published contract and the importer cannot drift apart. The meaning of a file (does the
report's field exist, does the flow compile) is checked by the owning engine afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app_platform.models import GRANT_LEVELS
from app_platform.services.dashboards import DASHBOARD_SCHEMA
from engines.flow.designer_registry import designer_schema
from engines.form import field_types
from engines.form.definition import ENTITY_SCHEMA
from engines.report.schema import report_definition_schema
from engines.rule.schema import RULE_SCHEMA

DRAFT = "https://json-schema.org/draft/2020-12/schema"
KEY = {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}

MANIFEST_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Loom bundle manifest (app.json)",
    "type": "object",
    "required": ["key", "name"],
    "additionalProperties": False,
    "properties": {
        "key": KEY,
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "version": {"type": "string", "pattern": r"^\d+(\.\d+){0,3}$"},
        "description": {"type": "string", "maxLength": 4000},
        "requires": {"type": "object", "additionalProperties": {"type": "string"},
                     "description": "platform features and their minimum version"},
        "entities": {"type": "array", "items": KEY, "uniqueItems": True,
                     "description": "creation order (relations point backwards or to self)"},
    },
}

FLOW_FILE_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Loom bundle flow (flows/<key>.json)",
    "description": "An approval-designer flow (nodes) or a pointer to flows/<key>.bpmn.",
    "type": "object",
    "required": ["key", "name", "entity"],
    "additionalProperties": False,
    "properties": {
        "key": KEY,
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "entity": KEY,
        "nodes": designer_schema()["properties"]["nodes"],
        "bpmn_file": {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,62}\.bpmn$"},
    },
    "oneOf": [{"required": ["nodes"]}, {"required": ["bpmn_file"]}],
    "$defs": designer_schema()["$defs"],
}

GRANTS_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Loom bundle roles and grants (grants.json)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "roles": {"type": "array", "items": {
            "type": "object", "required": ["key", "name"], "additionalProperties": False,
            "properties": {"key": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
                           "name": {"type": "string", "minLength": 1, "maxLength": 200}}}},
        "grants": {"type": "object", "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,63}$"},
                   "additionalProperties": {"enum": list(GRANT_LEVELS)}},
    },
}

SEED_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Loom bundle sample records (seed/<entity>.json)",
    "description": 'Records of one entity; {"$seed": n, "entity": key} links the n-th '
                   "(1-based) seeded record of an earlier entity.",
    "type": "array",
    "items": {"type": "object"},
}


def entity_file_schema() -> dict[str, Any]:
    """ENTITY_SCHEMA with each field checked against its own type's settings schema."""
    types = field_types()
    field = {"type": "object", "required": ["key", "type"],
             "properties": {"type": {"enum": sorted(types)}},
             "allOf": [{"if": {"properties": {"type": {"const": name}}},
                        "then": ftype.settings_schema()} for name, ftype in sorted(types.items())]}
    schema = json.loads(json.dumps(ENTITY_SCHEMA))
    schema["properties"]["fields"]["items"] = field
    schema["properties"].pop("version", None)
    return {"$schema": DRAFT, "title": "Loom bundle entity (entities/<key>.json)", **schema}


def bundle_schemas() -> dict[str, dict[str, Any]]:
    """{file kind: JSON Schema}; the kinds are the bundle's folders and top-level files."""
    rule = json.loads(json.dumps(RULE_SCHEMA))
    rule["title"] = "Loom bundle rule (rules/<key>.json)"
    rule["properties"]["event_fields"] = {
        "type": "object", "description": "payload fields of an event trigger: {key: type}",
        "additionalProperties": {"type": "string"}}
    report = {**report_definition_schema(), "title": "Loom bundle report (reports/<key>.json)"}
    dashboard = {"$schema": DRAFT, "title": "Loom bundle dashboard (dashboards/<key>.json)",
                 **DASHBOARD_SCHEMA}
    return {"app.json": MANIFEST_SCHEMA, "entities": entity_file_schema(),
            "flows": FLOW_FILE_SCHEMA, "rules": rule, "reports": report,
            "dashboards": dashboard, "grants.json": GRANTS_SCHEMA, "seed": SEED_SCHEMA}


def write_schema_docs(folder: Path) -> list[Path]:
    """Write one ``<kind>.schema.json`` per file kind (docs/bundle-schemas/)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, schema in bundle_schemas().items():
        path = folder / f"{kind.removesuffix('.json')}.schema.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", "utf-8")
        written.append(path)
    return written
