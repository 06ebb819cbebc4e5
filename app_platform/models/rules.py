"""Rules: versioned definitions, the event outbox, the run log with per-action idempotency,
and what actions leave behind (in-app notifications, mails, rule tasks).

Why an outbox table for events: a record write and the event it raises commit together,
so a process that dies right after the commit loses nothing; the dispatcher (inline after
the commit, or the scheduler's sweep) picks pending rows up. Why one row per action run
keyed by rule+version+event+action index: the unique key makes "run this side effect"
and "remember that it ran" one transaction, so a retried event never does it twice.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app_platform.models.base import ID, Base, VersionedDefinition

EVENT_STATES = ("pending", "done", "failed")
RUN_STATES = ("ok", "error", "blocked", "skipped")


class RuleDefinition(VersionedDefinition, Base):
    """One saved version of a rule (every POST/PUT adds a row; enable/disable too)."""

    __tablename__ = "rule_definitions"
    trigger_type: Mapped[str] = mapped_column(sa.String(32))
    enabled: Mapped[bool] = mapped_column(default=True)
    sync: Mapped[bool] = mapped_column(default=False)
    definition: Mapped[dict]


class RuleAppState(Base):
    """Per app: a random revision token changed on every rule save/delete; web processes
    compare it with theirs to reload compiled rules (ids restart, tokens do not)."""

    __tablename__ = "rule_app_state"
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"),
                                        primary_key=True)
    revision: Mapped[str] = mapped_column(sa.String(32))
    updated_at: Mapped[dt.datetime]


class RuleEvent(Base):
    """An event waiting for (or done with) asynchronous rule matching."""

    __tablename__ = "rule_events"
    __table_args__ = (sa.UniqueConstraint("app_id", "ref", name="uq_rule_events_app_ref"),
                      sa.Index("ix_rule_events_status", "status", "id"))
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(sa.String(200))
    trigger: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(63))  # entity key or event type
    record_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    payload: Mapped[dict]  # {"data", "old"?, "ts"}
    depth: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime]
    processed_at: Mapped[dt.datetime | None]


class RuleRun(Base):
    """The run log: one row per rule that fired (or failed to be decided) for one event,
    with which conditions held and what each action did."""

    __tablename__ = "rule_runs"
    __table_args__ = (
        sa.UniqueConstraint("app_id", "rule_key", "rule_version", "event_ref",
                            name="uq_rule_runs_app_rule_key"),
        sa.Index("ix_rule_runs_rule", "app_id", "rule_key", "id"),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"))
    rule_key: Mapped[str] = mapped_column(sa.String(63))
    rule_version: Mapped[int]
    event_id: Mapped[int | None] = mapped_column(ID)
    event_ref: Mapped[str] = mapped_column(sa.String(200))
    trigger: Mapped[str] = mapped_column(sa.String(32))
    entity_key: Mapped[str | None] = mapped_column(sa.String(63))
    record_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16))
    conditions: Mapped[list]
    actions: Mapped[list]
    error: Mapped[str | None] = mapped_column(sa.Text)
    depth: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(index=True)


class RuleActionRun(Base):
    """One executed action; ``idempotency_key`` (rule:version:event:index) is unique."""

    __tablename__ = "rule_action_runs"
    __table_args__ = (sa.Index("ix_rule_action_runs_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(300), unique=True)
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ID)
    action_type: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16))  # done | pending | failed
    result: Mapped[dict]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


class Notification(Base):
    """The in-app inbox of notices (rule notify actions, rule tasks)."""

    __tablename__ = "notifications"
    __table_args__ = (sa.Index("ix_notifications_user", "username", "id"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    app_id: Mapped[int | None] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(sa.String(64))
    message: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str | None] = mapped_column(sa.String(500))
    source: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[dt.datetime]
    read_at: Mapped[dt.datetime | None]


class MailMessage(Base):
    """Outgoing mail: sent through SMTP, or only kept here when MAIL_OUTBOX is on."""

    __tablename__ = "mail_outbox"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16))  # outbox | sent | failed
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime]


class RuleTask(Base):
    """A to-do created by a rule for a user or every member of a role (flow inbox tasks
    need a process instance, which a rule does not have)."""

    __tablename__ = "rule_tasks"
    __table_args__ = (sa.Index("ix_rule_tasks_assignee", "assignee_kind", "assignee", "state"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(500))
    assignee_kind: Mapped[str] = mapped_column(sa.String(8))  # user | role
    assignee: Mapped[str] = mapped_column(sa.String(64))
    entity_key: Mapped[str | None] = mapped_column(sa.String(63))
    record_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    rule_key: Mapped[str] = mapped_column(sa.String(63))
    state: Mapped[str] = mapped_column(sa.String(16), default="open")  # open | done
    due_at: Mapped[dt.datetime | None]
    completed_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime | None]


class RuleSchedule(Base):
    """When a scheduled rule last fired: a run missed while no scheduler was up is
    caught up once (coalesced) on the next start."""

    __tablename__ = "rule_schedules"
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"),
                                        primary_key=True)
    rule_key: Mapped[str] = mapped_column(sa.String(63), primary_key=True)
    last_fire_at: Mapped[dt.datetime | None]
