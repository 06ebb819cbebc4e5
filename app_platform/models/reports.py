"""Report and dashboard definitions, one row per saved version.

Why versions instead of updates: a dashboard that someone is looking at, or a bundle
exported last week, names a report by key; keeping every version lets a bad edit be
inspected and rolled back, and makes concurrent edits detectable (PUT names the version
it edited, 409 when another save came first).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app_platform.models.base import Base, VersionedDefinition


class ReportDefinition(VersionedDefinition, Base):
    """A report definition (the engine's JSON shape) as saved at one version."""

    __tablename__ = "report_definitions"
    entity_key: Mapped[str] = mapped_column(sa.String(63))
    definition: Mapped[dict]


class DashboardDefinition(VersionedDefinition, Base):
    """A dashboard (grid of report keys, global filters, refresh) at one version."""

    __tablename__ = "dashboard_definitions"
    definition: Mapped[dict]
