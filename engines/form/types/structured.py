"""Field types whose value points elsewhere or holds rows: relation, subtable, attachment."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engines.form.errors import FieldProblem, Problem
from engines.form.types.base import FieldType, Parser, field_type, nullable, register

SUBTABLE_CHILD_TYPES = (
    "text", "textarea", "number", "money", "percent", "date", "datetime", "boolean",
    "select", "email", "phone", "url", "user", "relation",
)
MAX_ID = 2**63 - 1


def _record_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise FieldProblem("must be the id (a positive whole number) of a record")
    return value


@register
class Relation(FieldType):
    """A link to a record of another entity (``target``); ``many`` holds a list of ids.
    The platform checks the linked records exist on write and refuses deleting them while
    linked."""

    name = "relation"
    settings = {
        "target": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
        "many": {"type": "boolean"},
        "display_field": {"type": "string"},
    }

    def check_definition(self, field: dict[str, Any]) -> list[str]:
        return [] if field.get("target") else ["target: a relation needs a target entity"]

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.JSON(none_as_null=True) if field.get("many") else sa.BigInteger()

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        one = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        if field.get("many"):
            return {"type": "array", "items": one, "uniqueItems": True}
        return one

    def parser(self, field: dict[str, Any]) -> Parser:
        if not field.get("many"):
            return _record_id

        def parse_many(value: Any) -> list[int]:
            if not isinstance(value, list):
                raise FieldProblem("must be a list of record ids")
            ids = [_record_id(v) for v in value]
            if len(set(ids)) != len(ids):
                raise FieldProblem("lists a record twice")
            return ids

        return parse_many

    def filter_value(self, field: dict[str, Any], raw: str) -> Any:
        if not raw.isdigit():
            raise FieldProblem("must be a record id")
        return _record_id(int(raw))


@register
class Subtable(FieldType):
    """Line items: a list of rows, each with its own fields (``fields``). Stored as JSON in
    canonical form (money as decimal strings), validated row by row."""

    name = "subtable"
    sortable = False
    filter_ops = frozenset({"isnull"})
    settings = {
        "fields": {"type": "array", "items": {"type": "object"}, "minItems": 1},
        "min_rows": {"type": "integer", "minimum": 0},
        "max_rows": {"type": "integer", "minimum": 1, "maximum": 10_000},
    }

    def check_definition(self, field: dict[str, Any]) -> list[str]:
        problems = []
        seen: set[str] = set()
        for i, child in enumerate(field.get("fields", [])):
            kind = child.get("type")
            if kind not in SUBTABLE_CHILD_TYPES:
                problems.append(f"fields[{i}].type: {kind!r} cannot be used inside a subtable")
                continue
            key = child.get("key")
            if not isinstance(key, str) or key in seen:
                problems.append(f"fields[{i}].key: missing or duplicate key {key!r}")
            seen.add(key)
            if kind == "relation" and child.get("many"):
                problems.append(f"fields[{i}]: many-relations cannot be used inside a subtable")
            problems += [f"fields[{i}].{p}" for p in field_type(kind).check_definition(child)]
        return problems

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.JSON(none_as_null=True)

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        props = {c["key"]: field_type(c["type"]).json_schema(c) for c in field["fields"]}
        required = [c["key"] for c in field["fields"] if c.get("required")]
        row: dict[str, Any] = {
            "type": "object",
            "properties": {k: nullable(v) for k, v in props.items()},
            "additionalProperties": False,
        }
        if required:
            row["required"] = required
            for key in required:
                row["properties"][key] = props[key]
        schema: dict[str, Any] = {"type": "array", "items": row}
        if field.get("min_rows"):
            schema["minItems"] = field["min_rows"]
        schema["maxItems"] = field.get("max_rows", 1000)
        return schema

    def parser(self, field: dict[str, Any]) -> Parser:
        children = [
            (c["key"], field_type(c["type"]), field_type(c["type"]).parser(c), c)
            for c in field["fields"]
        ]
        known = {c["key"] for c in field["fields"]}
        required = [c["key"] for c in field["fields"] if c.get("required")]
        min_rows, max_rows = field.get("min_rows", 0), field.get("max_rows", 1000)

        def parse(value: Any) -> list[dict[str, Any]]:
            if not isinstance(value, list):
                raise FieldProblem("must be a list of rows")
            if len(value) < min_rows:
                raise FieldProblem(f"needs at least {min_rows} rows")
            if len(value) > max_rows:
                raise FieldProblem(f"allows at most {max_rows} rows")
            rows, problems = [], []
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    problems.append(Problem(f"[{i}]", "must be an object"))
                    continue
                problems += [Problem(f"[{i}].{k}", "is not a column of this subtable")
                             for k in item if k not in known]
                problems += [Problem(f"[{i}].{k}", "is required")
                             for k in required if item.get(k) is None]
                row: dict[str, Any] = {}
                for key, kind, parse_child, child in children:
                    raw = item.get(key)
                    if raw is None:
                        row[key] = None
                        continue
                    try:
                        row[key] = kind.to_json(child, parse_child(raw))
                    except FieldProblem as exc:
                        problems.append(Problem(f"[{i}].{key}", exc.message))
                rows.append(row)
            if problems:
                raise FieldProblem("has invalid rows", problems)
            return rows

        return parse


ATTACHMENT_ITEM = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
        "name": {"type": "string", "maxLength": 255},
        "size": {"type": "integer", "minimum": 0},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "content_type": {"type": "string", "maxLength": 255},
    },
    "required": ["id"],
    "additionalProperties": False,
}


@register
class Attachment(FieldType):
    """Files uploaded beforehand; the value lists their ids (the platform resolves name,
    size and sha256 from its upload store)."""

    name = "attachment"
    sortable = False
    filter_ops = frozenset({"isnull"})
    settings = {
        "max_files": {"type": "integer", "minimum": 1, "maximum": 100},
        "max_size_mb": {"type": "number", "minimum": 0},
        "accept": {"type": "array", "items": {"type": "string"}},
    }

    def column_type(self, field: dict[str, Any]) -> sa.types.TypeEngine:
        return sa.JSON(none_as_null=True)

    def json_schema(self, field: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": ATTACHMENT_ITEM, "maxItems": field.get("max_files", 20)}

    def parser(self, field: dict[str, Any]) -> Parser:
        import jsonschema

        checker = jsonschema.Draft202012Validator(self.json_schema(field))

        def parse(value: Any) -> list[dict[str, Any]]:
            error = next(iter(checker.iter_errors(value)), None)
            if error is not None:
                where = "".join(f"[{p}]" for p in error.absolute_path)
                raise FieldProblem(f"{where} {error.message}".strip())
            return value

        return parse
