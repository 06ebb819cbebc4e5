"""Entity definitions (forms)."""

from flask import jsonify

from app_platform.api import bp
from app_platform.api.common import documented, flag, json_body
from app_platform.auth.identity import require_caller
from app_platform.auth.permissions import field_access
from app_platform.extensions import db
from app_platform.services import apps, entities

ENTITY_BODY = {"type": "object", "required": ["key", "fields"],
               "properties": {"key": {"type": "string"}, "label": {"type": "string"},
                              "fields": {"type": "array", "items": {"type": "object"}}}}


def _entity_out(caller, entity):  # noqa: ANN001, ANN202
    hidden, _ = field_access(caller.roles, caller.is_admin, entity.definition)
    return entities.entity_json(entity, hidden=hidden)


@bp.get("/apps/<app_key>/entities")
@documented("GET", "/apps/{app}/entities", "Entity definitions of an app", tag="entities")
def list_entities(app_key: str):
    caller = require_caller("apps:read")
    app = apps.app_for(db.session, caller, app_key)
    items = [_entity_out(caller, e) for e in entities.list_entities(db.session, app)]
    return jsonify(items=items, total=len(items), next_cursor=None)


@bp.post("/apps/<app_key>/entities")
@documented("POST", "/apps/{app}/entities", "Create an entity (creates its table)",
            tag="entities", body=ENTITY_BODY,
            responses={201: "created", 409: "exists", 422: "invalid definition"})
def create_entity(app_key: str):
    caller = require_caller("apps:write")
    app = apps.app_for(db.session, caller, app_key, "design")
    entity = entities.create_entity(db.session, caller, app, json_body())
    return jsonify(entities.entity_json(entity)), 201


@bp.get("/apps/<app_key>/entities/<entity_key>")
@documented("GET", "/apps/{app}/entities/{entity}", "One entity definition", tag="entities")
def get_entity(app_key: str, entity_key: str):
    caller = require_caller("apps:read")
    app = apps.app_for(db.session, caller, app_key)
    return jsonify(_entity_out(caller, entities.get_entity(db.session, app, entity_key)))


@bp.put("/apps/<app_key>/entities/<entity_key>")
@documented("PUT", "/apps/{app}/entities/{entity}",
            "Publish a new version (safe schema changes only; ?dry_run=true shows the plan)",
            tag="entities", body=ENTITY_BODY,
            responses={200: "published", 409: "stale version", 422: "unsafe or invalid"})
def put_entity(app_key: str, entity_key: str):
    caller = require_caller("apps:write")
    app = apps.app_for(db.session, caller, app_key, "design")
    entity, plan = entities.update_entity(db.session, caller, app, entity_key, json_body(),
                                          dry_run=flag("dry_run"))
    if flag("dry_run"):
        return jsonify(plan=plan, version=entity.version)
    return jsonify({**entities.entity_json(entity), "plan": plan})


@bp.delete("/apps/<app_key>/entities/<entity_key>")
@documented("DELETE", "/apps/{app}/entities/{entity}",
            "Delete an entity (refused while it has records unless ?purge=true)",
            tag="entities", responses={204: "deleted", 409: "has records or is linked"})
def delete_entity(app_key: str, entity_key: str):
    caller = require_caller("apps:write")
    app = apps.app_for(db.session, caller, app_key, "design")
    entities.delete_entity(db.session, caller, app, entity_key, purge=flag("purge"))
    return "", 204


@bp.get("/types")
@documented("GET", "/types", "Registered field, chart and approval-node types with their "
            "settings schemas (designers build property panels from these)", tag="entities")
def list_types():
    from engines.flow import node_types
    from engines.form import field_types
    from engines.report import chart_types

    require_caller()
    fields = [{"name": name, "label": kind.label or name, "computed": kind.computed,
               "sortable": kind.sortable, "filter_ops": sorted(kind.filter_ops),
               "settings_schema": kind.settings_schema()}
              for name, kind in sorted(field_types().items())]
    return jsonify(field_types=fields, chart_types=chart_types(), node_types=node_types())
