"""The flow engine wired to the platform: people from the users table, record data in
and out of the flow, and the platform actions that service steps may call.

Why a separate module: the engine is pure (plain data, a ``Directory`` protocol, named
actions); everything here is the adapter that binds it to one request's session, so the
actions a step runs write in the same transaction as the instance's new state.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app_platform.errors import Unprocessable
from app_platform.models import App, Entity, User, user_roles
from app_platform.models.flows import FlowDefinition
from app_platform.services.entities import get_entity
from app_platform.services.records import RecordService
from engines.flow import DeployedProcess, FlowRuntime
from engines.flow.runtime import RESERVED_KEYS
from engines.flow.serializer import FlowSerializer
from engines.form import live_fields
from engines.form.types.values import format_minor, minor_units, to_decimal

#: one serializer per process: it caches parsed specs by content hash
SERIALIZER = FlowSerializer()
SYSTEM_FIELDS = ("id", "version", "created_at", "created_by", "updated_at", "updated_by")


class UserDirectory:
    """``engines.flow.Directory`` over the users table (active users only)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def users_with_role(self, role: str) -> list[str]:
        return list(self.session.scalars(
            sa.select(User.username).join(user_roles, user_roles.c.user_id == User.id)
            .where(user_roles.c.role_key == role, User.is_active.is_(True))
            .order_by(User.username)))

    def department_head(self, department: str) -> str | None:
        """The manager most members of the department report to. The head's own manager
        (someone above the department) is not counted: the head is the one whose
        reports are in the department."""
        members = self.session.execute(
            sa.select(User.username, User.manager).where(
                User.department == department, User.is_active.is_(True))).all()
        managers = {manager for _, manager in members if manager}
        votes = Counter(manager for name, manager in members
                        if manager and name not in managers)
        for head, _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
            if self.user_exists(head):
                return head
        return None

    def user_exists(self, username: str) -> bool:
        return self.session.scalar(sa.select(sa.func.count()).select_from(User).where(
            User.username == username, User.is_active.is_(True))) == 1


@dataclass
class FlowCaller:
    """Who a flow step writes records as: the flow's own rights (it was designed by
    someone with design access to the app, which covers the app's records) under the
    name of the person whose action ran the step, so the audit trail names them."""

    username: str
    roles: set[str] = field(default_factory=lambda: {"admin"})
    is_admin: bool = True
    scopes: list[str] = field(default_factory=lambda: ["*"])
    via: str = "flow"
    user: Any = None


class StepTransaction:
    """A session whose ``commit`` only flushes. ``RecordService`` commits at the end of
    each public method; inside a flow operation the flow service owns the transaction,
    so record writes, the instance's new state and the inbox commit (or fail) together."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def commit(self) -> None:
        self._session.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _per_transaction(session: Session, key: tuple[Any, ...], load: Any) -> Any:
    """``load()`` once per transaction. Why: the session's identity map holds objects
    weakly, so an App, its entity or a process version nobody kept a reference to is
    read again at every step (an entity query is two statements, with the app's grants);
    keeping them for the transaction also keeps one consistent view of them. The
    transaction is held weakly: a strong reference would tie the session to it in a
    cycle after it ended (and its connection pool with it until the next collection)."""
    cache = session.info.get("flow_objects")
    transaction = session.get_transaction()
    if cache is None or transaction is None or cache[0]() is not transaction:
        value = load()
        transaction = session.get_transaction()  # the load may have begun it
        if transaction is None:
            return value
        if cache is None or cache[0]() is not transaction:
            cache = session.info["flow_objects"] = (weakref.ref(transaction), {})
        cache[1][key] = value
        return value
    if key not in cache[1]:
        cache[1][key] = load()
    return cache[1][key]


def app_of(session: Session, app_id: int) -> App | None:
    return _per_transaction(session, ("app", app_id), lambda: session.get(App, app_id))


def entity_of(session: Session, app: App, key: str) -> Any:
    """``get_entity`` (404 when missing), kept for the transaction."""
    return _per_transaction(session, ("entity", app.id, key),
                            lambda: get_entity(session, app, key))


def definition_brief(session: Session, definition_id: int) -> Any:
    """(``content_hash``, ``name``) of a process version, or None: what a step and an
    answer need of it, without loading its XML and metadata at every step."""
    return _per_transaction(session, ("definition", definition_id), lambda: session.execute(
        sa.select(FlowDefinition.content_hash, FlowDefinition.name)
        .where(FlowDefinition.id == definition_id)).first())


@dataclass
class RecordBinding:
    """The record an instance is bound to, and who acts in the current operation. The
    entity is read on first use: most steps (no form data, no service action) never
    touch the record."""

    session: Session
    app: App
    entity_key: str
    record_id: int
    actor: str

    @property
    def entity(self) -> Entity:
        return entity_of(self.session, self.app, self.entity_key)

    def service(self, entity: Entity | None = None) -> RecordService:
        return RecordService(StepTransaction(self.session), FlowCaller(self.actor),  # type: ignore[arg-type]
                             self.app, entity or self.entity)

    def read(self) -> dict[str, Any]:
        return self.service().get(self.record_id)

    def update(self, values: dict[str, Any]) -> dict[str, Any]:
        entity_values = to_record_json(self.entity, values)
        return self.service().update(self.record_id, entity_values, source="flow")

    def create(self, entity_key: str, values: dict[str, Any]) -> dict[str, Any]:
        entity = get_entity(self.session, self.app, entity_key)
        created = self.service(entity).create_many([to_record_json(entity, values)],
                                                   source="flow", single=True, commit=False)
        return created[0]


def flow_value(value: Any) -> Any:
    """JSON from a request (decimals parsed exactly) as plain flow data."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {k: flow_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [flow_value(v) for v in value]
    return value


def to_flow_data(entity: Entity, record: dict[str, Any]) -> dict[str, Any]:
    """A record's JSON as flow data: money as integer minor units (conditions compare
    ``amount >= 5000000``), reserved engine names left out."""
    data: dict[str, Any] = {"record_id": record["id"]}
    for fdef in live_fields(entity.definition):
        key = fdef["key"]
        if key not in record or key in RESERVED_KEYS or key.startswith("_"):
            continue
        value = record[key]
        if fdef["type"] == "money" and value is not None:
            value = minor_units(to_decimal(value), int(fdef.get("scale", 2)))
        data[key] = flow_value(value)
    return data


def to_record_json(entity: Entity, values: dict[str, Any]) -> dict[str, Any]:
    """Flow values for a record write: integer money becomes its decimal string."""
    fields = {f["key"]: f for f in live_fields(entity.definition)}
    out: dict[str, Any] = {}
    for key, value in values.items():
        fdef = fields.get(key)
        if fdef is None:
            raise Unprocessable(f"entity {entity.key!r} has no field {key!r}",
                                [{"path": key, "message": "no such field"}])
        if fdef["type"] == "money" and isinstance(value, int) and not isinstance(value, bool):
            value = format_minor(value, int(fdef.get("scale", 2)))
        out[key] = value
    return out


def _actions(binding: RecordBinding) -> dict[str, Any]:
    """Platform actions a service step may call by name: never arbitrary Python."""

    def update_record(params: dict[str, Any], _data: Any) -> dict[str, Any]:
        record = binding.update(dict(params))
        return {"id": record["id"], "version": record["version"]}

    def create_record(params: dict[str, Any], _data: Any) -> dict[str, Any]:
        values = dict(params)
        entity_key = values.pop("entity", None)
        if not isinstance(entity_key, str):
            raise Unprocessable("create_record needs an 'entity' parameter")
        return {"id": binding.create(entity_key, values)["id"]}

    return {"update_record": update_record, "create_record": create_record}


def build_runtime(binding: RecordBinding, deployed: DeployedProcess,
                  now: dt.datetime) -> FlowRuntime:
    """A runtime for one operation: clock fixed at ``now``, actions bound to the record."""
    runtime = FlowRuntime(actions=_actions(binding), directory=UserDirectory(binding.session),
                          clock=lambda: now, serializer=SERIALIZER)
    runtime.register(deployed)
    return runtime


def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive UTC datetimes."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def iso(moment: dt.datetime | None) -> str | None:
    moment = aware(moment)
    return moment.isoformat() if moment is not None else None


def parse_iso(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return aware(dt.datetime.fromisoformat(value))
