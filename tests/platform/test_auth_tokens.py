"""Login, lockout, session expiry, long-lived API tokens (shown once, stored hashed,
scoped, revocable) and the browser session's CSRF protection."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import sqlalchemy as sa

from app_platform.extensions import db

PASSWORD = "correct-horse-42"
RECORDS = "/api/v1/apps/crm/entities/customer/records"


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_rows(app: Any) -> list[dict[str, Any]]:
    with app.app_context(), db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text("SELECT * FROM api_tokens")).mappings()]


def test_login_returns_token_and_user(client):
    body = expect(login(client, "member"), 200)
    assert isinstance(body["token"], str) and len(body["token"]) >= 32
    assert body["user"]["username"] == "member"
    assert body["user"]["roles"] == ["member"]
    assert "password_hash" not in body["user"]
    me = expect(client.get("/api/v1/auth/me", headers=bearer(body["token"])), 200)
    assert me["user"]["username"] == "member"
    # each login is a new token; both work
    other = expect(login(client, "member"), 200)["token"]
    assert other != body["token"]
    expect(client.get("/api/v1/auth/me", headers=bearer(other)), 200)


def test_login_failures(client):
    for username, password in (("member", "wrong-password"), ("nobody", PASSWORD),
                               ("MEMBER", PASSWORD), ("member", ""),
                               ("member", PASSWORD.upper())):
        body = expect(login(client, username, password), 401)
        assert body["error"]["code"] == "unauthenticated"
        assert "token" not in body
    for bad in ({"username": "member"}, {"password": PASSWORD}, {}, []):
        response = client.post("/api/v1/auth/login", json=bad)
        assert response.status_code in (400, 422), (bad, response.get_json())
    response = client.post("/api/v1/auth/login", data="username=member&password=x",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_lockout_after_repeated_failures(client, app):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        expect(login(client, "member2", "wrong-password"), 401)
    body = expect(login(client, "member2"), 423)  # even the right password
    assert body["error"]["code"] == "locked"
    # other users are not affected
    expect(login(client, "member"), 200)
    # once the lock time has passed, the right password works again
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET locked_until = :t WHERE username = 'member2'"),
                     {"t": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)})
    expect(login(client, "member2"), 200)


def test_failures_below_the_limit_reset_on_success(client, app):
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit - 1):
        expect(login(client, "member2", "wrong-password"), 401)
    expect(login(client, "member2"), 200)
    for _ in range(limit - 1):
        expect(login(client, "member2", "wrong-password"), 401)
    expect(login(client, "member2"), 200)


def test_expired_session_token_is_401(client, app):
    token = expect(login(client, "member"), 200)["token"]
    digest = hashlib.sha256(token.encode()).hexdigest()
    with app.app_context(), db.engine.begin() as conn:
        changed = conn.execute(sa.text("UPDATE api_tokens SET expires_at = :t "
                                       "WHERE token_hash = :h"),
                               {"t": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
                                "h": digest})
        assert changed.rowcount == 1
    body = expect(client.get("/api/v1/auth/me", headers=bearer(token)), 401)
    assert body["error"]["code"] == "unauthenticated"


def test_disabled_user_token_is_401(client, app):
    token = expect(login(client, "member"), 200)["token"]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE users SET is_active = :f WHERE username = 'member'"),
                     {"f": False})
    expect(client.get("/api/v1/auth/me", headers=bearer(token)), 401)
    expect(login(client, "member"), 401)


def test_api_token_created_once_and_stored_hashed(client, app, crm):
    integrator = expect(login(client, "integrator"), 200)["token"]
    body = expect(client.post("/api/v1/tokens", json={"name": "ERP 同步",
                                                      "scopes": ["records:write"]},
                              headers=bearer(integrator)), 201)
    token = body["token"]
    assert body["name"] == "ERP 同步" and body["scopes"] == ["records:write"]
    assert isinstance(body["id"], int)
    rows = token_rows(app)
    mine = [r for r in rows if r["id"] == body["id"]]
    assert len(mine) == 1
    assert mine[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert mine[0]["expires_at"] is None
    for row in rows:  # the plain token is stored nowhere
        assert not any(token in str(value) for value in row.values())
    created = expect(client.post(RECORDS, json={"name": "经 API 令牌"}, headers=bearer(token)),
                     201)
    assert created["created_by"] == "integrator"
    me = expect(client.get("/api/v1/auth/me", headers=bearer(token)), 200)
    assert me["user"]["username"] == "integrator" and me["scopes"] == ["records:write"]


def test_token_creation_rules(client, admin):
    integrator = expect(login(client, "integrator"), 200)["token"]
    member = expect(login(client, "member"), 200)["token"]
    expect(client.post("/api/v1/tokens", json={"name": "x"}, headers=bearer(member)), 403)
    for bad in ({"scopes": ["records:read"]}, {"name": "", "scopes": ["records:read"]},
                {"name": "x", "scopes": []}, {"name": "x", "scopes": ["root"]},
                {"name": "x", "scopes": "records:read"}, {"name": "x" * 201}):
        response = client.post("/api/v1/tokens", json=bad, headers=bearer(integrator))
        assert response.status_code == 422, (bad, response.get_json())
    # only admins hand out the admin scope
    expect(client.post("/api/v1/tokens", json={"name": "x", "scopes": ["admin"]},
                       headers=bearer(integrator)), 422)
    expect(admin.post("/tokens", {"name": "ops", "scopes": ["admin"]}), 201)
    # a scoped token cannot mint more tokens
    scoped = expect(client.post("/api/v1/tokens", json={"name": "a", "scopes": [
        "records:write"]}, headers=bearer(integrator)), 201)["token"]
    expect(client.post("/api/v1/tokens", json={"name": "b", "scopes": ["records:write"]},
                       headers=bearer(scoped)), 403)


def test_revoked_token_is_401(client, crm):
    integrator = expect(login(client, "integrator"), 200)["token"]
    body = expect(client.post("/api/v1/tokens", json={"name": "n", "scopes": [
        "records:read"]}, headers=bearer(integrator)), 201)
    token = body["token"]
    expect(client.get(RECORDS, headers=bearer(token)), 200)
    # another user cannot revoke it
    member = expect(login(client, "member"), 200)["token"]
    expect(client.delete(f"/api/v1/tokens/{body['id']}", headers=bearer(member)), 404)
    expect(client.get(RECORDS, headers=bearer(token)), 200)
    response = client.delete(f"/api/v1/tokens/{body['id']}", headers=bearer(integrator))
    assert response.status_code == 204 and response.data == b""
    error = expect(client.get(RECORDS, headers=bearer(token)), 401)["error"]
    assert error["code"] == "unauthenticated"
    expect(client.post(RECORDS, json={"name": "x"}, headers=bearer(token)), 401)
    expect(client.delete("/api/v1/tokens/987654", headers=bearer(integrator)), 404)
    # admins may revoke anybody's token
    other = expect(client.post("/api/v1/tokens", json={"name": "m", "scopes": [
        "records:read"]}, headers=bearer(integrator)), 201)
    crm.delete(f"/tokens/{other['id']}")
    expect(client.get(RECORDS, headers=bearer(other["token"])), 401)


def test_browser_session_needs_csrf_for_writes(client, crm):
    page = client.get("/login")
    assert page.status_code == 200
    with client.session_transaction() as session:
        csrf = session["csrf"]
    response = client.post("/login", data={"username": "member", "password": PASSWORD,
                                           "csrf_token": csrf, "next": "/"})
    assert response.status_code == 302
    with client.session_transaction() as session:
        csrf = session["csrf"]
    expect(client.get(RECORDS), 200)  # reads need no CSRF token
    error = expect(client.post(RECORDS, json={"name": "无令牌"}), 403)["error"]
    assert error["code"] == "csrf_failed"
    expect(client.post(RECORDS, json={"name": "x"}, headers={"X-CSRF-Token": "wrong"}), 403)
    created = expect(client.post(RECORDS, json={"name": "有令牌"},
                                 headers={"X-CSRF-Token": csrf}), 201)
    assert created["created_by"] == "member"
    names = [r["name"] for r in expect(crm.get("/apps/crm/entities/customer/records"),
                                       200)["items"]]
    assert names == ["有令牌"]
