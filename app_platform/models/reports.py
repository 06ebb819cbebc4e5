"""Report and dashboard definitions, one row per saved version.

Why versions instead of updates: a dashboard that someone is looking at, or a bundle
exported last week, names a report by key; keeping every version lets a bad edit be
inspected and rolled back, and makes concurrent edits detectable (PUT names the version
it edited, 409 when another save came first).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app_platform.models.base import ID, Base


class ReportDefinition(Base):
    """A report definition (the engine's JSON shape) as saved at one version."""

    __tablename__ = "report_definitions"
    __table_args__ = (sa.UniqueConstraint("app_id", "key", "version",
                                          name="uq_report_definitions_app_key_version"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"),
                                        index=True)
    key: Mapped[str] = mapped_column(sa.String(63))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(200))
    entity_key: Mapped[str] = mapped_column(sa.String(63))
    definition: Mapped[dict]
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime]


class DashboardDefinition(Base):
    """A dashboard (grid of report keys, global filters, refresh) at one version."""

    __tablename__ = "dashboard_definitions"
    __table_args__ = (sa.UniqueConstraint("app_id", "key", "version",
                                          name="uq_dashboard_definitions_app_key_version"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"),
                                        index=True)
    key: Mapped[str] = mapped_column(sa.String(63))
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(200))
    definition: Mapped[dict]
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime]
