"""Users, roles, login and tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from app_platform.auth.identity import Caller
from app_platform.auth.tokens import (
    hash_password,
    new_token,
    password_matches,
    token_digest,
)
from app_platform.errors import Conflict, Forbidden, Locked, Unauthenticated, Unprocessable
from app_platform.models import BUILTIN_ROLES, ApiToken, Role, User, utcnow
from app_platform.params import MAX_INT
from app_platform.schemas import LoginSchema, TokenCreateSchema, UserCreateSchema, load


def ensure_builtin_roles(session: Session) -> None:
    existing = {r.key for r in session.query(Role)}
    for key, name in BUILTIN_ROLES.items():
        if key not in existing:
            session.add(Role(key=key, name=name, builtin=True))
    session.flush()


def user_json(user: User, full: bool = True) -> dict[str, Any]:
    out = {"username": user.username, "display_name": user.display_name}
    if full:
        out.update(email=user.email, department=user.department, manager=user.manager,
                   roles=sorted(user.role_keys), is_active=user.is_active)
    return out


def create_user(session: Session, data: Any, *, commit: bool = True) -> User:
    data = load(UserCreateSchema, data)
    username, password, roles = data["username"], data["password"], data["roles"]
    known = {r.key for r in session.query(Role)}
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise Unprocessable(f"unknown roles {unknown}",
                            [{"path": "roles", "message": f"roles must be among {sorted(known)}"}])
    if session.query(User).filter_by(username=username).first():
        raise Conflict(f"user {username!r} already exists")
    user = User(username=username, display_name=data.get("display_name") or username,
                email=data.get("email"), department=data.get("department"),
                manager=data.get("manager"),
                password_hash=hash_password(password, current_app.config["PASSWORD_HASH"]))
    user.roles = session.query(Role).filter(Role.key.in_(roles)).all()
    session.add(user)
    if commit:
        session.commit()
    return user


def login(session: Session, data: Any) -> tuple[User, str]:
    """Check the password (with lockout after repeated failures) and issue a session
    token that expires."""
    data = load(LoginSchema, data)
    config = current_app.config
    user = session.query(User).filter_by(username=data["username"]).first()
    now = utcnow()
    if user is not None and user.locked_until is not None:
        until = user.locked_until if user.locked_until.tzinfo else \
            user.locked_until.replace(tzinfo=dt.UTC)
        if until > now:
            raise Locked("too many failed logins; try again later")
    if user is None or not user.is_active or not password_matches(user.password_hash,
                                                                  data["password"]):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= config["LOGIN_MAX_FAILURES"]:
                user.locked_until = now + dt.timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
                user.failed_logins = 0
            session.commit()
        raise Unauthenticated("wrong username or password")
    user.failed_logins = 0
    user.locked_until = None
    token = issue_token(session, user, "login", "session", ["*"],
                        now + dt.timedelta(hours=config["SESSION_TOKEN_HOURS"]))
    session.commit()
    return user, token


def issue_token(session: Session, user: User, name: str, kind: str, scopes: list[str],
                expires_at: dt.datetime | None) -> str:
    token = new_token()
    session.add(ApiToken(user_id=user.id, name=name, kind=kind, token_hash=token_digest(token),
                         prefix=token[:12], scopes=scopes, created_at=utcnow(),
                         expires_at=expires_at))
    return token


def create_api_token(session: Session, caller: Caller, data: Any) -> tuple[ApiToken, str]:
    if not (caller.is_admin or "integrator" in caller.roles):
        raise Forbidden("only admins and integrators create API tokens")
    if caller.via == "token" and "*" not in caller.scopes:
        raise Forbidden("an API token cannot mint other tokens")
    data = load(TokenCreateSchema, data)
    name, scopes = data["name"], data["scopes"]
    if "admin" in scopes and not caller.is_admin:
        raise Unprocessable("only admins grant the admin scope",
                            [{"path": "scopes", "message": "only admins grant the admin scope"}])
    token = issue_token(session, caller.user, name, "api", scopes, None)
    session.commit()
    row = session.query(ApiToken).filter_by(token_hash=token_digest(token)).one()
    return row, token


def revoke_token(session: Session, caller: Caller, token_id: int) -> None:
    row = session.get(ApiToken, token_id) if token_id <= MAX_INT else None
    if row is None or (row.user_id != caller.user.id and not caller.is_admin):
        from app_platform.errors import NotFound

        raise NotFound(f"no token {token_id}")
    row.revoked_at = utcnow()
    session.commit()
