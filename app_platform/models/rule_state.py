"""The rule matcher's window state (counts/sums/sequences per key, pending absences) as a
JSON snapshot, so a restarted web process keeps counting where the last one stopped.

Why a text column, not JSON: the runtime compares the serialized snapshot with the last
one it wrote to skip unchanged saves, so it already holds the exact text to store.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app_platform.models.base import Base


class RuleStateSnapshot(Base):
    """One row per matcher scope (``windows`` for the web processes' shared pool state)."""

    __tablename__ = "rule_state"
    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    snapshot: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[dt.datetime]
