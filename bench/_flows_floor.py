"""(f) of bench/flows.py: the floor under (c). Loom's FlowRuntime (the same engine the
service runs) with hand-written Core persistence: per step one transaction that locks and
closes the task in one UPDATE, locks the instance and reads its state in another, runs the
engine, then writes the new state, the next inbox row (with its candidates) and the
history row. It writes the rows the service writes, but skips what a floor may skip:
permission checks, reading the record, the API's answer, ORM bookkeeping.

Why measure it: it says how fast the service could be with this engine and these tables
on this machine, so the gap between (c) and (f) is the platform layer's own cost.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app_platform.extensions import db
from app_platform.models import utcnow
from app_platform.models.flows import (
    FlowDefinition,
    FlowHistory,
    FlowInstance,
    FlowTask,
    FlowTaskCandidate,
)
from app_platform.services.flows import deployed_process
from bench._flows_runs import STEPS, Timing, timed
from engines.flow import FlowResult, FlowRuntime
from engines.flow.serializer import FlowSerializer

INSTANCES, TASKS = FlowInstance.__table__, FlowTask.__table__
CANDIDATES, HISTORY = FlowTaskCandidate.__table__, FlowHistory.__table__


def _history(instance_id: int, task_id: int | None, node: str | None, action: str,
             actor: str | None, now: Any) -> dict[str, Any]:
    return {"instance_id": instance_id, "task_id": task_id, "node_id": node, "action": action,
            "actor": actor, "comment": None, "data_diff": {}, "detail": {}, "at": now}


def _open_tasks(conn: sa.Connection, instance_id: int, result: FlowResult, now: Any,
                priority: int) -> list[int]:
    ids = []
    for view in result.tasks:
        single = len(view.assignees) == 1 and not view.candidate_roles
        task_id = conn.execute(TASKS.insert().returning(TASKS.c.id), {
            "instance_id": instance_id, "engine_task_id": view.task_id,
            "attempt": view.attempt, "node_id": view.node_id, "name": view.name[:200],
            "assignee": view.assignees[0] if single else None, "state": "open",
            "priority": priority, "urge_count": 0, "field_permissions": view.field_permissions,
            "submit": view.submit, "created_at": now}).scalar_one()
        offers = [] if single else \
            [{"task_id": task_id, "kind": "user", "value": u} for u in view.assignees] + \
            [{"task_id": task_id, "kind": "role", "value": r} for r in view.candidate_roles]
        if offers:
            conn.execute(CANDIDATES.insert(), offers)
        ids.append(task_id)
    return ids


def floor_path(app_id: int, definition_id: int, record_ids: list[int], chunks: int) -> Timing:
    """(f) start + 3 approvals per record, committed per step, raw Core around the
    engine. Raises unless every instance completed."""
    definition = db.session.get(FlowDefinition, definition_id)
    assert definition is not None
    deployed = deployed_process(db.session, definition)
    process_key, version = definition.key, definition.version
    db.session.close()
    runtime = FlowRuntime(serializer=FlowSerializer())
    runtime.register(deployed)
    data = {"applicant": "申请人", "amount": 8_000_000, "applicant_dept": "retail"}

    def run(i: int) -> None:
        now = utcnow()
        result = runtime.start(deployed, {**data, "record_id": record_ids[i]},
                               initiator="applicant")
        with db.engine.begin() as conn:
            instance_id = conn.execute(INSTANCES.insert().returning(INSTANCES.c.id), {
                "app_id": app_id, "definition_id": definition_id,
                "process_key": process_key, "process_version": version,
                "entity_key": "application", "record_id": record_ids[i],
                "state": result.state, "status": result.status["state"],
                "initiator": "applicant", "priority": 0, "lock_version": 1,
                "created_at": now, "updated_at": now}).scalar_one()
            (task_id,) = _open_tasks(conn, instance_id, result, now, 0)
            conn.execute(HISTORY.insert(), [_history(instance_id, None, None, "start",
                                                     "applicant", now)])
        for step in STEPS:
            now = utcnow()
            with db.engine.begin() as conn:
                closed = conn.execute(TASKS.update().where(
                    TASKS.c.id == task_id, TASKS.c.state == "open").values(
                    state="done", action="approve", completed_by=f"{step}_approver",
                    completed_at=now).returning(TASKS.c.engine_task_id)).one()
                state = conn.execute(INSTANCES.update().where(INSTANCES.c.id == instance_id)
                                     .values(lock_version=INSTANCES.c.lock_version + 1)
                                     .returning(INSTANCES.c.state)).scalar_one()
                result = runtime.complete(state, closed.engine_task_id, "approve", {},
                                          user=f"{step}_approver")
                status = result.status["state"]
                conn.execute(INSTANCES.update().where(INSTANCES.c.id == instance_id).values(
                    state=result.state, status=status, updated_at=now,
                    ended_at=None if status == "running" else now))
                events = [_history(instance_id, task_id, step, "approve",
                                   f"{step}_approver", now)]
                if status == "running":
                    (task_id,) = _open_tasks(conn, instance_id, result, now, 0)
                else:
                    events.append(_history(instance_id, None, None, status, None, now))
                conn.execute(HISTORY.insert(), events)
        if status != "completed":
            raise AssertionError(f"floor instance {instance_id} ended {status}")

    return timed(run, len(record_ids), chunks)
