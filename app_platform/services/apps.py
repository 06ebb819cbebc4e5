"""Apps: the namespace of entities, flows, rules and reports, with per-role grants."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.auth.permissions import DEFAULT_GRANTS, app_level, require_app_level
from app_platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from app_platform.models import App, AppGrant, Role
from app_platform.schemas import AppCreateSchema, load

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def get_app(session: Session, key: str) -> App:
    app = session.query(App).filter_by(key=key).first()
    if app is None:
        raise NotFound(f"no app {key!r}")
    return app


def app_for(session: Session, caller: Caller, key: str, level: str = "use") -> App:
    """The app, if the caller holds at least ``level`` on it (403 otherwise; 404 when it
    does not exist)."""
    app = get_app(session, key)
    require_app_level(caller.roles, caller.is_admin, app, level)
    return app


def app_json(app: App, level: str | None = None) -> dict[str, Any]:
    return {
        "key": app.key, "name": app.name, "description": app.description,
        "version": app.version, "installed_from": app.installed_from,
        "created_by": app.created_by,
        "created_at": app.created_at.isoformat() if app.created_at else None,
        "grants": {g.role_key: g.level for g in app.grants},
        "my_access": level,
    }


def list_apps(session: Session, caller: Caller) -> list[dict[str, Any]]:
    result = []
    for app in session.query(App).order_by(App.key):
        level = app_level(caller.roles, caller.is_admin, app)
        if level:
            result.append(app_json(app, level))
    return result


def check_app_payload(data: Any) -> dict[str, Any]:
    data = load(AppCreateSchema, data)
    if not data["name"].strip():
        raise Unprocessable("name: must not be blank",
                            [{"path": "name", "message": "must not be blank"}])
    return data


def create_app_record(session: Session, caller: Caller, data: Any, *,
                      installed_from: str | None = None, version: str = "1.0.0",
                      commit: bool = True) -> App:
    if not (caller.is_admin or "designer" in caller.roles):
        raise Forbidden("only admins and designers create apps")
    data = check_app_payload(data)
    if session.query(App).filter_by(key=data["key"]).first() is not None:
        raise Conflict(f"an app {data['key']!r} already exists")
    grants = dict(DEFAULT_GRANTS)
    grants.update(data.get("grants") or {})
    known_roles = {r.key for r in session.query(Role)}
    unknown = sorted(set(grants) - known_roles)
    if unknown:
        raise Unprocessable("unknown roles in grants",
                            [{"path": f"grants.{r}", "message": "no such role"} for r in unknown])
    app = App(key=data["key"], name=data["name"].strip(),
              description=data.get("description", ""), created_by=caller.username,
              installed_from=installed_from, version=version)
    app.grants = [AppGrant(role_key=r, level=lvl) for r, lvl in sorted(grants.items())]
    session.add(app)
    if commit:
        session.commit()
    else:
        session.flush()
    return app
