"""Who may do what: app-level grants per role, entity-level create/read/update/delete
(all, own records, or nothing), and field-level hidden / read-only per role.

A user's rights are the union over their roles; the admin role may do everything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app_platform.errors import Forbidden
from app_platform.models import GRANT_LEVELS, App

RANK = {level: i for i, level in enumerate(GRANT_LEVELS, start=1)}
DEFAULT_GRANTS = {"designer": "design", "member": "use", "integrator": "use"}
# what an app grant gives on records when the entity does not say otherwise
DEFAULT_RIGHTS = {
    "use": {"create": True, "read": "all", "update": "all", "delete": "own"},
    "design": {"create": True, "read": "all", "update": "all", "delete": "all"},
    "manage": {"create": True, "read": "all", "update": "all", "delete": "all"},
}
SCOPE_ORDER = {False: 0, None: 0, "own": 1, "all": 2}


def app_level(roles: set[str], is_admin: bool, app: App) -> str | None:
    if is_admin:
        return "manage"
    best = None
    for grant in app.grants:
        if grant.role_key in roles and (best is None or RANK[grant.level] > RANK[best]):
            best = grant.level
    return best


def require_app_level(roles: set[str], is_admin: bool, app: App, level: str) -> str:
    have = app_level(roles, is_admin, app)
    if have is None:
        raise Forbidden(f"you have no access to app {app.key!r}")
    if RANK[have] < RANK[level]:
        raise Forbidden(f"app {app.key!r} needs {level!r} access; you have {have!r}")
    return have


@dataclass(frozen=True)
class Rights:
    create: bool
    read: Any  # "all" | "own" | False
    update: Any
    delete: Any


def entity_rights(roles: set[str], is_admin: bool, app: App,
                  definition: dict[str, Any]) -> Rights:
    if is_admin:
        return Rights(True, "all", "all", "all")
    overrides = definition.get("permissions") or {}
    merged = {"create": False, "read": False, "update": False, "delete": False}
    for grant in app.grants:
        if grant.role_key not in roles:
            continue
        rights = dict(DEFAULT_RIGHTS[grant.level])
        if grant.level == "use" and grant.role_key in overrides:
            rights.update(overrides[grant.role_key])
        merged["create"] = merged["create"] or bool(rights.get("create"))
        for action in ("read", "update", "delete"):
            if SCOPE_ORDER[rights.get(action)] > SCOPE_ORDER[merged[action]]:
                merged[action] = rights.get(action)
    return Rights(**merged)


def field_access(roles: set[str], is_admin: bool,
                 definition: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(hidden, read_only) field keys for this user: a field is hidden only when every one
    of the user's roles hides it, and read-only when none of them may write it."""
    hidden: set[str] = set()
    read_only: set[str] = set()
    for fdef in definition["fields"]:
        if fdef.get("read_only"):
            read_only.add(fdef["key"])
        if is_admin:
            continue
        rules = fdef.get("permissions") or {}
        if not rules or not roles:
            continue
        modes = [rules.get(role) for role in roles]
        if all(m == "hidden" for m in modes):
            hidden.add(fdef["key"])
        elif all(m in ("hidden", "read_only") for m in modes):
            read_only.add(fdef["key"])
    return hidden, read_only
