"""Entity definition -> SQLAlchemy Table: the real table behind every form."""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa

from engines.form.types import field_type

MAX_IDENTIFIER = 63  # PostgreSQL's limit; SQLite has none

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: rowid alias


def short_name(*parts: str, prefix: str = "") -> str:
    """A readable identifier that fits PostgreSQL's 63 bytes (hash-suffixed when cut)."""
    name = prefix + "__".join(parts)
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:MAX_IDENTIFIER - 9]}_{digest}"


def table_name(app_key: str, entity_key: str) -> str:
    return short_name(app_key, entity_key, prefix="x_")


def index_name(table: str, column: str, unique: bool = False) -> str:
    return short_name(table, column, prefix="uq_" if unique else "ix_")


def field_indexes(field: dict[str, Any]) -> list[tuple[str, bool]]:
    """(column, unique) pairs the field wants indexed."""
    kind = field["type"]
    if kind in ("subtable", "attachment", "multiselect", "textarea") or (
        kind == "relation" and field.get("many")
    ):
        return []
    if field.get("unique") or kind == "auto_number":
        return [(field["key"], True)]
    if field.get("indexed") or kind in ("relation", "card_number", "user"):
        return [(field["key"], False)]
    return []


def build_table(definition: dict[str, Any], name: str, metadata: sa.MetaData) -> sa.Table:
    """The table for ``definition``, including removed fields (their data stays)."""
    columns: list[sa.Column] = [
        sa.Column("id", ID_TYPE, primary_key=True, autoincrement=True),
        sa.Column("version", sa.Integer, nullable=False, default=1),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64)),
    ]
    indexes = [sa.Index(index_name(name, "created_at"), "created_at")]
    for field in definition["fields"]:
        columns += field_type(field["type"]).columns(field)
        for column, unique in field_indexes(field):
            indexes.append(sa.Index(index_name(name, column, unique), column, unique=unique))
    for column in columns:
        column.index = None  # indexes are named explicitly above
    return sa.Table(name, metadata, *columns, *indexes)
