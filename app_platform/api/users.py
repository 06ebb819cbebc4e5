"""Admin: users and roles."""

from flask import jsonify

from app_platform.api import bp
from app_platform.api.common import documented, json_object, page_args
from app_platform.auth.identity import require_caller
from app_platform.errors import Conflict, Forbidden
from app_platform.extensions import db
from app_platform.models import Role, User
from app_platform.schemas import RoleCreateSchema, UserCreateSchema, json_schema, load
from app_platform.services import users

USER_BODY = json_schema(UserCreateSchema)


def _admin():
    caller = require_caller("admin")
    if not caller.is_admin:
        raise Forbidden("only admins manage users and roles")
    return caller


@bp.get("/users")
@documented("GET", "/users", "List users (admins see every detail)", tag="admin")
def list_users():
    caller = require_caller()
    limit, offset = page_args()
    query = db.session.query(User).order_by(User.username)
    items = [users.user_json(u, full=caller.is_admin)
             for u in query.limit(limit).offset(offset)]
    return jsonify(items=items, total=query.count(), next_cursor=None)


@bp.post("/users")
@documented("POST", "/users", "Create a user", tag="admin", body=USER_BODY,
            responses={201: "created", 403: "not an admin", 409: "exists"})
def create_user():
    _admin()
    user = users.create_user(db.session, json_object())
    return jsonify(users.user_json(user)), 201


@bp.get("/roles")
@documented("GET", "/roles", "List roles", tag="admin")
def list_roles():
    require_caller()
    items = [{"key": r.key, "name": r.name, "builtin": r.builtin}
             for r in db.session.query(Role).order_by(Role.key)]
    return jsonify(items=items, total=len(items), next_cursor=None)


@bp.post("/roles")
@documented("POST", "/roles", "Create a role", tag="admin",
            body=json_schema(RoleCreateSchema),
            responses={201: "created"})
def create_role():
    _admin()
    data = load(RoleCreateSchema, json_object())
    key, name = data["key"], data["name"]
    if db.session.get(Role, key) is not None:
        raise Conflict(f"role {key!r} exists")
    db.session.add(Role(key=key, name=name, builtin=False))
    db.session.commit()
    return jsonify(key=key, name=name, builtin=False), 201
