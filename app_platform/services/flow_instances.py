"""Process instances: start on a record, save every engine result (state, inbox rows,
CC, history, next timer), withdraw, and fire due timers.

Why ``save_result`` is the one place that writes after the engine ran: every operation
(start, complete, return, timers) must leave the instance, its inbox rows and its next
timer consistent in the same transaction; doing it in one function keeps them so.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.auth.permissions import app_level
from app_platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from app_platform.models import App
from app_platform.models.flows import (
    FlowCC,
    FlowHistory,
    FlowInstance,
    FlowTask,
    FlowTaskCandidate,
)
from app_platform.services.apps import app_for
from app_platform.services.flow_runtime import (
    SERIALIZER,
    RecordBinding,
    UserDirectory,
    app_of,
    build_runtime,
    definition_brief,
    entity_of,
    flow_value,
    iso,
    parse_iso,
    to_flow_data,
)
from app_platform.services.flows import deployed_process, deployed_version, latest_definition
from app_platform.services.records import RecordService
from engines.flow import FlowError, FlowResult, FlowRuntime, TaskSpecView

log = logging.getLogger("loom.flows")
ENDED = {"completed", "rejected"}
LIVE_TASK_STATES = ("open", "waiting")
_TIMER_READER = FlowRuntime(serializer=SERIALIZER)  # reads due times without a restore


def fresh_transaction(session: Session) -> None:
    """End the read-only transaction authentication opened. On SQLite a transaction
    that has read may not later take the write lock once another writer committed
    (SQLITE_BUSY_SNAPSHOT); one whose first statement writes waits its turn instead."""
    session.commit()


def lock_row(session: Session, model: Any, row_id: int, *, write_locked: bool = False) -> Any:
    """Lock one row for this transaction: SELECT ... FOR UPDATE on PostgreSQL; on SQLite
    a no-op UPDATE first, which takes the database write lock (one writer at a time),
    unless ``write_locked`` says this transaction already took it (a row locked before)."""
    table = model.__table__
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        if not write_locked:
            conn.execute(table.update().where(table.c.id == row_id).values(id=table.c.id))
        stmt = sa.select(model).where(model.id == row_id)
    else:
        stmt = sa.select(model).where(model.id == row_id).with_for_update()
    return session.scalars(stmt.execution_options(populate_existing=True)).first()


def history(session: Session, instance: FlowInstance, action: str, actor: str | None,
            now: dt.datetime, *, task: FlowTask | None = None, comment: str | None = None,
            diff: dict[str, Any] | None = None, **detail: Any) -> None:
    session.add(FlowHistory(instance_id=instance.id, task_id=task.id if task else None,
                            node_id=task.node_id if task else detail.pop("node_id", None),
                            action=action, actor=actor, comment=comment, data_diff=diff or {},
                            detail=detail, at=now))


def binding_for(session: Session, instance: FlowInstance, actor: str) -> RecordBinding:
    app = app_of(session, instance.app_id)
    assert app is not None
    return RecordBinding(session, app, instance.entity_key, instance.record_id, actor)


def runtime_for(session: Session, instance: FlowInstance, actor: str,
                now: dt.datetime, binding: RecordBinding | None = None) -> FlowRuntime:
    """A runtime pinned to the version the instance started on (``binding``: one the
    caller already built for this instance and actor)."""
    version = definition_brief(session, instance.definition_id)
    assert version is not None
    return build_runtime(binding or binding_for(session, instance, actor),
                         deployed_version(session, instance.definition_id,
                                          version.content_hash), now)


# -- saving an engine result ------------------------------------------------------------
def _new_task(session: Session, instance: FlowInstance, view: TaskSpecView,
              now: dt.datetime) -> FlowTask:
    single = len(view.assignees) == 1 and not view.candidate_roles
    task = FlowTask(instance_id=instance.id, engine_task_id=view.task_id, attempt=view.attempt,
                    node_id=view.node_id, name=view.name[:200],
                    assignee=view.assignees[0] if single else None, state="open",
                    due_at=parse_iso(view.due_at), priority=instance.priority,
                    field_permissions=view.field_permissions, submit=view.submit,
                    created_at=now)
    session.add(task)
    session.flush()
    if not single:
        session.add_all([FlowTaskCandidate(task_id=task.id, kind="user", value=u)
                         for u in view.assignees] +
                        [FlowTaskCandidate(task_id=task.id, kind="role", value=r)
                         for r in view.candidate_roles])
    return task


def _check_assignees(session: Session, view: TaskSpecView) -> str | None:
    """A problem with who the task goes to, or None."""
    if not view.assignees and not view.candidate_roles:
        return f"task '{view.node_id}' has nobody to act on it"
    directory = UserDirectory(session)
    missing = [u for u in view.assignees if not directory.user_exists(u)]
    if missing:
        return f"task '{view.node_id}' is assigned to unknown user(s) {', '.join(missing)}"
    return None


def _sync_tasks(session: Session, instance: FlowInstance, views: list[TaskSpecView],
                now: dt.datetime, *, live: list[FlowTask] | None = None) -> list[FlowTask]:
    """Open the tasks the engine waits on, cancel the rows it no longer does (``live``:
    the instance's open and waiting rows, already read in this transaction, or ``[]``
    for an instance created in it). Returns the open tasks by id, for the answer."""
    live = live_rows(session, instance) if live is None else \
        [t for t in live if t.state in LIVE_TASK_STATES]
    wanted = {(v.task_id, v.attempt): v for v in views}
    have = {(t.engine_task_id, t.attempt) for t in live}
    for task in live:
        if (task.engine_task_id, task.attempt) not in wanted:
            task.state, task.completed_at = "cancelled", now
    tasks = list(live)
    for key, view in wanted.items():
        if key in have:
            continue
        problem = _check_assignees(session, view)
        if problem:
            _mark_errored(session, instance, view.node_id, problem, now)
            return _sync_tasks(session, instance, [], now)  # open rows only while it runs
        tasks.append(_new_task(session, instance, view, now))
    return sorted((t for t in tasks if t.state == "open"), key=lambda t: t.id)


def live_rows(session: Session, instance: FlowInstance) -> list[FlowTask]:
    """The instance's open and waiting task rows."""
    return list(session.scalars(sa.select(FlowTask).where(
        FlowTask.instance_id == instance.id, FlowTask.state.in_(LIVE_TASK_STATES))))


def _mark_errored(session: Session, instance: FlowInstance, element: str | None,
                  message: str, now: dt.datetime) -> None:
    instance.status, instance.error_element, instance.error_message = "errored", element, message
    history(session, instance, "error", None, now, node_id=element, message=message)


def _effects(session: Session, instance: FlowInstance, effects: list[dict[str, Any]],
             actor: str | None, now: dt.datetime) -> None:
    directory = UserDirectory(session)
    for effect in effects:
        kind = effect["kind"]
        if kind == "cc":
            users = list(effect["users"])
            for role in effect["roles"]:
                users += directory.users_with_role(role)
            for username in dict.fromkeys(users):
                session.add(FlowCC(instance_id=instance.id, username=username,
                                   node_id=effect.get("node"), title=effect.get("title"),
                                   created_at=now))
            history(session, instance, "cc", actor, now, node_id=effect.get("node"),
                    users=list(dict.fromkeys(users)))
        elif kind == "remind":
            for task in _live_tasks(session, instance, effect.get("node")):
                task.urge_count += 1
            history(session, instance, "remind", None, now, node_id=effect.get("node"))
        elif kind == "timer":
            history(session, instance, "timer", None, now, node_id=effect.get("node"))
        elif kind == "action":
            history(session, instance, "action", actor, now, name=effect["name"],
                    result=flow_value(effect.get("result")))


def _live_tasks(session: Session, instance: FlowInstance, node: str | None) -> list[FlowTask]:
    stmt = sa.select(FlowTask).where(FlowTask.instance_id == instance.id,
                                     FlowTask.state == "open")
    if node:
        stmt = stmt.where(FlowTask.node_id == node)
    return list(session.scalars(stmt))


def save_result(session: Session, instance: FlowInstance, result: FlowResult,
                actor: str | None, now: dt.datetime, *,
                live: list[FlowTask] | None = None) -> list[FlowTask]:
    """Store the new state, status, next timer, inbox rows, CC rows and history
    (``live``: see ``_sync_tasks``); the open tasks by id."""
    status = result.status
    instance.state, instance.updated_at = result.state, now
    instance.lock_version += 1
    instance.status = status["state"]
    _effects(session, instance, result.effects, actor, now)
    if instance.status == "errored":
        instance.error_element = status.get("element")
        instance.error_message = status.get("message")
        history(session, instance, "error", actor, now, node_id=status.get("element"),
                message=status.get("message"))
    if instance.status in ENDED:
        instance.ended_at = now
        history(session, instance, instance.status, actor, now, end=status.get("end"))
    due = _TIMER_READER.next_timer_due(result.state)
    instance.next_timer_at = due if instance.status == "running" else None
    open_tasks = _sync_tasks(session, instance,
                             result.tasks if instance.status == "running" else [], now,
                             live=live)
    session.flush()
    return open_tasks


# -- starting ---------------------------------------------------------------------------
def start_instance(session: Session, caller: Caller, app_key: str, process_key: str,
                   body: Any, now: dt.datetime) -> FlowInstance:
    """Start the newest version of a process on a record the caller may read."""
    if not isinstance(body, dict) or isinstance(body.get("record_id"), bool) or \
            not isinstance(body.get("record_id"), int):
        raise Unprocessable("record_id (a whole number) is required",
                            [{"path": "record_id", "message": "required"}])
    extra = body.get("data") or {}
    priority = body.get("priority", 0)
    if not isinstance(extra, dict) or not isinstance(priority, int):
        raise Unprocessable("data must be an object and priority a whole number")
    fresh_transaction(session)
    app = app_for(session, caller, app_key, "use")
    definition = latest_definition(session, app, process_key)
    entity = entity_of(session, app, definition.entity_key)
    record = RecordService(session, caller, app, entity).get(body["record_id"])
    running = session.scalar(sa.select(FlowInstance.id).where(
        FlowInstance.app_id == app.id, FlowInstance.process_key == process_key,
        FlowInstance.record_id == record["id"], FlowInstance.status == "running"))
    if running is not None:
        raise Conflict(f"record {record['id']} already has running instance {running}",
                       code="instance_running")
    instance = FlowInstance(
        app_id=app.id, definition_id=definition.id, process_key=definition.key,
        process_version=definition.version, entity_key=entity.key, record_id=record["id"],
        state="", status="running", initiator=caller.username, priority=priority,
        created_at=now, updated_at=now)
    session.add(instance)
    session.flush()
    runtime = build_runtime(binding_for(session, instance, caller.username),
                            deployed_process(session, definition), now)  # the row at hand
    data = {**to_flow_data(entity, record), **{k: flow_value(v) for k, v in extra.items()}}
    try:
        result = runtime.start(runtime.definition(definition.content_hash), data,
                               initiator=caller.username, record_owner=record["created_by"])
    except FlowError as err:
        raise Unprocessable(str(err), [{"path": str(err.detail.get("field", "data")),
                                        "message": err.message}], code=err.code) from None
    history(session, instance, "start", caller.username, now,
            version=definition.version, record_id=record["id"])
    save_result(session, instance, result, caller.username, now, live=[])  # a new instance
    session.commit()
    return instance


# -- reading ----------------------------------------------------------------------------
def get_instance_row(session: Session, instance_id: int) -> FlowInstance:
    instance = session.get(FlowInstance, instance_id)
    if instance is None:
        raise NotFound(f"no instance {instance_id}")
    return instance


def may_view(session: Session, caller: Caller, instance: FlowInstance) -> bool:
    """Initiator, app designers, anyone who had a task on it or was CC'd."""
    if caller.is_admin or instance.initiator == caller.username:
        return True
    app = session.get(App, instance.app_id)
    if app is not None and app_level(caller.roles, caller.is_admin, app) in ("design",
                                                                             "manage"):
        return True
    me = caller.username
    involved = sa.select(FlowTask.id).where(FlowTask.instance_id == instance.id, sa.or_(
        FlowTask.assignee == me, FlowTask.completed_by == me, FlowTask.delegated_from == me,
        FlowTask.id.in_(sa.select(FlowTaskCandidate.task_id).where(sa.or_(
            sa.and_(FlowTaskCandidate.kind == "user", FlowTaskCandidate.value == me),
            sa.and_(FlowTaskCandidate.kind == "role",
                    FlowTaskCandidate.value.in_(sorted(caller.roles))))))))
    if session.scalar(involved.limit(1)) is not None:
        return True
    cc = sa.select(FlowCC.id).where(FlowCC.instance_id == instance.id, FlowCC.username == me)
    return session.scalar(cc.limit(1)) is not None


def instance_summary(session: Session, instance: FlowInstance) -> dict[str, Any]:
    app = app_of(session, instance.app_id)
    definition = definition_brief(session, instance.definition_id)
    return {
        "id": instance.id, "app": app.key if app else None,
        "process": {"key": instance.process_key, "version": instance.process_version,
                    "name": definition.name if definition else instance.process_key},
        "entity": instance.entity_key, "record_id": instance.record_id,
        "status": instance.status, "initiator": instance.initiator,
        "error": ({"element": instance.error_element, "message": instance.error_message}
                  if instance.status == "errored" else None),
        "priority": instance.priority, "next_timer_at": iso(instance.next_timer_at),
        "created_at": iso(instance.created_at), "ended_at": iso(instance.ended_at),
    }


def history_json(session: Session, instance: FlowInstance) -> list[dict[str, Any]]:
    rows = session.scalars(sa.select(FlowHistory).where(FlowHistory.instance_id == instance.id)
                           .order_by(FlowHistory.id))
    return [{"id": h.id, "at": iso(h.at), "action": h.action, "actor": h.actor,
             "node_id": h.node_id, "task_id": h.task_id, "comment": h.comment,
             "data_diff": h.data_diff, **h.detail} for h in rows]


def get_instance(session: Session, caller: Caller, instance_id: int) -> dict[str, Any]:
    from app_platform.services.flow_tasks import task_json

    instance = get_instance_row(session, instance_id)
    if not may_view(session, caller, instance):
        raise Forbidden(f"you may not see instance {instance_id}")
    tasks = session.scalars(sa.select(FlowTask).where(
        FlowTask.instance_id == instance.id, FlowTask.state.in_(LIVE_TASK_STATES))
        .order_by(FlowTask.id))
    return {**instance_summary(session, instance),
            "tasks": [task_json(session, t, instance) for t in tasks],
            "history": history_json(session, instance)}


# -- initiator's actions ----------------------------------------------------------------
def withdraw(session: Session, caller: Caller, instance_id: int, body: Any,
             now: dt.datetime) -> FlowInstance:
    """撤回: the starter takes a running instance back before the next step acts."""
    comment = body.get("comment") if isinstance(body, dict) else None
    fresh_transaction(session)
    instance = lock_row(session, FlowInstance, instance_id)
    if instance is None:
        raise NotFound(f"no instance {instance_id}")
    if instance.initiator != caller.username:
        raise Forbidden("only the person who started the instance may withdraw it")
    if instance.status != "running":
        raise Conflict(f"the instance is {instance.status}", code="instance_not_running")
    acted = session.scalar(sa.select(FlowTask.id).where(
        FlowTask.instance_id == instance.id, FlowTask.state == "done",
        FlowTask.submit.is_(False)).limit(1))
    if acted is not None:
        raise Conflict("an approver has already acted; the instance cannot be withdrawn",
                       code="already_acted")
    instance.status, instance.ended_at, instance.next_timer_at = "withdrawn", now, None
    instance.lock_version += 1
    _sync_tasks(session, instance, [], now)
    history(session, instance, "withdraw", caller.username, now, comment=comment)
    session.commit()
    return instance


# -- timers -----------------------------------------------------------------------------
def fire_due_timers(session: Session, now: dt.datetime, limit: int = 200) -> int:
    """Fire the timers due at ``now`` (the scheduler calls this every 30 s; a missed run
    is caught up by the next, since due times are stored). Each instance is its own
    transaction; one failing instance is logged and does not stop the others."""
    fresh_transaction(session)
    due = list(session.scalars(sa.select(FlowInstance.id).where(
        FlowInstance.status == "running", FlowInstance.next_timer_at <= now)
        .order_by(FlowInstance.next_timer_at).limit(limit)))
    fired = 0
    for instance_id in due:
        fresh_transaction(session)
        try:
            instance = lock_row(session, FlowInstance, instance_id)
            if instance is None or instance.status != "running" or \
                    instance.next_timer_at is None or parse_iso(iso(instance.next_timer_at)) > now:
                continue
            runtime = runtime_for(session, instance, instance.initiator, now)
            try:
                result = runtime.fire_due_timers(instance.state, now)
            except FlowError as err:
                _mark_errored(session, instance, err.detail.get("element"), err.message, now)
                instance.next_timer_at = None
            else:
                save_result(session, instance, result, None, now)
            session.commit()
            fired += 1
        except Exception:  # noqa: BLE001 - one broken instance must not stop the sweep
            session.rollback()
            log.exception("firing timers of instance %s failed", instance_id)
    return fired


def retry(session: Session, caller: Caller, instance_id: int, now: dt.datetime) -> None:
    """Put an errored instance back to work after the cause was fixed (a missing user
    created, say): its waiting tasks are offered again. An instance whose engine step
    failed stays errored (the engine keeps the failure in its state) and gets 409."""
    fresh_transaction(session)
    instance = lock_row(session, FlowInstance, instance_id)
    if instance is None:
        raise NotFound(f"no instance {instance_id}")
    app = session.get(App, instance.app_id)
    if not caller.is_admin and (app is None or app_level(caller.roles, False, app) != "manage"):
        raise Forbidden("retrying an instance needs manage access to its app")
    if instance.status != "errored":
        raise Conflict(f"the instance is {instance.status}, not errored", code="not_errored")
    runtime = runtime_for(session, instance, caller.username, now)
    if runtime.status(instance.state).get("state") == "errored":
        raise Conflict(f"the step '{instance.error_element}' failed inside the engine; fix "
                       "the process and start a new instance", code="engine_error")
    instance.status, instance.error_element, instance.error_message = "running", None, None
    history(session, instance, "retry", caller.username, now)
    _sync_tasks(session, instance, runtime.tasks(instance.state), now)
    instance.next_timer_at = _TIMER_READER.next_timer_due(instance.state) \
        if instance.status == "running" else None
    session.commit()
