"""What rules leave for people: in-app notifications and rule tasks (to-dos offered to a
user or a role), each visible to its addressee only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import BadRequest, Conflict, Forbidden, NotFound
from app_platform.models import App, utcnow
from app_platform.models.rules import Notification, RuleTask


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def notifications(session: Session, caller: Caller, unread: bool, limit: int,
                  offset: int) -> dict[str, Any]:
    where = [Notification.username == caller.username]
    if unread:
        where.append(Notification.read_at.is_(None))
    total = session.scalar(sa.select(sa.func.count()).select_from(Notification).where(*where))
    rows = session.scalars(sa.select(Notification).where(*where).order_by(
        Notification.id.desc()).limit(limit).offset(offset))
    items = [{"id": n.id, "message": n.message, "link": n.link, "source": n.source,
              "created_at": _iso(n.created_at), "read_at": _iso(n.read_at)} for n in rows]
    return {"items": items, "total": int(total or 0), "limit": limit, "offset": offset,
            "next_cursor": None}


def mark_read(session: Session, caller: Caller, notification_id: int) -> None:
    row = session.get(Notification, notification_id)
    if row is None or row.username != caller.username:
        raise NotFound(f"no notification {notification_id}")
    row.read_at = row.read_at or utcnow()
    session.commit()


def _mine(caller: Caller) -> Any:
    return sa.or_(sa.and_(RuleTask.assignee_kind == "user",
                          RuleTask.assignee == caller.username),
                  sa.and_(RuleTask.assignee_kind == "role",
                          RuleTask.assignee.in_(sorted(caller.roles) or [""])))


def task_json(task: RuleTask, app_key: str) -> dict[str, Any]:
    return {"id": task.id, "app": app_key, "title": task.title,
            "assignee": f"{task.assignee_kind}:{task.assignee}", "entity": task.entity_key,
            "record_id": task.record_id, "rule": task.rule_key, "state": task.state,
            "due_at": _iso(task.due_at), "created_at": _iso(task.created_at),
            "completed_by": task.completed_by, "completed_at": _iso(task.completed_at)}


def tasks(session: Session, caller: Caller, state: str, app_key: str | None, limit: int,
          offset: int) -> dict[str, Any]:
    if state not in ("open", "done"):
        raise BadRequest("state must be open or done", code="invalid_query")
    where = [_mine(caller), RuleTask.state == state]
    if app_key:
        where.append(RuleTask.app_id == sa.select(App.id).where(App.key == app_key)
                     .scalar_subquery())
    total = session.scalar(sa.select(sa.func.count()).select_from(RuleTask).where(*where))
    rows = session.execute(sa.select(RuleTask, App.key).join(App, App.id == RuleTask.app_id)
                           .where(*where).order_by(RuleTask.id.desc()).limit(limit)
                           .offset(offset)).all()
    return {"items": [task_json(t, key) for t, key in rows], "total": int(total or 0),
            "limit": limit, "offset": offset, "next_cursor": None}


def _inbox_where(caller: Caller, view: str, app_key: str | None, q: str | None) -> list[Any]:
    where = ([_mine(caller), RuleTask.state == "open"] if view == "todo" else
             [RuleTask.completed_by == caller.username, RuleTask.state == "done"])
    if app_key:
        where.append(RuleTask.app_id == sa.select(App.id).where(App.key == app_key)
                     .scalar_subquery())
    if q:
        where.append(RuleTask.title.contains(q, autoescape=True))
    return where


def inbox_count(session: Session, caller: Caller, view: str, *, app_key: str | None = None,
                q: str | None = None) -> int:
    """Rule tasks in the inbox's to-do or done view: the second source next to flow tasks,
    so a rule's "create a task for the risk role" lands where approvers already look."""
    where = _inbox_where(caller, view, app_key, q)
    return int(session.scalar(sa.select(sa.func.count()).select_from(RuleTask)
                              .where(*where)) or 0)


def inbox_items(session: Session, caller: Caller, view: str, limit: int, offset: int, *,
                app_key: str | None = None, q: str | None = None) -> list[dict[str, Any]]:
    """A page of rule tasks for the inbox, tagged ``kind: "rule"`` (they complete through
    ``/rule-tasks/{id}/complete``: ids are their own, not flow task ids)."""
    order = (RuleTask.id.desc(),) if view == "todo" else (RuleTask.completed_at.desc(),
                                                          RuleTask.id.desc())
    rows = session.execute(sa.select(RuleTask, App.key).join(App, App.id == RuleTask.app_id)
                           .where(*_inbox_where(caller, view, app_key, q)).order_by(*order)
                           .limit(limit).offset(offset)).all()
    return [{**task_json(task, key), "kind": "rule", "name": task.title} for task, key in rows]


def complete_task(session: Session, caller: Caller, task_id: int) -> dict[str, Any]:
    updated = session.execute(sa.update(RuleTask).where(
        RuleTask.id == task_id, RuleTask.state == "open", _mine(caller)).values(
        state="done", completed_by=caller.username, completed_at=utcnow()))
    if updated.rowcount != 1:
        session.rollback()
        task = session.get(RuleTask, task_id)
        if task is None:
            raise NotFound(f"no task {task_id}")
        if task.state != "open":
            raise Conflict(f"task {task_id} is already completed", code="task_closed")
        raise Forbidden(f"task {task_id} is not yours to complete")
    session.commit()
    task = session.get(RuleTask, task_id)
    return task_json(task, session.get(App, task.app_id).key)
