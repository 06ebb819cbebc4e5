"""Simulation of a draft process (approval designer or BPMN) before it is published."""

from flask import jsonify

from app_platform.api import bp
from app_platform.api.common import documented, json_object
from app_platform.auth.identity import require_caller
from app_platform.extensions import db
from app_platform.models import utcnow
from app_platform.services import flow_simulation

SIMULATE_BODY = {"type": "object", "required": ["entity"], "properties": {
    "key": {"type": "string"}, "name": {"type": "string"}, "entity": {"type": "string"},
    "nodes": {"type": "array"}, "bpmn_xml": {"type": "string"},
    "record_id": {"type": "integer", "description": "an existing record to run against"},
    "data": {"type": "object", "description": "sample field values (instead of record_id)"},
    "decisions": {"type": "object", "description": "step id -> approve | reject | timeout"},
    "initiator": {"type": "string"}}}


@bp.post("/apps/<app_key>/processes/simulate")
@documented("POST", "/apps/{app}/processes/simulate", "Run a draft in memory against a "
            "sample or existing record: the path, who is asked at each step, timers; "
            "nothing is stored", tag="flows", body=SIMULATE_BODY,
            responses={200: "the simulated run", 403: "needs design access",
                       422: "invalid draft or sample data"})
def simulate_process(app_key: str):
    caller = require_caller("apps:write")
    return jsonify(flow_simulation.simulate(db.session, caller, app_key, json_object(),
                                            utcnow()))
