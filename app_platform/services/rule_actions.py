"""Rule action executors: one function per action type of engines.rule.action_types(),
each run in its own DB transaction behind an idempotency key.

Why the idempotency row is inserted first: on SQLite the transaction then takes the write
lock before reading anything, and everywhere the unique key turns "did this already run?"
into the same commit as the side effect. A failed action removes its key again, so a retry
of the event may try it once more; a done one is never repeated.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import APIError, Unprocessable
from app_platform.models import App, Role, User, user_roles
from app_platform.models.rules import Notification, RuleActionRun, RuleTask
from app_platform.services import record_events, rule_delivery
from engines.form import FormError
from engines.rule import action_types

log = logging.getLogger("loom.rules")
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,62}(?:\.[a-z][a-z0-9_]{0,62})?)\}")


@dataclass
class ActionContext:
    """What an action may read: the app, the rule version, the event that fired it."""

    session: Session
    app: App
    rule_key: str
    rule_version: int
    definition: dict[str, Any]
    owner: str | None
    event_ref: str
    trigger: str
    entity_key: str | None
    record_id: int | None
    data: dict[str, Any]
    fields: Mapping[str, Any]
    depth: int
    now: dt.datetime
    run_id: int | None = None

    @property
    def source(self) -> str:
        """What the audit trail shows: "changed by rule <key>"."""
        return f"rule:{self.rule_key}"


def render_text(text: str, data: Mapping[str, Any], fields: Mapping[str, Any]) -> str:
    """`{field}` (or `{relation.field}`) placeholders filled from the record/event; money
    with thousands separators ("available {available}" -> "available 12,000.00")."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in data:
            return match.group(0)
        value = data[name]
        fdef = fields.get(name)
        kind = fdef.get("type") if isinstance(fdef, dict) else fdef
        if value is None:
            return ""
        if kind == "money" or (isinstance(fdef, dict) and fdef.get("grouped")):
            try:
                scale = int(fdef.get("scale", 2)) if isinstance(fdef, dict) else 2
                return f"{Decimal(str(value)):,.{scale}f}"
            except (InvalidOperation, ValueError):
                return str(value)
        return str(value)

    return PLACEHOLDER.sub(one, text)


def resolve_values(values: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Constants as given; `{"field": "x"}` copies field x of the triggering record."""
    out = {}
    for key, value in values.items():
        if isinstance(value, dict) and set(value) == {"field"}:
            out[key] = data.get(value["field"])
        else:
            out[key] = value
    return out


def owner_caller(ctx: ActionContext) -> Caller:
    user = ctx.session.scalar(sa.select(User).where(User.username == ctx.owner)) \
        if ctx.owner else None
    if user is None or not user.is_active:
        raise Unprocessable(f"the rule's owner {ctx.owner!r} no longer exists or is disabled")
    return Caller(user=user, scopes=["*"], via="rule")


def _records(ctx: ActionContext, entity_key: str) -> Any:
    from app_platform.services.entities import get_entity
    from app_platform.services.records import RecordService

    entity = get_entity(ctx.session, ctx.app, entity_key)
    return RecordService(ctx.session, owner_caller(ctx), ctx.app, entity)


# -- executors --------------------------------------------------------------------------
def set_fields(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
    if ctx.record_id is None or ctx.entity_key is None or ctx.trigger == "record_deleted":
        raise Unprocessable("set_fields needs a record that still exists")
    values = resolve_values(action["values"], ctx.data)
    record = _records(ctx, ctx.entity_key).update(ctx.record_id, values, source=ctx.source)
    return {"entity": ctx.entity_key, "record_id": record["id"], "version": record["version"],
            "values": values}


def create_record(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
    values = resolve_values(action["values"], ctx.data)
    record = _records(ctx, action["entity"]).create(values, source=ctx.source)
    return {"entity": action["entity"], "record_id": record["id"]}


def update_record(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
    target = action.get("record")
    if target is None:
        record_id = ctx.record_id
    elif target.isdigit():
        record_id = int(target)
    else:
        record_id = ctx.data.get(target)
    if not isinstance(record_id, int) or isinstance(record_id, bool):
        raise Unprocessable(f"update_record: no record id in {target!r}")
    values = resolve_values(action["values"], ctx.data)
    record = _records(ctx, action["entity"]).update(record_id, values, source=ctx.source)
    return {"entity": action["entity"], "record_id": record["id"], "values": values}


def _users_of(session: Session, who: str) -> list[str]:
    kind, _, name = who.partition(":") if ":" in who else ("user", "", who)
    if kind == "role":
        return list(session.scalars(sa.select(User.username).join(
            user_roles, user_roles.c.user_id == User.id).where(
            user_roles.c.role_key == name, User.is_active.is_(True)).order_by(User.username)))
    return list(session.scalars(sa.select(User.username).where(User.username == name)))


def _link(ctx: ActionContext) -> str | None:
    if ctx.entity_key and ctx.record_id:
        return f"/apps/{ctx.app.key}/entities/{ctx.entity_key}/{ctx.record_id}"
    return None


def create_task(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
    who = action["assignee"]
    kind, _, name = who.partition(":") if ":" in who else ("user", "", who)
    if kind not in ("user", "role"):
        raise Unprocessable(f"assignee must be a username, user:<name> or role:<key>, "
                            f"not {who!r}")
    if kind == "role" and ctx.session.get(Role, name) is None:
        raise Unprocessable(f"no role {name!r}")
    if kind == "user" and not _users_of(ctx.session, name):
        raise Unprocessable(f"no user {name!r}")
    title = render_text(action["title"], ctx.data, ctx.fields)
    due = ctx.now + dt.timedelta(days=action["due_in_days"]) if "due_in_days" in action else None
    task = RuleTask(app_id=ctx.app.id, title=title, assignee_kind=kind, assignee=name,
                    entity_key=ctx.entity_key, record_id=ctx.record_id, rule_key=ctx.rule_key,
                    state="open", due_at=due, created_at=ctx.now)
    ctx.session.add(task)
    ctx.session.flush()
    for username in _users_of(ctx.session, who):
        ctx.session.add(Notification(app_id=ctx.app.id, username=username,
                                     message=f"待办 Task: {title}", link=_link(ctx),
                                     source=ctx.source, created_at=ctx.now))
    return {"task_id": task.id, "assignee": f"{kind}:{name}"}


def notify(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
    message = render_text(action["message"], ctx.data, ctx.fields)
    channel = action.get("channel", "inbox")
    sent: list[str] = []
    for who in action["to"]:
        if channel == "email":
            addresses = [who] if "@" in who else [
                e for e in ctx.session.scalars(sa.select(User.email).where(
                    User.username.in_(_users_of(ctx.session, who)))) if e]
            for address in addresses:
                rule_delivery.send_mail(ctx.session, address, f"[Loom] {ctx.definition['name']}",
                                        message)
                sent.append(address)
            continue
        for username in _users_of(ctx.session, who):
            ctx.session.add(Notification(app_id=ctx.app.id, username=username, message=message,
                                         link=_link(ctx), source=ctx.source,
                                         created_at=ctx.now))
            sent.append(username)
    if not sent:
        raise Unprocessable(f"notify: nobody to notify in {action['to']!r}")
    return {"channel": channel, "to": sent}


def webhook(ctx: ActionContext, action: dict[str, Any], row: RuleActionRun) -> dict[str, Any]:
    body = {"rule": ctx.rule_key, "version": ctx.rule_version, "event": ctx.event_ref,
            "trigger": ctx.trigger, "entity": ctx.entity_key, "record_id": ctx.record_id,
            "data": ctx.data, **(action.get("body") or {})}
    row.status, row.next_attempt_at = "pending", ctx.now
    return {"url": action["url"], "method": action.get("method", "POST"),
            "headers": action.get("headers") or {}, "body": body, "attempts": []}


def post_event(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
    data = resolve_values(action.get("data") or {}, ctx.data)
    event_id = record_events.post_event(ctx.session, owner_caller(ctx), ctx.app,
                                        action["event_type"], data)
    return {"event_type": action["event_type"], "event_id": event_id}


def start_process(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
    from app_platform.services.flow_instances import start_instance

    if ctx.record_id is None:
        raise Unprocessable("start_process needs a record")
    instance = start_instance(ctx.session, owner_caller(ctx), ctx.app.key, action["process"],
                              {"record_id": ctx.record_id, "data": action.get("data") or {}},
                              ctx.now)
    return {"process": action["process"], "instance_id": instance.id}


def _not_here(message: str) -> Callable[[ActionContext, dict[str, Any]], dict[str, Any]]:
    def refuse(ctx: ActionContext, action: dict[str, Any]) -> dict[str, Any]:
        raise Unprocessable(message)

    return refuse


EXECUTORS: dict[str, Callable[..., dict[str, Any]]] = {
    "set_fields": set_fields, "create_record": create_record, "update_record": update_record,
    "create_task": create_task, "notify": notify, "webhook": webhook,
    "post_event": post_event, "start_process": start_process,
    "block": _not_here("block runs only in sync rules, while the write happens"),
    "run_reconciliation": _not_here("run_reconciliation is not available in rules yet"),
}
assert set(EXECUTORS) == set(action_types()), "every engine action type needs an executor"


def describe(action: Mapping[str, Any]) -> str:
    """One line for the editor's dry run: what the action would do."""
    kind = action["type"]
    if kind == "set_fields":
        return f"set {', '.join(action['values'])} on the record"
    if kind in ("create_record", "update_record"):
        verb = "create" if kind == "create_record" else "update"
        return f"{verb} a {action['entity']} record ({', '.join(action['values'])})"
    if kind == "create_task":
        return f"create task {action['title']!r} for {action['assignee']}"
    if kind == "notify":
        return f"notify {', '.join(action['to'])} via {action.get('channel', 'inbox')}"
    if kind == "webhook":
        return f"{action.get('method', 'POST')} {action['url']}"
    if kind == "post_event":
        return f"post event {action['event_type']}"
    if kind == "start_process":
        return f"start process {action['process']}"
    return kind


# -- running one action -----------------------------------------------------------------
def idempotency_key(ctx: ActionContext, index: int) -> str:
    return f"{ctx.app.id}:{ctx.rule_key}:v{ctx.rule_version}:{ctx.event_ref}:{index}"[:300]


def run_action(ctx: ActionContext, index: int, action: dict[str, Any]) -> dict[str, Any]:
    """Run one action once: its outcome for the run log (status done / already_done /
    pending (webhook queued) / error)."""
    session, kind = ctx.session, action["type"]
    key = idempotency_key(ctx, index)
    outcome: dict[str, Any] = {"index": index, "type": kind, "key": key}
    row = RuleActionRun(idempotency_key=key, app_id=ctx.app.id, run_id=ctx.run_id,
                        action_type=kind, status="done", result={}, attempts=0,
                        created_at=ctx.now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        done = session.scalar(sa.select(RuleActionRun).where(
            RuleActionRun.idempotency_key == key))
        session.commit()
        return {**outcome, "status": "already_done", "result": done.result if done else {}}
    token = record_events.CHAIN_DEPTH.set(ctx.depth)
    try:
        executor = EXECUTORS[kind]
        result = executor(ctx, action, row) if kind == "webhook" else executor(ctx, action)
        row.result = result
        session.commit()
    except (APIError, FormError) as exc:
        details = exc.details() if callable(exc.details) else exc.details
        return _failed(session, key, outcome, exc.message, details)
    except Exception as exc:  # an action must never take the dispatcher down
        log.exception("rule %s action %s failed", ctx.rule_key, index)
        return _failed(session, key, outcome, f"{exc.__class__.__name__}: {exc}", None)
    finally:
        record_events.CHAIN_DEPTH.reset(token)
    if row.status == "pending":
        rule_delivery.deliver(session, row.id, ctx.now)
        session.refresh(row)
    return {**outcome, "status": "done" if row.status == "done" else row.status,
            "result": row.result}


def _failed(session: Session, key: str, outcome: dict[str, Any], message: str,
            details: Any) -> dict[str, Any]:
    session.rollback()
    session.execute(sa.delete(RuleActionRun).where(RuleActionRun.idempotency_key == key))
    session.commit()
    problem = {**outcome, "status": "error", "error": message}
    if details:
        problem["details"] = details
    return problem
