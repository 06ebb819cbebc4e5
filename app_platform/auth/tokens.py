"""Passwords and bearer tokens. Tokens are random, shown once, and stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

TOKEN_PREFIX = "loom_"
SCOPES = ("records:read", "records:write", "apps:read", "apps:write", "admin")


def hash_password(password: str, method: str = "scrypt") -> str:
    return generate_password_hash(password, method=method)


def password_matches(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def scope_allows(scopes: list[str], needed: str) -> bool:
    """``*`` (a login session) allows everything; ``records:write`` implies read."""
    if "*" in scopes or "admin" in scopes or needed in scopes:
        return True
    noun, _, verb = needed.partition(":")
    return verb == "read" and f"{noun}:write" in scopes
