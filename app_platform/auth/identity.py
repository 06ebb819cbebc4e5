"""Resolving the caller of a request: a bearer token (API) or the browser session (with
CSRF protection on unsafe methods)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from flask import g, request, session

from app_platform.auth.tokens import scope_allows, token_digest
from app_platform.errors import Forbidden, Unauthenticated
from app_platform.extensions import db
from app_platform.models import ApiToken, User, utcnow

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Caller:
    user: User
    scopes: list[str] = field(default_factory=lambda: ["*"])
    via: str = "token"  # token | session

    @property
    def username(self) -> str:
        return self.user.username

    @property
    def roles(self) -> set[str]:
        return self.user.role_keys

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        session["csrf"] = token
    return token


def _from_bearer(header: str) -> Caller:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("use 'Authorization: Bearer <token>'")
    row = db.session.query(ApiToken).filter_by(token_hash=token_digest(token.strip())).first()
    now = utcnow()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("the token is invalid or revoked")
    expires = row.expires_at
    if expires is not None and _aware(expires) < now:
        raise Unauthenticated("the token has expired; log in again")
    if not row.user.is_active:
        raise Unauthenticated("the account is disabled")
    return Caller(user=row.user, scopes=list(row.scopes or []), via="token")


def _aware(moment):  # SQLite hands back naive UTC datetimes
    import datetime as dt

    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _from_session() -> Caller | None:
    user_id = session.get("user_id")
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        session.clear()
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
        if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
            raise Forbidden("missing or wrong CSRF token", code="csrf_failed")
    return Caller(user=user, scopes=["*"], via="session")


def current_caller(optional: bool = False) -> Caller | None:
    """The authenticated caller of this request (cached on ``g``)."""
    if "caller" in g:
        return g.caller
    header = request.headers.get("Authorization")
    caller = _from_bearer(header) if header else _from_session()
    if caller is None and not optional:
        raise Unauthenticated("log in or send a bearer token")
    g.caller = caller
    return caller


def require_caller(scope: str | None = None) -> Caller:
    caller = current_caller()
    assert caller is not None
    if scope and not scope_allows(caller.scopes, scope):
        raise Forbidden(f"this token lacks the scope {scope!r}", code="insufficient_scope")
    return caller
