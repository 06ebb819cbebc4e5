"""Fixtures for the system suite: a real deployment on loopback (a fresh PostgreSQL schema,
`flask --app wsgi db upgrade`, users, `gunicorn -w 4 wsgi:app`), shared by the tests of
one run. Needs PostgreSQL: skipped with a reason when LOOM_TEST_POSTGRES_URL is unset,
a failure when LOOM_REQUIRE_POSTGRES=1 (the `postgres_url` fixture of tests/conftest.py).
The harness itself lives in bench/_live.py, shared with bench/load.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE.parents[1] / "bench", HERE):  # bench/_live.py, tests/system/syscheck.py
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import _live  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "system: runs against real gunicorn + PostgreSQL "
                            "processes (tests/system)")


@dataclass
class Deployment:
    database: _live.Database
    instance: Path
    server: _live.Gunicorn

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, username: str | None) -> Any:
        token = _live.login(self.url, username) if username else None
        return _live.api(self.url, token)


def deploy(base_url: str, tmp: Path, workers: int = 4, **env: str) -> Deployment:
    database = _live.Database(base_url)
    try:
        _live.prepare(database, tmp)
        server = _live.Gunicorn(database.url, tmp, workers=workers, **env).start()
    except BaseException:
        database.drop()
        raise
    return Deployment(database, tmp, server)


@pytest.fixture(scope="session")
def make_deployment() -> Any:
    """``deploy`` itself, for tests that need a deployment of their own."""
    return deploy


@pytest.fixture(scope="session")
def deployment(postgres_url: str, tmp_path_factory: pytest.TempPathFactory,
               ) -> Iterator[Deployment]:
    """One gunicorn -w 4 on a fresh schema for the run; tests use apps of their own."""
    live = deploy(postgres_url, tmp_path_factory.mktemp("deployment"))
    yield live
    live.server.stop()
    live.database.drop()


@pytest.fixture(scope="session")
def db_engine(deployment: Deployment) -> Iterator[Any]:
    engine = deployment.database.engine()
    yield engine
    engine.dispose()

