"""Entity definitions: checking them, and the JSON Schema each one publishes."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

import jsonschema

from engines.form.errors import DefinitionError, Problem
from engines.form.types import field_type, has_field_type
from engines.form.types.base import nullable

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
SYSTEM_COLUMNS = ("id", "version", "created_at", "created_by", "updated_at", "updated_by")
RESERVED_KEYS = frozenset(SYSTEM_COLUMNS)
MAX_FIELDS = 300

PERMISSION_SCHEMA = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "create": {"type": "boolean"},
            "read": {"enum": ["all", "own", False]},
            "update": {"enum": ["all", "own", False]},
            "delete": {"enum": ["all", "own", False]},
        },
        "additionalProperties": False,
    },
}

ENTITY_SCHEMA = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "label": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 4000},
        "fields": {"type": "array", "items": {"type": "object"}, "maxItems": MAX_FIELDS},
        "title_field": {"type": "string"},
        "layout": {"type": "object"},
        "permissions": PERMISSION_SCHEMA,
        "version": {"type": "integer"},
    },
    "required": ["key", "fields"],
    "additionalProperties": False,
}


def live_fields(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Fields that are part of the form now (removed fields keep their column only)."""
    return [f for f in definition["fields"] if not f.get("removed")]


def check_definition(
    definition: Any, known_entities: Iterable[str] | None = None
) -> dict[str, Any]:
    """Return a normalized copy of ``definition`` or raise DefinitionError listing every
    problem with its path. ``known_entities`` are the keys relations may target (the
    entity's own key is always allowed)."""
    problems: list[Problem] = []
    if not isinstance(definition, dict):
        raise DefinitionError("an entity definition must be a JSON object")
    for error in jsonschema.Draft202012Validator(ENTITY_SCHEMA).iter_errors(definition):
        problems.append(Problem(_path(error.absolute_path), error.message))
    if problems:
        raise DefinitionError("the entity definition is invalid", problems)

    result = copy.deepcopy(definition)
    key = result["key"]
    if not KEY_RE.match(key) or "__" in key:
        problems.append(Problem("key", "must match [a-z][a-z0-9_]{0,62} without '__'"))
    targets = set(known_entities or ()) | {key}
    seen: dict[str, int] = {}
    for i, field in enumerate(result["fields"]):
        problems += _check_field(field, f"fields[{i}]", targets)
        fkey = field.get("key")
        if isinstance(fkey, str):
            if fkey in seen:
                problems.append(Problem(f"fields[{i}].key", f"duplicate key {fkey!r} "
                                        f"(also fields[{seen[fkey]}])"))
            seen[fkey] = i
    live = {f.get("key") for f in result["fields"] if not f.get("removed")}
    title = result.get("title_field")
    if title is not None and title not in live:
        problems.append(Problem("title_field", f"{title!r} is not a field of this entity"))
    if problems:
        raise DefinitionError("the entity definition is invalid", problems)
    problems += _check_formulas(result)
    if problems:
        raise DefinitionError("the entity definition is invalid", problems)
    result.setdefault("label", key)
    return result


def _check_formulas(definition: dict[str, Any]) -> list[Problem]:
    """Compile every formula and condition (syntax, names, types, cycles) and record each
    formula field's result type, which decides its column type."""
    from engines.form.formula import FormulaError, compile_entity_formulas

    try:
        compiled = compile_entity_formulas(definition["fields"])
    except FormulaError as exc:
        return [Problem(exc.path or "fields", exc.message)]
    problems = []
    for i, fdef in enumerate(definition["fields"]):
        if fdef["type"] != "formula" or fdef.get("removed"):
            continue
        actual = compiled.result_types.get(fdef["key"], "text")
        actual = "text" if actual == "null" else actual
        declared = fdef.get("result_type")
        if declared is not None and declared != actual:
            problems.append(Problem(f"fields[{i}].result_type",
                                    f"the formula gives {actual}, not {declared}"))
        fdef["result_type"] = actual
    return problems


def _check_field(field: dict[str, Any], path: str, targets: set[str]) -> list[Problem]:
    kind = field.get("type")
    if not isinstance(kind, str) or not has_field_type(kind):
        return [Problem(f"{path}.type", f"unknown field type {kind!r}")]
    problems = []
    key = field.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key) or "__" in key:
        problems.append(Problem(f"{path}.key", "must match [a-z][a-z0-9_]{0,62} without '__'"))
    elif key in RESERVED_KEYS:
        problems.append(Problem(f"{path}.key", f"{key!r} is reserved"))
    ftype = field_type(kind)
    validator = jsonschema.Draft202012Validator(ftype.settings_schema())
    for error in validator.iter_errors(field):
        problems.append(Problem(f"{path}{_path(error.absolute_path, lead='.')}", error.message))
    if problems:
        return problems
    problems += [Problem(f"{path}.{msg.split(':')[0]}", msg) for msg in
                 ftype.check_definition(field)]
    if kind == "relation" and field.get("target") not in targets:
        problems.append(Problem(f"{path}.target", f"no entity {field.get('target')!r}"))
    if kind == "subtable":
        for j, child in enumerate(field.get("fields", [])):
            if child.get("type") == "relation" and child.get("target") not in targets:
                problems.append(Problem(f"{path}.fields[{j}].target",
                                        f"no entity {child.get('target')!r}"))
    if "default" in field and field["default"] is not None and not ftype.computed:
        try:
            ftype.parser(field)(field["default"])
        except Exception as exc:  # noqa: BLE001 - any parse failure is a definition problem
            problems.append(Problem(f"{path}.default", f"invalid default: {exc}"))
    return problems


def _path(parts: Iterable[Any], lead: str = "") -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    text = text.lstrip(".")
    if not text:
        return lead.rstrip(".") if lead else ""
    return f"{lead}{text}" if lead and not text.startswith("[") else text


def record_schema(definition: dict[str, Any], *, for_update: bool = False) -> dict[str, Any]:
    """The record's JSON Schema (draft 2020-12) as published in OpenAPI and used as the
    reference for the fast validator. ``for_update`` drops ``required`` (PATCH)."""
    props: dict[str, Any] = {}
    required = []
    for field in live_fields(definition):
        ftype = field_type(field["type"])
        fragment = dict(ftype.json_schema(field))
        if field.get("label"):
            fragment["title"] = field["label"]
        if field.get("help"):
            fragment["description"] = field["help"]
        if ftype.computed:
            continue  # computed fields are not input; writing one is an error
        if field.get("required"):
            # PATCH may leave a required field out, but may not empty it
            if not for_update:
                required.append(field["key"])
            props[field["key"]] = fragment
        else:
            props[field["key"]] = nullable(fragment)
    if for_update:
        props["version"] = {"type": "integer", "minimum": 1}
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": definition.get("label", definition["key"]),
        "type": "object",
        "properties": props,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def output_schema(definition: dict[str, Any]) -> dict[str, Any]:
    """What a record looks like in responses: every live field plus the system fields."""
    props: dict[str, Any] = {
        "id": {"type": "integer", "readOnly": True},
        "version": {"type": "integer", "readOnly": True},
        "created_at": {"type": "string", "format": "date-time", "readOnly": True},
        "created_by": {"type": ["string", "null"], "readOnly": True},
        "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
        "updated_by": {"type": ["string", "null"], "readOnly": True},
    }
    for field in live_fields(definition):
        ftype = field_type(field["type"])
        if field["type"] == "card_number":
            fragment: dict[str, Any] = {
                "type": "object",
                "properties": {k: {"type": "string"} for k in ("token", "last4", "brand",
                                                                 "masked")},
            }
        elif ftype.computed:
            fragment = {"readOnly": True}
        else:
            fragment = dict(ftype.json_schema(field))
        if field.get("label"):
            fragment["title"] = field["label"]
        props[field["key"]] = fragment
    return {"type": "object", "title": definition.get("label", definition["key"]),
            "properties": props}
