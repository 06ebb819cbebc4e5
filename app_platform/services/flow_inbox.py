"""The caller's inbox: to do, done, started by me, CC'd to me; paged, with the counts the
navigation shows.

Why plain indexed queries over the inbox tables (not over engine state): the inbox is
the most frequent page of the product and must stay fast with 100,000 open tasks; each
view is one query on ``flow_tasks`` / ``flow_instances`` / ``flow_cc`` using an index.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import BadRequest
from app_platform.models import App
from app_platform.models.flows import FlowCC, FlowInstance, FlowTask, FlowTaskCandidate
from app_platform.services import rule_inbox
from app_platform.services.flow_instances import instance_summary
from app_platform.services.flow_runtime import iso
from app_platform.services.flow_tasks import candidates_of, task_json

VIEWS = ("todo", "done", "started", "cc")


def _todo_where(caller: Caller, now: dt.datetime) -> Any:
    """Open tasks the caller may act on, as a union of three index lookups (an OR over
    them would scan every open task): assigned to me (a delegation still live),
    delegated by me, or unclaimed and offered to me or one of my roles."""
    me = caller.username
    mine = sa.select(FlowTask.id).where(
        FlowTask.assignee == me, FlowTask.state == "open",
        sa.or_(FlowTask.delegated_from.is_(None), FlowTask.delegated_until.is_(None),
               FlowTask.delegated_until > now))
    delegated = sa.select(FlowTask.id).where(FlowTask.delegated_from == me,
                                             FlowTask.state == "open")
    offered = sa.select(FlowTaskCandidate.task_id).join(
        FlowTask, FlowTask.id == FlowTaskCandidate.task_id).where(sa.or_(
            sa.and_(FlowTaskCandidate.kind == "user", FlowTaskCandidate.value == me),
            sa.and_(FlowTaskCandidate.kind == "role",
                    FlowTaskCandidate.value.in_(sorted(caller.roles) or [""]))),
        FlowTask.assignee.is_(None), FlowTask.state == "open")
    # open rows exist only while their instance runs (they are cancelled when it ends)
    return FlowTask.id.in_(sa.union(mine, delegated, offered))


def _filters(app_key: str | None, process: str | None) -> list[Any]:
    """Filters on the instance (app, process) that every view accepts."""
    where: list[Any] = []
    if app_key:
        where.append(FlowInstance.app_id == sa.select(App.id).where(App.key == app_key)
                     .scalar_subquery())
    if process:
        where.append(FlowInstance.process_key == process)
    return where


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0)


def _task_queries(caller: Caller, view: str, now: dt.datetime) -> Any:
    """(statement over tasks only, order): instances are loaded for the page afterwards,
    so the planner drives from the task indexes, not from the instances."""
    base = sa.select(FlowTask)
    if view == "todo":
        return base.where(_todo_where(caller, now)), (FlowTask.priority.desc(),
                                                       FlowTask.id.desc())
    return base.where(FlowTask.completed_by == caller.username, FlowTask.state == "done"), \
        (FlowTask.completed_at.desc(), FlowTask.id.desc())


def counts(session: Session, caller: Caller, now: dt.datetime,
           known: dict[str, int] | None = None) -> dict[str, int]:
    """Badge counts per view; ``known`` carries counts the caller already has (the
    unfiltered view it just listed), so the same list is not counted twice."""
    me = caller.username
    known = known or {}
    todo, _ = _task_queries(caller, "todo", now)
    done, _ = _task_queries(caller, "done", now)
    return {
        "todo": known["todo"] if "todo" in known else
        _count(session, todo.with_only_columns(FlowTask.id))
        + rule_inbox.inbox_count(session, caller, "todo"),
        "done": known["done"] if "done" in known else
        _count(session, done.with_only_columns(FlowTask.id))
        + rule_inbox.inbox_count(session, caller, "done"),
        "started": _count(session, sa.select(FlowInstance.id).where(
            FlowInstance.initiator == me)),
        "cc": _count(session, sa.select(FlowCC.id).where(FlowCC.username == me)),
    }


def _rule_tasks(session: Session, caller: Caller, view: str, room: int, offset: int,
                app_key: str | None, process: str | None, q: str | None) -> list[Any]:
    """Rule tasks (second source) follow the flow tasks: a page shows flow tasks first and
    fills what room is left with rule tasks, ``offset`` counted past the flow tasks; a
    process filter excludes them (a rule task belongs to no process)."""
    if room <= 0 or process:
        return []
    return rule_inbox.inbox_items(session, caller, view, room, offset, app_key=app_key, q=q)


def inbox(session: Session, caller: Caller, view: str, limit: int, offset: int,
          now: dt.datetime, *, app_key: str | None = None, process: str | None = None,
          q: str | None = None) -> dict[str, Any]:
    if view not in VIEWS:
        raise BadRequest(f"view must be one of {', '.join(VIEWS)}", code="invalid_query")
    where = _filters(app_key, process)
    if view in ("todo", "done"):
        stmt, order = _task_queries(caller, view, now)
        if where:
            stmt = stmt.where(FlowTask.instance_id.in_(sa.select(FlowInstance.id).where(*where)))
        if q:
            stmt = stmt.where(FlowTask.name.contains(q, autoescape=True))
        total = _count(session, stmt.with_only_columns(FlowTask.id))
        tasks = session.scalars(stmt.order_by(*order).limit(limit).offset(offset)).all()
        instances = {i.id: i for i in session.scalars(sa.select(FlowInstance).where(
            FlowInstance.id.in_({t.instance_id for t in tasks})))}
        offered = candidates_of(session, [task.id for task in tasks])
        items = [{**task_json(session, task, instances[task.instance_id], offered[task.id]),
                  "kind": "flow"} for task in tasks]
        items += _rule_tasks(session, caller, view, limit - len(items),
                             max(0, offset - total), app_key, process, q)
        total += 0 if process else rule_inbox.inbox_count(session, caller, view,
                                                          app_key=app_key, q=q)
    elif view == "started":
        stmt = sa.select(FlowInstance).where(FlowInstance.initiator == caller.username, *where)
        total = _count(session, stmt.with_only_columns(FlowInstance.id))
        rows = session.scalars(stmt.order_by(FlowInstance.id.desc()).limit(limit)
                               .offset(offset)).all()
        items = [instance_summary(session, instance) for instance in rows]
    else:
        stmt = sa.select(FlowCC, FlowInstance).join(
            FlowInstance, FlowInstance.id == FlowCC.instance_id).where(
            FlowCC.username == caller.username, *where)
        total = _count(session, stmt.with_only_columns(FlowCC.id))
        rows = session.execute(stmt.order_by(FlowCC.id.desc()).limit(limit)
                               .offset(offset)).all()
        items = [{"id": cc.id, "node_id": cc.node_id, "title": cc.title,
                  "created_at": iso(cc.created_at), "read_at": iso(cc.read_at),
                  "instance": instance_summary(session, instance)} for cc, instance in rows]
    unfiltered = not (where or q) and view in ("todo", "done")
    return {"items": items, "total": total, "limit": limit, "offset": offset,
            "next_cursor": None, "view": view,
            "counts": counts(session, caller, now, {view: total} if unfiltered else None)}
