"""Process definitions: deploy BPMN XML or approval-designer nodes as a new version.

Why every POST/PUT adds a version and none is changed: running instances are pinned to
the version they started on (they reference its row, and through it the compiled spec,
which is stored once per content hash in ``flow_specs``).

The rest of the flow service lives next to this module: ``flow_runtime`` (the engine
wired to users, records and actions), ``flow_instances`` (start, save, withdraw,
timers) and ``flow_tasks`` (the inbox and the approval actions).
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import Conflict, NotFound, Unprocessable
from app_platform.models import App, utcnow
from app_platform.models.flows import FlowDefinition, FlowSpec
from app_platform.services import audit
from app_platform.services.apps import KEY_RE, app_for
from app_platform.services.entities import get_entity
from engines.flow import DeployedProcess, FlowDefinitionError, deploy, deploy_designer

PAYLOAD_KEYS = {"key", "name", "entity", "bpmn_xml", "nodes"}


def definition_error(err: FlowDefinitionError) -> Unprocessable:
    """422 whose message names the element (or designer field) and line at fault."""
    path = err.detail.get("element") or err.detail.get("field") or "definition"
    return Unprocessable(str(err), [{"path": str(path), "message": err.message,
                                     **{k: v for k, v in err.detail.items()}}],
                         code="invalid_flow_definition")


def _check_payload(session: Session, app: App, data: Any, key: str | None) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Unprocessable("the body must be a JSON object")
    problems = [{"path": k, "message": "is not a property of a process"}
                for k in sorted(set(data) - PAYLOAD_KEYS)]
    if key is not None and data.get("key", key) != key:
        problems.append({"path": "key", "message": f"must stay {key!r}"})
    data = {**data, "key": key or data.get("key")}
    if not isinstance(data["key"], str) or not KEY_RE.match(data["key"]):
        problems.append({"path": "key", "message": "must match [a-z][a-z0-9_]{0,62}"})
    name = data.get("name", data["key"])
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        problems.append({"path": "name", "message": "1-200 characters"})
    if not isinstance(data.get("entity"), str):
        problems.append({"path": "entity", "message": "the entity the process is bound to"})
    has_xml, has_nodes = "bpmn_xml" in data, "nodes" in data
    if has_xml == has_nodes:
        problems.append({"path": "bpmn_xml", "message": "send exactly one of bpmn_xml, nodes"})
    elif has_xml and not isinstance(data["bpmn_xml"], str):
        problems.append({"path": "bpmn_xml", "message": "must be the BPMN 2.0 XML text"})
    elif has_nodes and not isinstance(data["nodes"], list):
        problems.append({"path": "nodes", "message": "must be a list of designer nodes"})
    if problems:
        raise Unprocessable("the process definition is invalid", problems)
    get_entity(session, app, data["entity"])  # 404 when the entity does not exist
    return {**data, "name": name}


def _compile(data: dict[str, Any]) -> tuple[DeployedProcess, str, str]:
    """(deployed, source kind, source text)."""
    try:
        if "bpmn_xml" in data:
            return deploy(data["bpmn_xml"]), "bpmn", data["bpmn_xml"]
        designer = {"key": data["key"], "name": data["name"], "nodes": data["nodes"]}
        source = json.dumps(data["nodes"], ensure_ascii=False, default=str)
        return deploy_designer(designer), "nodes", source
    except FlowDefinitionError as err:
        raise definition_error(err) from None


def _store_spec(session: Session, deployed: DeployedProcess) -> None:
    """Insert the compiled spec unless a version with the same content already did."""
    table = FlowSpec.__table__
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(table).values(content_hash=deployed.content_hash,
                                      spec_json=deployed.spec_json, created_at=utcnow())
                 .on_conflict_do_nothing())


def deploy_process(session: Session, caller: Caller, app_key: str, data: Any,
                   key: str | None = None) -> dict[str, Any]:
    """Validate, compile and store a new version (PUT passes ``key``: it must exist)."""
    app = app_for(session, caller, app_key, "design")
    data = _check_payload(session, app, data, key)
    latest = _latest(session, app, data["key"])
    if key is not None and latest is None:
        raise NotFound(f"no process {key!r} in app {app_key!r}")
    deployed, kind, source = _compile(data)
    _store_spec(session, deployed)
    meta = {k: v for k, v in deployed.to_dict().items() if k not in ("spec_json", "bpmn_xml")}
    row = FlowDefinition(
        app_id=app.id, key=data["key"], version=(latest.version if latest else 0) + 1,
        name=data["name"], entity_key=data["entity"], source_kind=kind, source=source,
        bpmn_xml=deployed.bpmn_xml, process_id=deployed.process_id,
        content_hash=deployed.content_hash, meta=meta, created_by=caller.username,
        created_at=utcnow())
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"process {data['key']!r} was deployed meanwhile; try again") from None
    audit.write(session, [audit.audit_row(caller.username, app.key, data["entity"], None,
                                          "process.deploy", {"process": row.key,
                                                             "version": row.version})])
    session.commit()
    return definition_json(app, row)


def _latest(session: Session, app: App, key: str) -> FlowDefinition | None:
    return session.scalars(sa.select(FlowDefinition).where(
        FlowDefinition.app_id == app.id, FlowDefinition.key == key)
        .order_by(FlowDefinition.version.desc()).limit(1)).first()


def latest_definition(session: Session, app: App, key: str) -> FlowDefinition:
    row = _latest(session, app, key)
    if row is None:
        raise NotFound(f"no process {key!r} in app {app.key!r}")
    return row


def list_processes(session: Session, caller: Caller, app_key: str) -> list[dict[str, Any]]:
    """The newest version of each process of the app."""
    app = app_for(session, caller, app_key, "use")
    newest = sa.select(FlowDefinition.key, sa.func.max(FlowDefinition.version).label("v")) \
        .where(FlowDefinition.app_id == app.id).group_by(FlowDefinition.key).subquery()
    rows = session.scalars(sa.select(FlowDefinition).join(newest, sa.and_(
        FlowDefinition.key == newest.c.key, FlowDefinition.version == newest.c.v))
        .where(FlowDefinition.app_id == app.id).order_by(FlowDefinition.key))
    return [definition_json(app, row, full=False) for row in rows]


def get_process(session: Session, caller: Caller, app_key: str, key: str,
                version: int | None = None) -> dict[str, Any]:
    app = app_for(session, caller, app_key, "use")
    row = latest_definition(session, app, key)
    if version is not None and version != row.version:
        row = session.scalars(sa.select(FlowDefinition).filter_by(
            app_id=app.id, key=key, version=version)).first()
        if row is None:
            raise NotFound(f"process {key!r} has no version {version}")
    return definition_json(app, row)


def definition_json(app: App, row: FlowDefinition, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": row.key, "app": app.key, "name": row.name, "entity": row.entity_key,
        "version": row.version, "source_kind": row.source_kind,
        "content_hash": row.content_hash, "warnings": row.meta.get("warnings", []),
        "created_by": row.created_by, "created_at": row.created_at.isoformat(),
    }
    if full:
        out["bpmn_xml"] = row.bpmn_xml
        if row.source_kind == "nodes":
            out["nodes"] = json.loads(row.source)
        out["user_tasks"] = list(row.meta.get("user_tasks", {}).values())
    return out


def deployed_process(session: Session, row: FlowDefinition) -> DeployedProcess:
    """The engine's view of a stored version (the spec comes from ``flow_specs``).
    Cached per definition row: a stored version never changes, and re-reading and
    re-parsing its spec at every step dominated task completion."""
    key = (row.id, row.content_hash)
    cached = _DEPLOYED.get(key)
    if cached is None:
        spec = session.get(FlowSpec, row.content_hash)
        assert spec is not None  # a foreign key guarantees it
        cached = DeployedProcess.from_dict({**row.meta, "spec_json": spec.spec_json,
                                            "bpmn_xml": row.bpmn_xml,
                                            "content_hash": row.content_hash})
        if len(_DEPLOYED) >= 256:
            _DEPLOYED.pop(next(iter(_DEPLOYED)))
        _DEPLOYED[key] = cached
    return cached


def deployed_version(session: Session, definition_id: int,
                     content_hash: str) -> DeployedProcess:
    """``deployed_process`` by the version's id and hash: the row itself is read only
    when the cache does not hold the version yet."""
    cached = _DEPLOYED.get((definition_id, content_hash))
    if cached is None:
        row = session.get(FlowDefinition, definition_id)
        assert row is not None
        cached = deployed_process(session, row)
    return cached


_DEPLOYED: dict[tuple[int, str], DeployedProcess] = {}
