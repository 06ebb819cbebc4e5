"""Login and API tokens."""

from flask import jsonify

from app_platform.api import bp
from app_platform.api.common import documented, json_body
from app_platform.auth.identity import require_caller
from app_platform.extensions import db
from app_platform.schemas import LoginSchema, TokenCreateSchema, json_schema
from app_platform.services import users

LOGIN_BODY = json_schema(LoginSchema)
TOKEN_BODY = json_schema(TokenCreateSchema)


@bp.post("/auth/login")
@documented("POST", "/auth/login", "Log in; returns a bearer token", tag="auth",
            body=LOGIN_BODY, responses={200: "token and user", 401: "wrong credentials",
                                        423: "locked after repeated failures"})
def login():
    user, token = users.login(db.session, json_body())
    return jsonify(token=token, user=users.user_json(user))


@bp.get("/auth/me")
@documented("GET", "/auth/me", "The calling user", tag="auth")
def me():
    caller = require_caller()
    return jsonify(user=users.user_json(caller.user), scopes=caller.scopes)


@bp.post("/tokens")
@documented("POST", "/tokens", "Create a long-lived API token (shown once)", tag="auth",
            body=TOKEN_BODY, responses={201: "the token"})
def create_token():
    caller = require_caller()
    row, token = users.create_api_token(db.session, caller, json_body())
    return jsonify(id=row.id, name=row.name, scopes=row.scopes, token=token), 201


@bp.delete("/tokens/<int:token_id>")
@documented("DELETE", "/tokens/{token_id}", "Revoke a token", tag="auth",
            responses={204: "revoked"})
def revoke_token(token_id: int):
    users.revoke_token(db.session, require_caller(), token_id)
    return "", 204
