"""Simulation before publish: run a draft process against a sample or an existing record
and report the path it takes, who would be asked at each step and which timers would fire.

Why the real engine, in memory: a simulator with its own interpretation of the node JSON
would drift from what production runs. Here the draft is compiled and deployed exactly
as a publish would (same errors, same 422s), then ``FlowRuntime`` runs it with a fake
clock, the real user directory (read only) and recording stand-ins for the platform
actions, so nothing is written: no definition row, no instance, no record change.
Each waiting task is decided as the designer asked (``decisions``: approve by default,
reject, or ``timeout`` to let its boundary timer fire).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.errors import Unprocessable
from app_platform.services.apps import app_for
from app_platform.services.entities import get_entity
from app_platform.services.flow_runtime import SERIALIZER, UserDirectory, to_flow_data
from app_platform.services.flows import definition_error
from app_platform.services.records import RecordService
from engines.flow import (
    DeployedProcess,
    FlowDefinitionError,
    FlowError,
    FlowResult,
    FlowRuntime,
    TaskSpecView,
    deploy,
    deploy_designer,
)
from engines.form import RecordInvalid, RecordValidator

#: platform actions a service step may call (flow_runtime binds the real ones); the
#: simulator records the call and its parameters instead of writing
SIMULATED_ACTIONS = ("update_record", "create_record")
DECISIONS = ("approve", "reject", "timeout")
MAX_STEPS = 60
STEP_GAP = dt.timedelta(minutes=5)  # fake time an approver takes per step
BODY_KEYS = {"key", "name", "entity", "nodes", "bpmn_xml", "record_id", "data", "decisions",
             "initiator"}


class FakeClock:
    """The runtime's clock: starts at the request's ``now`` and moves only when told."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


def _problem(path: str, message: str) -> Unprocessable:
    return Unprocessable(message, [{"path": path, "message": message}])


def _compile(body: dict[str, Any]) -> DeployedProcess:
    key = body.get("key") or "simulation"
    try:
        if isinstance(body.get("bpmn_xml"), str):
            return deploy(body["bpmn_xml"])
        if not isinstance(body.get("nodes"), list):
            raise _problem("nodes", "send the draft as nodes (or bpmn_xml)")
        return deploy_designer({"key": key, "name": body.get("name") or key,
                                "nodes": body["nodes"]})
    except FlowDefinitionError as err:
        raise definition_error(err) from None


def _decisions(body: dict[str, Any]) -> dict[str, str]:
    raw = body.get("decisions") or {}
    if not isinstance(raw, dict) or any(v not in DECISIONS for v in raw.values()):
        raise _problem("decisions", "an object of step id -> approve | reject | timeout")
    return {str(k): str(v) for k, v in raw.items()}


def _record_data(session: Session, caller: Caller, app: Any, entity: Any,
                 body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Flow data and record owner: an existing record (read with the caller's rights) or
    sample values checked by the entity's own validator."""
    if body.get("record_id") is not None:
        record_id = body["record_id"]
        if isinstance(record_id, bool) or not isinstance(record_id, int):
            raise _problem("record_id", "must be a whole number")
        record = RecordService(session, caller, app, entity).get(record_id)
        return to_flow_data(entity, record), record.get("created_by")
    sample = body.get("data") or {}
    if not isinstance(sample, dict):
        raise _problem("data", "sample values must be an object")
    # card numbers are tokenized with the server's key on write and never reach a
    # flow's conditions as digits, so a simulation leaves them out
    cards = {f["key"] for f in entity.definition["fields"] if f["type"] == "card_number"}
    definition = {**entity.definition,
                  "fields": [f for f in entity.definition["fields"] if f["key"] not in cards]}
    sample = {k: v for k, v in sample.items() if k not in cards}
    try:
        RecordValidator(definition).validate(sample, partial=True)
    except RecordInvalid as err:
        raise Unprocessable(err.message, err.details()) from None
    return to_flow_data(entity, {"id": None, **sample}), None


def _who(directory: UserDirectory, view: TaskSpecView) -> dict[str, Any]:
    members = {role: directory.users_with_role(role) for role in view.candidate_roles
               if not role.startswith("dept_head:")}
    unknown = [u for u in view.assignees if not directory.user_exists(u)]
    return {"assignees": view.assignees, "candidate_roles": view.candidate_roles,
            "role_members": members, "unknown_users": unknown,
            "nobody": not view.assignees and not any(members.values())}


def _actor(view: TaskSpecView, who: dict[str, Any]) -> str:
    if view.assignees:
        return view.assignees[0]
    for members in who["role_members"].values():
        if members:
            return members[0]
    return "simulator"


def _effects(result: FlowResult) -> list[dict[str, Any]]:
    out = []
    for effect in result.effects:
        item = {k: v for k, v in effect.items() if k != "result"}
        out.append(json.loads(json.dumps(item, default=str)))
    return out


def _visited(state: str) -> list[str]:
    """BPMN ids the instance has completed, oldest first (read from the serialized task
    tree: SpiffWorkflow's documented JSON format, COMPLETED = 64)."""
    tasks = json.loads(state).get("workflow", {}).get("tasks", {}).values()
    done = sorted((t.get("last_state_change") or 0, t["task_spec"]) for t in tasks
                  if t.get("state") == 64)
    internal = {"Start", "End", "Root"}  # SpiffWorkflow's own specs, not BPMN elements
    return list(dict.fromkeys(name for _, name in done
                              if name not in internal and "." not in name))


def _recording_actions(calls: list[dict[str, Any]]) -> dict[str, Any]:
    def make(name: str) -> Any:
        def record(params: dict[str, Any], _data: Any) -> dict[str, Any]:
            calls.append({"action": name, "params": json.loads(json.dumps(params,
                                                                          default=str))})
            return {"simulated": True}
        return record
    return {name: make(name) for name in SIMULATED_ACTIONS}


def simulate(session: Session, caller: Caller, app_key: str, body: Any,
             now: dt.datetime) -> dict[str, Any]:
    """Run a draft in memory; the report names every step, its people, timers and the end."""
    if not isinstance(body, dict):
        raise Unprocessable("the body must be a JSON object")
    unknown = sorted(set(body) - BODY_KEYS)
    if unknown:
        raise Unprocessable("unknown properties", [{"path": k, "message": "not accepted"}
                                                   for k in unknown])
    app = app_for(session, caller, app_key, "design")
    if not isinstance(body.get("entity"), str):
        raise _problem("entity", "the entity the process is bound to")
    entity = get_entity(session, app, body["entity"])
    decisions = _decisions(body)
    deployed = _compile(body)
    data, owner = _record_data(session, caller, app, entity, body)
    initiator = body.get("initiator") or caller.username
    if not isinstance(initiator, str):
        raise _problem("initiator", "a username")
    directory = UserDirectory(session)
    clock, calls = FakeClock(now), []
    runtime = FlowRuntime(actions=_recording_actions(calls), directory=directory, clock=clock,
                          serializer=SERIALIZER)
    steps: list[dict[str, Any]] = []
    try:
        result = runtime.start(deployed, data, initiator=initiator, record_owner=owner)
        effects = [{"at": now.isoformat(), **e} for e in _effects(result)]
        while result.status.get("state") == "running" and result.tasks:
            if len(steps) >= MAX_STEPS:
                break
            view = result.tasks[0]
            who = _who(directory, view)
            decision = decisions.get(view.node_id, "approve")
            step = {"node_id": view.node_id, "name": view.name, "attempt": view.attempt,
                    "at": clock.now.isoformat(), "due_at": view.due_at,
                    "countersign": view.countersign, **who, "decision": decision}
            if who["nobody"] or who["unknown_users"]:
                step["problem"] = "nobody can act on this step" if who["nobody"] else \
                    f"unknown user(s): {', '.join(who['unknown_users'])}"
            steps.append(step)
            if decision == "timeout" and view.due_at:
                clock.now = max(clock.now, dt.datetime.fromisoformat(view.due_at))
                result = runtime.fire_due_timers(result.state, clock.now)
                step["decision"] = "timeout"
            else:
                clock.now += STEP_GAP
                action = "reject" if decision == "reject" else "approve"
                step["decision"] = action
                result = runtime.complete(result.state, view.task_id, action, {},
                                          user=_actor(view, who))
            effects += [{"at": clock.now.isoformat(), **e} for e in _effects(result)]
    except FlowError as err:
        raise Unprocessable(str(err), [{"path": str(err.detail.get("element") or
                                                    err.detail.get("field") or "data"),
                                        "message": err.message}], code=err.code) from None
    status = result.status
    return {"status": status.get("state"), "end": status.get("end"),
            "error": {k: status.get(k) for k in ("element", "message", "code")}
            if status.get("state") == "errored" else None,
            "truncated": len(steps) >= MAX_STEPS, "initiator": initiator, "data": data,
            "steps": steps, "effects": effects, "actions": calls,
            "visited": _visited(result.state), "warnings": deployed.warnings,
            "bpmn_xml": deployed.bpmn_xml}
