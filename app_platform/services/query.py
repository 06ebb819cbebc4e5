"""Record list queries: the API's filter, sort, search, field-selection and paging
parameters turned into one SQL statement. Unknown fields, operators or sort keys are a 400
naming the parameter; values are parsed by the field's own type."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app_platform.errors import BadRequest
from app_platform.params import MAX_INT, whole_number
from engines.form import field_type, live_fields
from engines.form.errors import FieldProblem
from engines.form.types.values import parse_datetime

RESERVED = frozenset({"limit", "offset", "cursor", "sort", "fields", "q", "count"})
OPERATORS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "isnull"})
SYSTEM = {
    "id": ("number", frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in"})),
    "version": ("number", frozenset({"eq", "ne", "gt", "gte", "lt", "lte"})),
    "created_at": ("datetime", frozenset({"gt", "gte", "lt", "lte"})),
    "updated_at": ("datetime", frozenset({"gt", "gte", "lt", "lte"})),
    "created_by": ("user", frozenset({"eq", "ne", "in", "isnull"})),
    "updated_by": ("user", frozenset({"eq", "ne", "in", "isnull"})),
}
SEARCHABLE = ("text", "textarea", "email", "phone", "auto_number", "select", "url")
MAX_IN = 500


@dataclass
class ListQuery:
    where: list[Any] = field(default_factory=list)
    order_by: list[Any] = field(default_factory=list)
    limit: int = 50
    offset: int = 0
    after_id: int | None = None
    fields: list[str] | None = None
    keyset: bool = False
    exact_count: bool = False


def _bad(param: str, message: str) -> BadRequest:
    return BadRequest(f"{param}: {message}", [{"path": param, "message": message}],
                      code="invalid_query")


def _int_param(args: Mapping[str, str], name: str, default: int, high: int | None) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    value = whole_number(raw)
    if value is None:
        raise _bad(name, "must be a non-negative whole number")
    if high is not None and value > high:
        raise _bad(name, f"must be at most {high}")
    return value


def parse_list_args(args: Mapping[str, str], getlist: Any, table: sa.Table,
                    definition: dict[str, Any], hidden: set[str], *, default_limit: int,
                    max_limit: int) -> ListQuery:
    fields = {f["key"]: f for f in live_fields(definition) if f["key"] not in hidden}
    query = ListQuery(limit=_int_param(args, "limit", default_limit, max_limit),
                      offset=_int_param(args, "offset", 0, None))
    if query.limit == 0:
        raise _bad("limit", "must be at least 1")
    count = args.get("count", "capped")
    if count not in ("capped", "exact"):
        raise _bad("count", "must be 'exact' or 'capped'")
    query.exact_count = count == "exact"
    for name in args:
        if name in RESERVED:
            continue
        key, sep, op = name.partition("__")
        op = op if sep else "eq"
        for raw in getlist(name):
            query.where.append(_condition(table, fields, name, key, op, raw))
    search = args.get("q")
    if search:
        columns = [table.c[k] for k, f in fields.items() if f["type"] in SEARCHABLE]
        if not columns:
            raise _bad("q", "this entity has no searchable text fields")
        pattern = "%" + _escape_like(search) + "%"
        query.where.append(sa.or_(*[c.ilike(pattern, escape="\\") for c in columns]))
    query.order_by, query.keyset = _sort(table, fields, args.get("sort", ""))
    cursor = args.get("cursor")
    if cursor:
        query.offset, query.after_id = _decode_cursor(cursor, query.keyset)
    if args.get("fields"):
        wanted = [f.strip() for f in args["fields"].split(",") if f.strip()]
        unknown = [f for f in wanted if f not in fields and f not in SYSTEM]
        if unknown:
            raise _bad("fields", f"unknown fields: {', '.join(unknown)}")
        query.fields = wanted
    return query


def _condition(table: sa.Table, fields: dict[str, dict[str, Any]], name: str, key: str,
               op: str, raw: str) -> Any:
    if op not in OPERATORS:
        raise _bad(name, f"unknown operator {op!r}; use one of {', '.join(sorted(OPERATORS))}")
    if key in SYSTEM:
        kind, allowed = SYSTEM[key]
        fdef = {"key": key, "type": kind}
    elif key in fields:
        fdef = fields[key]
        allowed = field_type(fdef["type"]).filter_ops
    else:
        raise _bad(name, f"unknown field {key!r}")
    if op not in allowed:
        raise _bad(name, f"operator {op!r} does not apply to a {fdef['type']} field")
    column = table.c[key]
    if op == "isnull":
        if raw.lower() not in ("true", "false"):
            raise _bad(name, "must be true or false")
        return column.is_(None) if raw.lower() == "true" else column.is_not(None)
    if op == "in":
        values = [_value(fdef, name, v) for v in raw.split(",")]
        if len(values) > MAX_IN:
            raise _bad(name, f"at most {MAX_IN} values")
        return column.in_(values)
    if op == "contains":
        if fdef["type"] == "multiselect":
            return _json_array_contains(table, column, _value(fdef, name, raw))
        return column.ilike("%" + _escape_like(raw) + "%", escape="\\")
    value = _value(fdef, name, raw)
    return {"eq": column.__eq__, "ne": column.__ne__, "gt": column.__gt__,
            "gte": column.__ge__, "lt": column.__lt__, "lte": column.__le__}[op](value)


def _value(fdef: dict[str, Any], name: str, raw: str) -> Any:
    if len(raw) > 1000:
        raise _bad(name, "value is too long")
    try:
        if fdef["type"] == "number" and fdef["key"] in SYSTEM:
            number = whole_number(raw)
            if number is None:
                raise FieldProblem("must be a whole number in range")
            return number
        if fdef["type"] == "datetime" and fdef["key"] in SYSTEM:
            return parse_datetime(raw)
        if fdef["type"] == "user" and fdef["key"] in SYSTEM:
            return raw
        value = field_type(fdef["type"]).filter_value(fdef, raw)
    except FieldProblem as exc:
        raise _bad(name, f"{raw!r} {exc.message}") from None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise _bad(name, f"{raw!r} is out of range")
    return value


def _json_array_contains(table: sa.Table, column: Any, value: str) -> Any:
    """multiselect contains: JSON array membership, per dialect (set at query time)."""
    return _JsonContains(column, value)


class _JsonContains(sa.sql.expression.ColumnElement):
    inherit_cache = False
    type = sa.Boolean()

    def __init__(self, column: Any, value: str):
        self.column, self.value = column, value


@sa.ext.compiler.compiles(_JsonContains, "postgresql")
def _pg_contains(element: _JsonContains, compiler: Any, **kw: Any) -> str:
    expr = sa.cast(element.column, sa.dialects.postgresql.JSONB).op("@>")(
        sa.cast(sa.literal(json.dumps([element.value])), sa.dialects.postgresql.JSONB))
    return compiler.process(expr, **kw)


@sa.ext.compiler.compiles(_JsonContains)
def _sqlite_contains(element: _JsonContains, compiler: Any, **kw: Any) -> str:
    each = sa.func.json_each(element.column).table_valued("value")
    expr = sa.exists(sa.select(sa.literal(1)).select_from(each).where(
        each.c.value == element.value))
    return compiler.process(expr, **kw)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sort(table: sa.Table, fields: dict[str, dict[str, Any]], raw: str) -> tuple[list[Any],
                                                                                  bool]:
    order: list[Any] = []
    seen = set()
    for part in [p.strip() for p in raw.split(",") if p.strip()]:
        desc = part.startswith("-")
        key = part.lstrip("-+")
        if key in seen:
            raise _bad("sort", f"{key!r} appears twice")
        seen.add(key)
        if key in SYSTEM:
            pass
        elif key not in fields:
            raise _bad("sort", f"unknown field {key!r}")
        elif not field_type(fields[key]["type"]).sortable:
            raise _bad("sort", f"{key!r} ({fields[key]['type']}) cannot be sorted")
        column = table.c[key]
        order.append(column.desc() if desc else column.asc())
    keyset = not order or order == [table.c.id.asc()]
    if "id" not in seen:
        order.append(table.c.id.asc())  # a stable order for paging: ties by id
    return order, keyset


def encode_cursor(offset: int, last_id: int | None, keyset: bool) -> str:
    payload = {"after": last_id} if keyset else {"offset": offset}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, keyset: bool) -> tuple[int, int | None]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise _bad("cursor", "is not a cursor this API issued") from None
    if not isinstance(payload, dict):
        raise _bad("cursor", "is not a cursor this API issued")
    if keyset and isinstance(payload.get("after"), int):
        return 0, payload["after"]
    if isinstance(payload.get("offset"), int) and payload["offset"] >= 0:
        return payload["offset"], None
    raise _bad("cursor", "does not match this sort order")
