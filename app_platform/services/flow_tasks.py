"""Inbox tasks and the approval actions on them: complete (approve / reject / return),
claim, transfer (转办), delegate (委托), add a signer (加签) and urge (催办).

Why the task row is locked first: completing is atomic per task. The row is locked
(FOR UPDATE on PostgreSQL, the write lock on SQLite), its state checked (a second
completion gets 409), then the instance row is locked only for the engine step, so
countersign approvers on one instance queue for milliseconds, not for each other's
whole request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from app_platform.models.flows import FlowInstance, FlowTask, FlowTaskCandidate
from app_platform.services.flow_instances import (
    binding_for,
    fresh_transaction,
    history,
    instance_summary,
    live_rows,
    lock_row,
    may_view,
    runtime_for,
    save_result,
)
from app_platform.services.flow_runtime import (
    RecordBinding,
    UserDirectory,
    aware,
    flow_value,
    iso,
    to_flow_data,
)
from engines.flow import FlowError, InstanceErrored, TaskNotReady
from engines.form import live_fields

ACTIONS = ("approve", "reject", "return", "submit")
POSITIONS = ("before", "after")


# -- who may do what --------------------------------------------------------------------
def candidates_of(session: Session, task_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    found: dict[int, dict[str, list[str]]] = {i: {"users": [], "roles": []} for i in task_ids}
    if task_ids:
        rows = session.execute(sa.select(  # plain rows: no ORM objects to build
            FlowTaskCandidate.task_id, FlowTaskCandidate.kind, FlowTaskCandidate.value).where(
            FlowTaskCandidate.task_id.in_(task_ids)).order_by(FlowTaskCandidate.value))
        for row in rows:
            found[row.task_id]["users" if row.kind == "user" else "roles"].append(row.value)
    return found


def _delegation_live(task: FlowTask, now: dt.datetime) -> bool:
    until = aware(task.delegated_until)
    return task.delegated_from is None or until is None or now < until


def can_act(session: Session, caller: Caller, task: FlowTask, now: dt.datetime) -> bool:
    """The assignee (a delegate while the delegation lasts), the delegator, or for an
    unclaimed task any candidate user or member of a candidate role."""
    me = caller.username
    if task.assignee is not None:
        return (task.assignee == me and _delegation_live(task, now)) or task.delegated_from == me
    offered = candidates_of(session, [task.id])[task.id]
    return me in offered["users"] or bool(caller.roles & set(offered["roles"]))


def _locked_task(session: Session, caller: Caller, task_id: int, now: dt.datetime,
                 *, act: bool = True, lock_instance: bool = False,
                 ) -> tuple[FlowTask, FlowInstance]:
    """The task, locked and checked, and its instance (``lock_instance``: locked too,
    for an engine step; read once, under the lock, rather than read then locked)."""
    fresh_transaction(session)
    task = lock_row(session, FlowTask, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    if task.state in ("done", "cancelled"):
        closed = "completed" if task.state == "done" else "cancelled"
        raise Conflict(f"task {task_id} is already {closed}", code="task_closed")
    if act and not can_act(session, caller, task, now):
        raise Forbidden(f"task {task_id} is not yours to act on")
    if task.state == "waiting":
        raise Conflict(f"task {task_id} waits for an added signer", code="task_waiting")
    instance = lock_row(session, FlowInstance, task.instance_id, write_locked=True) \
        if lock_instance else session.get(FlowInstance, task.instance_id)
    assert instance is not None
    if instance.status != "running":
        raise Conflict(f"the instance is {instance.status}", code="instance_not_running")
    return task, instance


def _known_user(session: Session, body: Any, field: str = "to_user") -> str:
    user = body.get(field) if isinstance(body, dict) else None
    if not isinstance(user, str) or not UserDirectory(session).user_exists(user):
        raise Unprocessable(f"{field} must name an active user",
                            [{"path": field, "message": "no such active user"}])
    return user


def _comment(body: Any) -> str | None:
    comment = body.get("comment") if isinstance(body, dict) else None
    if comment is not None and (not isinstance(comment, str) or len(comment) > 4000):
        raise Unprocessable("comment must be text (at most 4000 characters)",
                            [{"path": "comment", "message": "text, at most 4000 characters"}])
    return comment


# -- completing -------------------------------------------------------------------------
def _parse_completion(body: Any) -> tuple[str, dict[str, Any], str | None, str | None]:
    if not isinstance(body, dict):
        raise Unprocessable("the body must be a JSON object")
    action, data, target = body.get("action"), body.get("data") or {}, body.get("return_to")
    if action not in ACTIONS:
        raise Unprocessable(f"action must be one of {', '.join(ACTIONS)}",
                            [{"path": "action", "message": "unknown action"}])
    if not isinstance(data, dict):
        raise Unprocessable("data must be an object", [{"path": "data", "message": "object"}])
    if target is not None and not isinstance(target, str):
        raise Unprocessable("return_to must be a step id or 'initiator'")
    return action, data, _comment(body), target


def _form_data(binding: RecordBinding, task: FlowTask, instance: FlowInstance,
               action: str, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the step's editable fields to the record; (flow data, diff)."""
    perms = {p["key"]: p for p in task.field_permissions}
    editable = {k for k, p in perms.items() if p.get("access") == "edit"}
    blocked = sorted(k for k in data if k not in editable)
    if blocked:
        raise Forbidden("these fields are not editable at this step",
                        [{"path": k, "message": "not editable at this step"} for k in blocked])
    needs_check = action in ("approve", "submit") and any(
        perms[k].get("required") for k in editable)
    if not data and not needs_check:
        return {}, {}  # nothing to write or check: skip reading the record
    fields = {f["key"] for f in live_fields(binding.entity.definition)}
    before = binding.read()
    record_values = {k: v for k, v in data.items() if k in fields}
    after = binding.service().update(instance.record_id, record_values, source="flow") \
        if record_values else before
    if action in ("approve", "submit"):
        missing = [k for k in editable if perms[k].get("required") and
                   (data.get(k) if k not in fields else after.get(k)) in (None, "")]
        if missing:
            raise Unprocessable("required fields are empty",
                                [{"path": k, "message": "required at this step"} for k in missing])
    flow = {k: v for k, v in to_flow_data(binding.entity, after).items() if k in record_values}
    flow.update({k: flow_value(v) for k, v in data.items() if k not in fields})
    diff = {k: [before.get(k), after.get(k)] for k in record_values
            if before.get(k) != after.get(k)}
    diff.update({k: [None, flow_value(v)] for k, v in data.items() if k not in fields})
    return flow, diff


def _chain_done(session: Session, task: FlowTask, live: list[FlowTask]) -> bool:
    """After ``task`` approved: open the next added signer, or hand back to the one who
    added a signer before them. True when the engine task itself is now decided.
    ``live``: the instance's open and waiting rows (added signers are among them)."""
    node = task
    while True:
        after = min((t for t in live if t.signer_of == node.id and t.state == "waiting"
                     and t.signer_position == "after"), key=lambda t: t.id, default=None)
        if after is not None:
            after.state = "open"
            return False
        if node.signer_of is None:
            return True
        parent = session.get(FlowTask, node.signer_of)
        assert parent is not None
        if node.signer_position == "before":
            parent.state = "open"
            return False
        node = parent


def complete(session: Session, caller: Caller, task_id: int, body: Any,
             now: dt.datetime) -> dict[str, Any]:
    action, data, comment, target = _parse_completion(body)
    task, instance = _locked_task(session, caller, task_id, now, lock_instance=True)
    if task.signer_of is not None and action == "return":
        raise Unprocessable("an added signer approves or rejects; return is for the step")
    if task.submit and action not in ("approve", "submit"):
        raise Unprocessable("the initiator's step is submitted (or the instance withdrawn)")
    binding = binding_for(session, instance, caller.username)  # one for the whole step
    flow, diff = _form_data(binding, task, instance, action, data)
    task.state, task.action, task.comment = "done", action, comment
    task.completed_by, task.completed_at = caller.username, now
    on_behalf = task.delegated_from if task.delegated_from != caller.username else None
    history(session, instance, action, caller.username, now, task=task, comment=comment,
            diff=diff, attempt=task.attempt, on_behalf_of=on_behalf, return_to=target)
    session.flush()
    live = live_rows(session, instance)  # read once: for the signer chain and the sync
    if action in ("approve", "submit") and not _chain_done(session, task, live):
        answer = _answer(session, task, instance)
        session.commit()
        return answer
    engine_action = "submit" if task.submit else action
    payload = {**flow, **({"return_to": target} if target else {})}
    runtime = runtime_for(session, instance, caller.username, now, binding)
    try:
        result = runtime.complete(instance.state, task.engine_task_id, engine_action, payload,
                                  user=caller.username)
    except (TaskNotReady, InstanceErrored) as err:
        raise Conflict(str(err), code=err.code) from None
    except FlowError as err:
        raise Unprocessable(str(err), [{"path": str(err.detail.get("field", "action")),
                                        "message": err.message}], code=err.code) from None
    open_tasks = save_result(session, instance, result, caller.username, now, live=live)
    answer = _answer(session, task, instance, open_tasks)
    session.commit()
    return answer


def _answer(session: Session, task: FlowTask, instance: FlowInstance,
            open_tasks: list[FlowTask] | None = None) -> dict[str, Any]:
    """The completed task and the instance with its open tasks (``open_tasks``: as
    ``save_result`` left them). Read (from this transaction's flushed rows) before the
    commit: the same content, without a second transaction reloading the app and the
    process version; candidates in one query."""
    if open_tasks is None:
        open_tasks = list(session.scalars(sa.select(FlowTask).where(
            FlowTask.instance_id == instance.id, FlowTask.state == "open")
            .order_by(FlowTask.id)))
    offered = candidates_of(session, [task.id, *(t.id for t in open_tasks)])
    return {"task": task_json(session, task, instance, offered[task.id]),
            "instance": {**instance_summary(session, instance),
                         "tasks": [task_json(session, t, instance, offered[t.id])
                                   for t in open_tasks]}}


# -- reassigning ------------------------------------------------------------------------
def claim(session: Session, caller: Caller, task_id: int, now: dt.datetime) -> dict[str, Any]:
    task, instance = _locked_task(session, caller, task_id, now, act=False)
    if task.assignee is not None:
        raise Conflict(f"task {task_id} is already claimed by {task.assignee}",
                       code="already_claimed")
    if not can_act(session, caller, task, now):
        raise Forbidden(f"task {task_id} is not offered to you")
    task.assignee = task.claimed_by = caller.username
    history(session, instance, "claim", caller.username, now, task=task)
    session.commit()
    return task_json(session, task, instance)


def reassign(session: Session, caller: Caller, task_id: int, kind: str, body: Any,
             now: dt.datetime) -> dict[str, Any]:
    """``transfer``: the task becomes someone else's; ``delegate``: someone acts for the
    assignee (who keeps the task) until ``until``; ``add_signer``: someone signs
    ``before`` (then it comes back) or ``after`` the caller."""
    task, instance = _locked_task(session, caller, task_id, now)
    to_user, comment = _known_user(session, body), _comment(body)
    if to_user == caller.username:
        raise Unprocessable("to_user must be someone else", [{"path": "to_user",
                                                              "message": "is you"}])
    detail: dict[str, Any] = {"from": task.assignee or caller.username, "to": to_user}
    if kind == "transfer":
        task.assignee, task.delegated_from, task.delegated_until = to_user, None, None
    elif kind == "delegate":
        until = _until(body)
        task.delegated_from = task.delegated_from or task.assignee or caller.username
        task.assignee, task.delegated_until = to_user, until
        detail["until"] = iso(until)
    else:
        position = body.get("position", "before")
        if position not in POSITIONS:
            raise Unprocessable("position must be before or after",
                                [{"path": "position", "message": "before | after"}])
        signer = FlowTask(
            instance_id=instance.id, engine_task_id=task.engine_task_id, attempt=task.attempt,
            node_id=task.node_id, name=task.name, assignee=to_user, signer_of=task.id,
            signer_position=position, state="open" if position == "before" else "waiting",
            due_at=task.due_at, priority=task.priority,
            field_permissions=task.field_permissions, created_at=now)
        session.add(signer)
        if position == "before":
            task.state = "waiting"
            task.assignee = task.assignee or caller.username
        detail["position"] = position
    history(session, instance, kind, caller.username, now, task=task, comment=comment, **detail)
    session.commit()
    return task_json(session, task, instance)


def _until(body: dict[str, Any]) -> dt.datetime | None:
    raw = body.get("until")
    if raw is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(str(raw))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Unprocessable("until must be an ISO 8601 date-time with a time zone",
                            [{"path": "until", "message": "e.g. 2030-03-01T18:00:00+08:00"}])
    return moment


def urge(session: Session, caller: Caller, task_id: int, body: Any,
         now: dt.datetime) -> dict[str, Any]:
    """催办: the initiator reminds whoever holds the task."""
    task, instance = _locked_task(session, caller, task_id, now, act=False)
    if instance.initiator != caller.username:
        raise Forbidden("only the person who started the instance may urge its tasks")
    task.urge_count += 1
    history(session, instance, "urge", caller.username, now, task=task, comment=_comment(body))
    session.commit()
    return task_json(session, task, instance)


# -- reading ----------------------------------------------------------------------------
def task_json(session: Session, task: FlowTask, instance: FlowInstance,
              candidates: dict[str, list[str]] | None = None) -> dict[str, Any]:
    offered = candidates or candidates_of(session, [task.id])[task.id]
    return {
        "id": task.id, "instance_id": task.instance_id, "process": instance.process_key,
        "process_version": instance.process_version, "entity": instance.entity_key,
        "record_id": instance.record_id, "initiator": instance.initiator,
        "node_id": task.node_id, "name": task.name, "state": task.state,
        "attempt": task.attempt, "assignee": task.assignee,
        "candidate_users": offered["users"], "candidate_roles": offered["roles"],
        "claimed_by": task.claimed_by, "delegated_from": task.delegated_from,
        "delegated_until": iso(task.delegated_until), "signer_of": task.signer_of,
        "signer_position": task.signer_position, "action": task.action,
        "comment": task.comment, "completed_by": task.completed_by,
        "due_at": iso(task.due_at), "priority": task.priority, "urge_count": task.urge_count,
        "submit": task.submit, "created_at": iso(task.created_at),
        "completed_at": iso(task.completed_at),
    }


def task_detail(session: Session, caller: Caller, task_id: int,
                now: dt.datetime) -> dict[str, Any]:
    """The task, the record's form as this step shows it (hidden fields left out,
    editable ones marked), the record, and the instance's history."""
    from app_platform.services.entities import entity_json
    from app_platform.services.flow_instances import history_json

    task = session.get(FlowTask, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    instance = session.get(FlowInstance, task.instance_id)
    assert instance is not None
    mine = task.state == "open" and can_act(session, caller, task, now)
    if not (mine or task.completed_by == caller.username or may_view(session, caller,
                                                                      instance)):
        raise Forbidden(f"you may not see task {task_id}")
    binding = binding_for(session, instance, caller.username)
    access = {p["key"]: p.get("access", "read") for p in task.field_permissions}
    fields = [f["key"] for f in live_fields(binding.entity.definition)]
    hidden = {k for k in fields if access.get(k) == "hidden"}
    record = {k: v for k, v in binding.read().items() if k not in hidden}
    permissions = {k: access.get(k, "read") for k in fields if k not in hidden}
    actions = ["approve", "reject", "return", "transfer", "delegate", "add-signer"] \
        if mine else []
    if mine and task.assignee is None:
        actions.insert(0, "claim")
    return {"task": task_json(session, task, instance), "instance":
            instance_summary(session, instance),
            "entity": entity_json(binding.entity, hidden=hidden), "record": record,
            "field_permissions": permissions, "required": sorted(
                p["key"] for p in task.field_permissions if p.get("required")),
            "actions": actions, "history": history_json(session, instance)}
