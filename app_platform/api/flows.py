"""Approval flows: process definitions, instances, and the caller's task inbox."""

from flask import jsonify, request

from app_platform.api import bp
from app_platform.api.common import documented, json_body, json_object, page_args
from app_platform.auth.identity import require_caller
from app_platform.errors import BadRequest
from app_platform.extensions import db
from app_platform.models import utcnow
from app_platform.services import flow_inbox, flow_instances, flow_tasks, flows

PROCESS_BODY = {"type": "object", "required": ["key", "entity"], "properties": {
    "key": {"type": "string"}, "name": {"type": "string"}, "entity": {"type": "string"},
    "bpmn_xml": {"type": "string"}, "nodes": {"type": "array"}}}
COMPLETE_BODY = {"type": "object", "required": ["action"], "properties": {
    "action": {"enum": ["approve", "reject", "return", "submit"]}, "data": {"type": "object"},
    "comment": {"type": "string"}, "return_to": {"type": "string"}}}
TO_USER_BODY = {"type": "object", "required": ["to_user"], "properties": {
    "to_user": {"type": "string"}, "comment": {"type": "string"},
    "until": {"type": "string", "format": "date-time"},
    "position": {"enum": ["before", "after"]}}}
TASK_ERRORS = {200: "done", 403: "not your task", 404: "no such task",
               409: "already completed, claimed or not running", 422: "invalid"}


@bp.get("/apps/<app_key>/processes")
@documented("GET", "/apps/{app}/processes", "Processes (newest version of each)", tag="flows")
def list_processes(app_key: str):
    items = flows.list_processes(db.session, require_caller("apps:read"), app_key)
    return jsonify(items=items, total=len(items), next_cursor=None)


@bp.post("/apps/<app_key>/processes")
@documented("POST", "/apps/{app}/processes", "Deploy a process (BPMN XML or designer nodes) "
            "as a new version", tag="flows", body=PROCESS_BODY,
            responses={201: "deployed", 403: "needs design access", 422: "invalid definition"})
def deploy_process(app_key: str):
    caller = require_caller("apps:write")
    return jsonify(flows.deploy_process(db.session, caller, app_key, json_body())), 201


@bp.get("/apps/<app_key>/processes/<key>")
@documented("GET", "/apps/{app}/processes/{key}", "A process (?version=N for an older one)",
            tag="flows", params=[{"name": "version", "in": "query"}])
def get_process(app_key: str, key: str):
    raw = request.args.get("version")
    if raw is not None and not raw.isdigit():
        raise BadRequest("version must be a whole number", code="invalid_query")
    return jsonify(flows.get_process(db.session, require_caller("apps:read"), app_key, key,
                                     int(raw) if raw else None))


@bp.put("/apps/<app_key>/processes/<key>")
@documented("PUT", "/apps/{app}/processes/{key}", "Deploy a new version of a process",
            tag="flows", body=PROCESS_BODY, responses={200: "deployed", 422: "invalid"})
def update_process(app_key: str, key: str):
    caller = require_caller("apps:write")
    return jsonify(flows.deploy_process(db.session, caller, app_key, json_body(), key=key))


@bp.post("/apps/<app_key>/processes/<key>/instances")
@documented("POST", "/apps/{app}/processes/{key}/instances", "Start on a record",
            tag="flows", body={"type": "object", "required": ["record_id"], "properties": {
                "record_id": {"type": "integer"}, "data": {"type": "object"},
                "priority": {"type": "integer"}}},
            responses={201: "started", 403: "may not read the record", 409: "already running"})
def start_instance(app_key: str, key: str):
    caller = require_caller("records:write")
    instance = flow_instances.start_instance(db.session, caller, app_key, key, json_object(),
                                             utcnow())
    return jsonify(flow_instances.get_instance(db.session, caller, instance.id)), 201


@bp.get("/instances/<int:instance_id>")
@documented("GET", "/instances/{id}", "Status, current tasks and history", tag="flows")
def get_instance(instance_id: int):
    caller = require_caller("records:read")
    return jsonify(flow_instances.get_instance(db.session, caller, instance_id))


@bp.post("/instances/<int:instance_id>/withdraw")
@documented("POST", "/instances/{id}/withdraw", "The starter withdraws before anyone acted",
            tag="flows", responses={200: "withdrawn", 403: "not the starter",
                                    409: "someone acted already"})
def withdraw_instance(instance_id: int):
    caller = require_caller("records:write")
    flow_instances.withdraw(db.session, caller, instance_id, json_body(required=False),
                            utcnow())
    return jsonify(flow_instances.get_instance(db.session, caller, instance_id))


@bp.post("/instances/<int:instance_id>/retry")
@documented("POST", "/instances/{id}/retry", "Offer an errored instance's tasks again after "
            "the cause was fixed (admins, app managers)", tag="flows",
            responses={200: "running again", 403: "needs manage access", 409: "not retryable"})
def retry_instance(instance_id: int):
    caller = require_caller("apps:write")
    flow_instances.retry(db.session, caller, instance_id, utcnow())
    return jsonify(flow_instances.get_instance(db.session, caller, instance_id))


@bp.get("/tasks")
@documented("GET", "/tasks", "The caller's inbox: view=todo|done|started|cc, paged, counts",
            tag="flows", params=[{"name": n, "in": "query"}
                                 for n in ("view", "app", "process", "q", "limit", "offset")])
def list_tasks():
    caller = require_caller("records:read")
    limit, offset = page_args()
    args = request.args
    return jsonify(flow_inbox.inbox(db.session, caller, args.get("view", "todo"), limit,
                                    offset, utcnow(), app_key=args.get("app"),
                                    process=args.get("process"), q=args.get("q")))


@bp.get("/tasks/<int:task_id>")
@documented("GET", "/tasks/{id}", "Task, its form as this step shows it, the record",
            tag="flows")
def get_task(task_id: int):
    caller = require_caller("records:read")
    return jsonify(flow_tasks.task_detail(db.session, caller, task_id, utcnow()))


@bp.post("/tasks/<int:task_id>/claim")
@documented("POST", "/tasks/{id}/claim", "Claim a task offered to a role", tag="flows",
            responses=TASK_ERRORS)
def claim_task(task_id: int):
    caller = require_caller("records:write")
    return jsonify(flow_tasks.claim(db.session, caller, task_id, utcnow()))


@bp.post("/tasks/<int:task_id>/complete")
@documented("POST", "/tasks/{id}/complete", "Approve, reject or return", tag="flows",
            body=COMPLETE_BODY, responses=TASK_ERRORS)
def complete_task(task_id: int):
    caller = require_caller("records:write")
    return jsonify(flow_tasks.complete(db.session, caller, task_id, json_object(), utcnow()))


def _reassign(task_id: int, kind: str):
    caller = require_caller("records:write")
    return jsonify(flow_tasks.reassign(db.session, caller, task_id, kind, json_object(),
                                       utcnow()))


@bp.post("/tasks/<int:task_id>/transfer")
@documented("POST", "/tasks/{id}/transfer", "转办: hand the task to someone else",
            tag="flows", body=TO_USER_BODY, responses=TASK_ERRORS)
def transfer_task(task_id: int):
    return _reassign(task_id, "transfer")


@bp.post("/tasks/<int:task_id>/delegate")
@documented("POST", "/tasks/{id}/delegate", "委托: someone acts for you (optional until)",
            tag="flows", body=TO_USER_BODY, responses=TASK_ERRORS)
def delegate_task(task_id: int):
    return _reassign(task_id, "delegate")


@bp.post("/tasks/<int:task_id>/add-signer")
@documented("POST", "/tasks/{id}/add-signer", "加签: someone signs before or after you",
            tag="flows", body=TO_USER_BODY, responses=TASK_ERRORS)
def add_signer(task_id: int):
    return _reassign(task_id, "add_signer")


@bp.post("/tasks/<int:task_id>/urge")
@documented("POST", "/tasks/{id}/urge", "催办: the starter reminds the task's holder",
            tag="flows", responses=TASK_ERRORS)
def urge_task(task_id: int):
    caller = require_caller("records:write")
    return jsonify(flow_tasks.urge(db.session, caller, task_id, json_body(required=False),
                                   utcnow()))
