"""Approval flows: deployed definitions (spec stored once per content hash), running
instances, inbox tasks with their candidates, CC rows and the action history.

Why an inbox table next to the engine state: the engine's JSON state answers "what is
waiting" only after a restore; the inbox must answer "what may I do" for thousands of
users with one indexed query, and must record who acted, when, and what they changed.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app_platform.models.base import ID, Base, VersionedDefinition

INSTANCE_STATES = ("running", "completed", "rejected", "withdrawn", "errored")
TASK_STATES = ("open", "waiting", "done", "cancelled")  # waiting: a signer added before
SOURCE_KINDS = ("bpmn", "nodes")


class FlowSpec(Base):
    """A compiled SpiffWorkflow spec, once per content hash, shared by every version and
    every instance that uses it (an instance stores only its task tree)."""

    __tablename__ = "flow_specs"
    content_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    spec_json: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[dt.datetime]


class FlowDefinition(VersionedDefinition, Base):
    """One deployed version of a process; every POST/PUT adds a row, none is changed."""

    __tablename__ = "flow_definitions"
    entity_key: Mapped[str] = mapped_column(sa.String(63))
    source_kind: Mapped[str] = mapped_column(sa.String(8))
    source: Mapped[str] = mapped_column(sa.Text)  # the BPMN XML or the designer JSON
    bpmn_xml: Mapped[str] = mapped_column(sa.Text)  # what runs (compiled for nodes)
    process_id: Mapped[str] = mapped_column(sa.String(200))
    content_hash: Mapped[str] = mapped_column(sa.String(64),
                                              sa.ForeignKey("flow_specs.content_hash"))
    meta: Mapped[dict]  # user tasks, end outcomes, warnings (DeployedProcess minus spec)


class FlowInstance(Base):
    __tablename__ = "flow_instances"
    __table_args__ = (sa.Index("ix_flow_instances_record", "app_id", "entity_key",
                               "record_id"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    app_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("apps.id", ondelete="CASCADE"))
    definition_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("flow_definitions.id"),
                                               index=True)
    process_key: Mapped[str] = mapped_column(sa.String(63))
    process_version: Mapped[int]
    entity_key: Mapped[str] = mapped_column(sa.String(63))
    record_id: Mapped[int] = mapped_column(sa.BigInteger)
    state: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    error_element: Mapped[str | None] = mapped_column(sa.String(200))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    initiator: Mapped[str] = mapped_column(sa.String(64), index=True)
    priority: Mapped[int] = mapped_column(default=0)
    next_timer_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    lock_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]


class FlowTask(Base):
    """An inbox row: one READY user task of an instance, per (engine task, attempt), plus
    rows for signers added with 加签 (``signer_of`` points at the row they sign for)."""

    __tablename__ = "flow_tasks"
    __table_args__ = (
        sa.Index("ix_flow_tasks_assignee_state", "assignee", "state"),
        sa.Index("ix_flow_tasks_instance_state", "instance_id", "state"),
        sa.Index("ix_flow_tasks_completed_by", "completed_by", "completed_at"),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("flow_instances.id",
                                                               ondelete="CASCADE"))
    engine_task_id: Mapped[str] = mapped_column(sa.String(36))
    attempt: Mapped[int] = mapped_column(default=1)
    node_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(200))
    assignee: Mapped[str | None] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    signer_of: Mapped[int | None] = mapped_column(ID)
    signer_position: Mapped[str | None] = mapped_column(sa.String(8))  # before | after
    action: Mapped[str | None] = mapped_column(sa.String(16))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    due_at: Mapped[dt.datetime | None]
    priority: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))
    delegated_from: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    delegated_until: Mapped[dt.datetime | None]
    urge_count: Mapped[int] = mapped_column(default=0)
    field_permissions: Mapped[list]
    submit: Mapped[bool] = mapped_column(default=False)
    completed_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime | None]


class FlowTaskCandidate(Base):
    """Who may claim an unassigned task: a user or every member of a role."""

    __tablename__ = "flow_task_candidates"
    __table_args__ = (sa.Index("ix_flow_task_candidates_who", "kind", "value"),)
    task_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("flow_tasks.id",
                                                           ondelete="CASCADE"),
                                         primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)  # user | role
    value: Mapped[str] = mapped_column(sa.String(200), primary_key=True)


class FlowHistory(Base):
    """Every action on an instance: who, when, what, the comment and the data diff."""

    __tablename__ = "flow_history"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("flow_instances.id",
                                                               ondelete="CASCADE"),
                                             index=True)
    task_id: Mapped[int | None] = mapped_column(ID)
    node_id: Mapped[str | None] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(32))
    actor: Mapped[str | None] = mapped_column(sa.String(64))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    data_diff: Mapped[dict]
    detail: Mapped[dict]
    at: Mapped[dt.datetime]


class FlowCC(Base):
    """抄送: an instance shown to a user for information (no action expected)."""

    __tablename__ = "flow_cc"
    __table_args__ = (sa.Index("ix_flow_cc_username", "username", "created_at"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ID, sa.ForeignKey("flow_instances.id",
                                                               ondelete="CASCADE"),
                                             index=True)
    username: Mapped[str] = mapped_column(sa.String(64))
    node_id: Mapped[str | None] = mapped_column(sa.String(200))
    title: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime]
    read_at: Mapped[dt.datetime | None]
