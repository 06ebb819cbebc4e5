"""Rules (definitions, dry run, run log), posted events, and what rules leave for people
(notifications, rule tasks)."""

from flask import jsonify, request

from app_platform.api import bp
from app_platform.api.common import documented, flag, json_body, page_args
from app_platform.auth.identity import require_caller
from app_platform.errors import BadRequest
from app_platform.extensions import db
from app_platform.services import record_events, rule_dryrun, rule_inbox, rules
from engines.rule import action_types
from engines.rule.model import OPS_BY_CATEGORY
from engines.rule.schema import TRIGGER_TYPES
from engines.rule.values import CATEGORY_BY_FIELD_TYPE

BASE, DOC = "/apps/<app_key>/rules", "/apps/{app}/rules"
RULE_BODY = {"type": "object", "required": ["key", "name", "trigger", "actions"]}
TEST_BODY = {"type": "object", "description": '{"record_id": N} or {"event": {"data": {...}, '
             '"old"?: {...}}}; "rule" tests an unsaved draft'}
EVENT_BODY = {"type": "object", "required": ["type"],
              "properties": {"type": {"type": "string"}, "data": {"type": "object"},
                             "ref": {"type": "string", "description": "dedupe key"},
                             "ts": {"type": "string", "description": "epoch seconds"}}}
RUN_FILTERS = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"},
                "description": d} for n, d in (
    ("status", "ok|error|blocked|skipped|running"), ("record_id", "record id"),
    ("since", "ISO datetime"), ("until", "ISO datetime"), ("event_ref", "event ref"))]


def _version() -> int | None:
    raw = request.args.get("version")
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest("version must be a whole number", code="invalid_query")
    return int(raw)


@bp.get("/rule-types")
@documented("GET", "/rule-types", "Triggers, operators by field category and action types "
            "(JSON Schemas) for the rule editor", tag="rules")
def rule_types():
    require_caller()
    return jsonify(triggers=TRIGGER_TYPES, actions=action_types(),
                   operators={k: sorted(v) for k, v in OPS_BY_CATEGORY.items()},
                   always_ops=["is_empty", "is_not_empty", "changed", "changed_from",
                               "changed_to"],
                   categories=CATEGORY_BY_FIELD_TYPE)


@bp.get(BASE)
@documented("GET", DOC, "Rule definitions (newest version of each)", tag="rules")
def list_rules(app_key: str):
    items = rules.list_rules(db.session, require_caller("apps:read"), app_key)
    return jsonify(items=items, total=len(items), next_cursor=None)


@bp.post(BASE)
@documented("POST", DOC, "Create a rule (validated against its entity's fields)", tag="rules",
            body=RULE_BODY, responses={201: "created", 409: "exists", 422: "invalid"})
def create_rule(app_key: str):
    caller = require_caller("apps:write")
    return jsonify(rules.save_rule(db.session, caller, app_key, json_body())), 201


@bp.get(BASE + "/<key>")
@documented("GET", DOC + "/{key}", "One rule (?version=N for an older one)", tag="rules")
def get_rule(app_key: str, key: str):
    caller = require_caller("apps:read")
    return jsonify(rules.get_rule(db.session, caller, app_key, key, _version()))


@bp.put(BASE + "/<key>")
@documented("PUT", DOC + "/{key}", "Save a new version; options.enabled enables/disables",
            tag="rules", body=RULE_BODY,
            responses={200: "saved", 409: "stale version", 422: "invalid"})
def put_rule(app_key: str, key: str):
    caller = require_caller("apps:write")
    return jsonify(rules.save_rule(db.session, caller, app_key, json_body(), key))


@bp.delete(BASE + "/<key>")
@documented("DELETE", DOC + "/{key}", "Delete a rule (every version; runs stay logged)",
            tag="rules", responses={204: "deleted"})
def delete_rule(app_key: str, key: str):
    rules.delete_rule(db.session, require_caller("apps:write"), app_key, key)
    return "", 204


@bp.post(BASE + "/<key>/test")
@documented("POST", DOC + "/{key}/test", "Dry run on a record or pasted event: which "
            "conditions held, which actions would run", tag="rules", body=TEST_BODY,
            responses={200: "result", 422: "bad record/event"})
def test_rule(app_key: str, key: str):
    caller = require_caller("apps:read")
    return jsonify(rule_dryrun.dry_run(db.session, caller, app_key, key, json_body()))


@bp.get(BASE + "/<key>/runs")
@documented("GET", DOC + "/{key}/runs", "Execution log, newest first", tag="rules",
            params=RUN_FILTERS)
def rule_runs(app_key: str, key: str):
    caller = require_caller("apps:read")
    limit, offset = page_args()
    return jsonify(rule_dryrun.list_runs(db.session, caller, app_key, key, request.args,
                                         limit, offset))


@bp.post("/apps/<app_key>/events")
@documented("POST", "/apps/{app}/events", "Post an event to the app's rules", tag="rules",
            body=EVENT_BODY, responses={202: "accepted", 422: "malformed event"})
def post_event(app_key: str):
    caller = require_caller("records:write")
    return jsonify(record_events.post_api_event(db.session, caller, app_key, json_body())), 202


@bp.get("/notifications")
@documented("GET", "/notifications", "The caller's in-app notifications (?unread=true)",
            tag="rules")
def list_notifications():
    caller = require_caller()
    limit, offset = page_args()
    return jsonify(rule_inbox.notifications(db.session, caller, flag("unread"), limit, offset))


@bp.post("/notifications/<int:notification_id>/read")
@documented("POST", "/notifications/{id}/read", "Mark a notification read", tag="rules",
            responses={204: "done"})
def read_notification(notification_id: int):
    rule_inbox.mark_read(db.session, require_caller(), notification_id)
    return "", 204


@bp.get("/rule-tasks")
@documented("GET", "/rule-tasks", "Tasks rules created for the caller or their roles "
            "(?state=open|done&app=)", tag="rules")
def list_rule_tasks():
    caller = require_caller("records:read")
    limit, offset = page_args()
    return jsonify(rule_inbox.tasks(db.session, caller, request.args.get("state", "open"),
                                    request.args.get("app"), limit, offset))


@bp.post("/rule-tasks/<int:task_id>/complete")
@documented("POST", "/rule-tasks/{id}/complete", "Complete a rule task", tag="rules",
            responses={200: "completed", 409: "already completed"})
def complete_rule_task(task_id: int):
    caller = require_caller("records:write")
    return jsonify(rule_inbox.complete_task(db.session, caller, task_id))
