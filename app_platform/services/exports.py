"""Exports of a filtered record list as CSV or XLSX.

Same filters, search and sort as the list endpoint (services/query.py), but no paging:
every matching row, read from a streaming cursor in chunks. Columns are the fields the
caller may see, headed by their labels; card numbers appear masked and nothing else of
them leaves. CSV is UTF-8 with a BOM (Excel then shows Chinese text right) and streams as
it is produced; XLSX is assembled by openpyxl's write-only mode in a temporary file (a zip
cannot be streamed before it is complete) and then sent in chunks.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app_platform.errors import BadRequest, Forbidden
from app_platform.services.query import parse_list_args
from app_platform.services.records import RecordService
from engines.form.io import cell_formatter, header_label, number_format
from engines.form.io_files import csv_chunks, write_xlsx

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
PAGING = ("limit", "offset", "cursor")
FETCH_ROWS = 1000


class _Args(dict):
    """Query args without paging and format, keeping the multi-value lookup."""

    def __init__(self, args: Mapping[str, str], getlist: Any):
        super().__init__((k, v) for k, v in args.items() if k not in PAGING + ("format",))
        self._getlist = getlist

    def getlist(self, key: str) -> list[str]:
        return self._getlist(key)


def export_plan(service: RecordService, args: Mapping[str, str], getlist: Any,
                fmt: str) -> tuple[sa.Select, list[dict[str, Any]]]:
    """The SELECT (filters, the caller's read scope, sort) and the exported fields."""
    if fmt not in FORMATS:
        raise BadRequest("format must be csv or xlsx", code="invalid_query")
    if not service.rights.read:
        raise Forbidden(f"you may not read {service.entity.key!r} records")
    clean = _Args(args, getlist)
    query = parse_list_args(clean, clean.getlist, service.table, service.definition,
                            service.hidden, default_limit=1, max_limit=1)
    where = list(query.where)
    if service.rights.read == "own":
        where.append(service.table.c.created_by == service.caller.username)
    fields = service.visible
    if query.fields:
        fields = [f for f in fields if f["key"] in query.fields]
    return sa.select(service.table).where(*where).order_by(*query.order_by), fields


def _rows(service: RecordService, stmt: sa.Select, fields: list[dict[str, Any]],
          native: bool) -> Iterator[list[Any]]:
    """Rows as cells, read on a connection of their own: Flask tears the request's session
    down before a streamed body is produced, so nothing here may use it (or its ORM
    objects)."""
    from app_platform.extensions import db

    formatters = [cell_formatter(f, native=native) for f in fields]
    keys = [f["key"] for f in fields]
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=FETCH_ROWS) \
            .execute(stmt)
        for row in result.mappings():
            record = service.to_json(row, keys)
            yield [record["id"]] + [fmt(record.get(k)) for fmt, k in zip(formatters, keys,
                                                                            strict=True)]


def export_records(service: RecordService, args: Mapping[str, str], getlist: Any,
                   fmt: str) -> tuple[Iterator[bytes], str, str]:
    """(body chunks, content type, file name). The chunks read the database lazily: the
    caller streams them inside the request context."""
    stmt, fields = export_plan(service, args, getlist, fmt)
    header = ["id"] + [header_label(f) for f in fields]
    name = f"{service.app.key}-{service.entity.key}.{fmt}"
    if fmt == "csv":
        return csv_chunks(header, _rows(service, stmt, fields, native=False)), FORMATS[fmt], \
            name
    return _xlsx_chunks(service, stmt, fields, header, service.entity.key), FORMATS[fmt], name


def _xlsx_chunks(service: RecordService, stmt: sa.Select, fields: list[dict[str, Any]],
                 header: list[str], title: str) -> Iterator[bytes]:
    formats = [None] + [number_format(f) for f in fields]
    directory = os.path.join(current_app.instance_path, "exports")
    os.makedirs(directory, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=directory, suffix=".xlsx", delete=False)
    handle.close()
    try:
        write_xlsx(handle.name, header, _rows(service, stmt, fields, native=True), formats,
                   title=title)
        with open(handle.name, "rb") as source:
            while chunk := source.read(1 << 16):
                yield chunk
    finally:
        os.unlink(handle.name)
