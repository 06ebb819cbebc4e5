"""Apps and their entity definitions (versioned on every publish)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app_platform.models.base import ID, Base, Timestamps

GRANT_LEVELS = ("use", "design", "manage")


class App(Timestamps, Base):
    __tablename__ = "apps"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(63), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    version: Mapped[str] = mapped_column(sa.String(32), default="1.0.0")
    installed_from: Mapped[str | None] = mapped_column(sa.String(100))
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    grants: Mapped[list[AppGrant]] = relationship(
        back_populates="app", cascade="all, delete-orphan", lazy="selectin")


class AppGrant(Base):
    """What a role may do in an app: use (records), design (definitions), manage (grants)."""

    __tablename__ = "app_grants"
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"),
                                        primary_key=True)
    role_key: Mapped[str] = mapped_column(sa.String(64), sa.ForeignKey("roles.key",
                                          ondelete="CASCADE"), primary_key=True)
    level: Mapped[str] = mapped_column(sa.String(16))
    app: Mapped[App] = relationship(back_populates="grants")


class Entity(Timestamps, Base):
    __tablename__ = "entities"
    __table_args__ = (sa.UniqueConstraint("app_id", "key", name="uq_entities_app_key"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"),
                                        index=True)
    key: Mapped[str] = mapped_column(sa.String(63))
    label: Mapped[str] = mapped_column(sa.String(200))
    table_name: Mapped[str] = mapped_column(sa.String(63), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    definition: Mapped[dict]
    updated_by: Mapped[str | None] = mapped_column(sa.String(64))
    app: Mapped[App] = relationship(lazy="joined")


class EntityVersion(Base):
    __tablename__ = "entity_versions"
    __table_args__ = (sa.UniqueConstraint("entity_id", "version",
                                          name="uq_entity_versions_entity_version"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("entities.id",
                                           ondelete="CASCADE"), index=True)
    version: Mapped[int]
    definition: Mapped[dict]
    plan: Mapped[dict]
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
