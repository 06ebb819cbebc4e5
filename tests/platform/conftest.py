"""Fixtures for platform tests: a migrated database (SQLite always; PostgreSQL too when
LOOM_TEST_POSTGRES_URL is set, each test in a schema of its own), the app, a test client,
and users of each role with tokens."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from app_platform import create_app
from app_platform.cli import upgrade_database
from app_platform.extensions import db
from app_platform.services.users import create_user

PASSWORD = "correct-horse-42"
ROLE_USERS = {
    "admin": ["admin"],
    "designer": ["designer"],
    "member": ["member"],
    "member2": ["member"],
    "integrator": ["integrator"],
    "outsider": [],
}
TEST_CONFIG = {"TESTING": True, "SECRET_KEY": "test-secret-key-for-loom-tests",
               "PASSWORD_HASH": "pbkdf2:sha256:1000"}


def _create_users() -> None:
    for name, roles in ROLE_USERS.items():
        create_user(db.session, {"username": name, "password": PASSWORD, "roles": roles,
                                 "display_name": name.title()})


def _prepare(url: str) -> None:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    with app.app_context():
        upgrade_database()
        _create_users()
        db.engine.dispose()


def _app_for(url: str) -> Any:
    """One app object per database URL for the whole run: building the URL map of a new
    app costs more than most tests. Each test gets its config back as it was."""
    if url not in _APPS:
        _APPS[url] = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    return _APPS[url]


_APPS: dict[str, Any] = {}


def _reset_postgres(url: str) -> None:
    """Empty every table of the test schema (entity tables dropped, platform tables
    truncated with their sequences) and recreate the roles and users: much faster than a
    new schema and migration per test."""
    app = _app_for(url)
    with app.app_context():
        with db.engine.begin() as conn:
            names = [n for n in sa.inspect(conn).get_table_names() if n != "alembic_version"]
            for name in [n for n in names if n.startswith("x_")]:
                conn.execute(sa.text(f'DROP TABLE "{name}" CASCADE'))
            platform = [n for n in names if not n.startswith("x_")]
            if platform:
                conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{n}"' for n in platform)
                                     + " RESTART IDENTITY CASCADE"))
        upgrade_database()  # recreates the built-in roles
        _create_users()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("template") / "loom.db"
    _prepare(f"sqlite:///{path}")
    return str(path)


@pytest.fixture(scope="session")
def postgres_schema_url() -> Iterator[str]:
    """One schema for the whole run, migrated once."""
    base = os.environ["LOOM_TEST_POSTGRES_URL"]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    _prepare(url)
    yield url
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def backends() -> list[Any]:
    params = ["sqlite"]
    if os.environ.get("LOOM_TEST_POSTGRES_URL"):
        params.append(pytest.param("postgres", marks=pytest.mark.postgres))
    return params


@pytest.fixture(scope="session")
def sqlite_path(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tmp_path_factory.mktemp("db") / "loom.db"


@pytest.fixture(params=backends())
def database_url(request: pytest.FixtureRequest, sqlite_path: Any,
                 sqlite_template: str) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{sqlite_path}"
        if url in _APPS:
            with _APPS[url].app_context():
                db.engine.dispose()  # no connection may keep the previous test's file
        for suffix in ("-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        shutil.copy(sqlite_template, sqlite_path)
        yield url
        return
    url = request.getfixturevalue("postgres_schema_url")
    _reset_postgres(url)
    yield url


@pytest.fixture
def app(database_url: str) -> Iterator[Any]:
    application = _app_for(database_url)
    saved = dict(application.config)
    yield application
    application.config.clear()
    application.config.update(saved)
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


class Api:
    """A JSON client acting as one user (bearer token)."""

    def __init__(self, client: Any, token: str | None):
        self.client, self.token = client, token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        headers.update(extra or {})
        return headers

    def call(self, method: str, path: str, body: Any = None, headers: dict | None = None,
             **kw: Any) -> Any:
        if body is not None:
            kw["data"] = json.dumps(body, ensure_ascii=False)
            kw["content_type"] = "application/json"
        return self.client.open("/api/v1" + path, method=method,
                                headers=self._headers(headers), **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)


@pytest.fixture
def login(client: Any) -> Any:
    tokens: dict[str, str] = {}

    def as_user(username: str) -> Api:
        if username not in tokens:
            response = client.post("/api/v1/auth/login",
                                   json={"username": username, "password": PASSWORD})
            assert response.status_code == 200, response.get_json()
            tokens[username] = response.get_json()["token"]
        return Api(client, tokens[username])

    return as_user


@pytest.fixture
def admin(login: Any) -> Api:
    return login("admin")


CUSTOMER = {
    "key": "customer",
    "label": "客户",
    "fields": [
        {"key": "name", "label": "名称", "type": "text", "required": True},
        {"key": "limit", "label": "额度", "type": "money", "currency": "CNY"},
        {"key": "level", "label": "等级", "type": "select", "options": ["A", "B", "C"]},
        {"key": "owner_customer", "type": "relation", "target": "customer"},
    ],
}


@pytest.fixture
def crm(admin: Api) -> Api:
    """An app 'crm' with the API.md customer entity."""
    assert admin.post("/apps", {"key": "crm", "name": "客户管理"}).status_code == 201
    response = admin.post("/apps/crm/entities", CUSTOMER)
    assert response.status_code == 201, response.get_json()
    return admin
