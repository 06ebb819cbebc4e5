"""Declarative base and mixins shared by the platform's own tables."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: sa.DateTime(timezone=True), dict: sa.JSON,
                           list: sa.JSON}


class Timestamps:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VersionedDefinition:
    """A definition saved as a new row on every publish (processes, reports, dashboards,
    rules): one row per (app, key, version), none ever changed."""

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"),
                                        index=True)
    key: Mapped[str] = mapped_column(sa.String(63))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(200))
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime]

    @declared_attr.directive
    def __table_args__(cls) -> tuple:  # noqa: N805 - SQLAlchemy passes the class
        return (sa.UniqueConstraint("app_id", "key", "version",
                                    name=f"uq_{cls.__tablename__}_app_key_version"),)
