"""Entity definitions: publish (plan + safe DDL + new version), read, delete."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import Conflict, NotFound, Unprocessable
from app_platform.models import App, Entity, EntityVersion, utcnow
from app_platform.services import audit
from engines.form import (
    apply_plan,
    build_table,
    check_definition,
    live_fields,
    plan_publish,
    table_name,
)
from engines.form.types.values import datetime_to_json


@lru_cache(maxsize=512)
def _table(name: str, version: int, definition_json: str) -> sa.Table:
    import json

    return build_table(json.loads(definition_json), name, sa.MetaData())


def entity_table(entity: Entity) -> sa.Table:
    """The entity's Table, cached per published version (web workers see a new version
    as soon as it is committed: the version is part of the key)."""
    import json

    return _table(entity.table_name, entity.version, json.dumps(entity.definition,
                                                                 sort_keys=True))


def get_entity(session: Session, app: App, key: str) -> Entity:
    entity = session.query(Entity).filter_by(app_id=app.id, key=key).first()
    if entity is None:
        raise NotFound(f"no entity {key!r} in app {app.key!r}")
    return entity


def list_entities(session: Session, app: App) -> list[Entity]:
    return session.query(Entity).filter_by(app_id=app.id).order_by(Entity.key).all()


def entity_json(entity: Entity, *, hidden: set[str] | None = None) -> dict[str, Any]:
    definition = dict(entity.definition)
    fields = [f for f in definition["fields"] if not f.get("removed")]
    if hidden:
        fields = [f for f in fields if f["key"] not in hidden]
    definition["fields"] = fields
    definition["version"] = entity.version
    definition["removed_fields"] = [f["key"] for f in entity.definition["fields"]
                                    if f.get("removed")]
    definition["updated_at"] = datetime_to_json(entity.updated_at) if entity.updated_at else None
    return definition


def _known_entities(session: Session, app: App) -> set[str]:
    return {key for (key,) in session.query(Entity.key).filter_by(app_id=app.id)}


def create_entity(session: Session, caller: Caller, app: App, data: Any, *,
                  commit: bool = True, known: set[str] | None = None) -> Entity:
    """``known``: entity keys relations may target besides the existing ones (a bundle's
    entities, created one after the other)."""
    definition = check_definition(data, _known_entities(session, app) | (known or set()))
    definition.pop("version", None)
    if session.query(Entity).filter_by(app_id=app.id, key=definition["key"]).first():
        raise Conflict(f"entity {definition['key']!r} already exists in app {app.key!r}")
    name = table_name(app.key, definition["key"])
    conn = session.connection()
    plan = plan_publish(conn, name, None, definition)
    apply_plan(conn, plan, None)
    entity = Entity(app_id=app.id, key=definition["key"], label=definition["label"],
                    table_name=name, version=1, definition=plan.definition,
                    updated_by=caller.username)
    session.add(entity)
    session.flush()
    session.add(EntityVersion(entity_id=entity.id, version=1, definition=plan.definition,
                              plan=plan.as_dict(), created_at=utcnow(),
                              created_by=caller.username))
    audit.write(session, [audit.audit_row(caller.username, app.key, entity.key, None,
                                          "entity.publish", {"version": 1,
                                                             "plan": plan.as_dict()})])
    if commit:
        session.commit()
    return entity


def update_entity(session: Session, caller: Caller, app: App, key: str, data: Any, *,
                  dry_run: bool = False) -> tuple[Entity, dict[str, Any]]:
    """Publish a new version. Returns the entity and the plan that was (or, with
    ``dry_run``, would be) applied."""
    entity = get_entity(session, app, key)
    if isinstance(data, dict) and data.get("key", key) != key:
        raise Unprocessable("an entity's key never changes",
                            [{"path": "key", "message": f"must stay {key!r}"}])
    if isinstance(data, dict):
        data = {**data, "key": key}
        expected = data.pop("version", None)
        for extra in ("removed_fields", "updated_at"):
            data.pop(extra, None)
        if expected is not None and expected != entity.version:
            raise Conflict(f"the entity is at version {entity.version}, not {expected}; "
                           "reload and publish again")
    definition = check_definition(data, _known_entities(session, app))
    conn = session.connection()
    plan = plan_publish(conn, entity.table_name, entity.definition, definition)
    if dry_run:
        return entity, plan.as_dict()
    apply_plan(conn, plan, entity.definition)
    entity.version += 1
    entity.definition = plan.definition
    entity.label = definition["label"]
    entity.updated_by = caller.username
    entity.updated_at = utcnow()
    session.add(EntityVersion(entity_id=entity.id, version=entity.version,
                              definition=plan.definition, plan=plan.as_dict(),
                              created_at=utcnow(), created_by=caller.username))
    audit.write(session, [audit.audit_row(caller.username, app.key, key, None,
                                          "entity.publish", {"version": entity.version,
                                                             "plan": plan.as_dict()})])
    session.commit()
    return entity, plan.as_dict()


def relations_to(session: Session, app: App, target: str) -> list[tuple[Entity, dict]]:
    """(entity, field) pairs in the app whose relation field points at ``target``."""
    found = []
    for entity in list_entities(session, app):
        for fdef in live_fields(entity.definition):
            if fdef["type"] == "relation" and fdef.get("target") == target:
                found.append((entity, fdef))
            for child in fdef.get("fields", []) if fdef["type"] == "subtable" else []:
                if child.get("type") == "relation" and child.get("target") == target:
                    found.append((entity, child))
    return found


def delete_entity(session: Session, caller: Caller, app: App, key: str, purge: bool) -> None:
    entity = get_entity(session, app, key)
    others = [e.key for e, _ in relations_to(session, app, key) if e.key != key]
    if others:
        raise Conflict(f"entities {sorted(set(others))} link to {key!r}; remove those "
                       "relation fields first")
    table = entity_table(entity)
    conn = session.connection()
    count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
    if count and not purge:
        raise Conflict(f"{key!r} has {count} records; pass ?purge=true to delete the entity "
                       "with its data")
    table.drop(conn)
    session.delete(entity)
    audit.write(session, [audit.audit_row(caller.username, app.key, key, None,
                                          "entity.delete", {"records_deleted": count})])
    session.commit()
