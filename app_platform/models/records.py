"""Tables that serve records: the audit trail, background jobs, auto-number counters."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app_platform.models.base import ID, Base


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_record", "app_key", "entity_key", "record_id"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    actor: Mapped[str | None] = mapped_column(sa.String(64))
    app_key: Mapped[str] = mapped_column(sa.String(63))
    entity_key: Mapped[str | None] = mapped_column(sa.String(63))
    record_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    action: Mapped[str] = mapped_column(sa.String(32))
    changes: Mapped[dict]
    source: Mapped[str] = mapped_column(sa.String(100), default="api")
    request_id: Mapped[str | None] = mapped_column(sa.String(64))


class Job(Base):
    """A long-running piece of work (imports) whose progress clients poll."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), default="queued")
    progress: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    imported: Mapped[int] = mapped_column(default=0)
    errors: Mapped[list] = mapped_column(default=list)
    params: Mapped[dict] = mapped_column(default=dict)
    result: Mapped[dict] = mapped_column(default=dict)
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]


class Counter(Base):
    """Gap-free sequences (auto-number fields): bumped in the record's own transaction."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)
