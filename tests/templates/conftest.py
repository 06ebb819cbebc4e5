"""Fixtures of the template tests: the platform test database and clients (tests/platform/
conftest.py, loaded by path: tests/ is not a package), installed templates, and the
people each template's roles need."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def load_by_path(path: Path, name: str) -> ModuleType:
    """tests/ is not a package and pytest imports in importlib mode: load helper modules
    (the platform conftest, the bill scenario) by path."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PLATFORM = load_by_path(HERE.parent / "platform" / "conftest.py", "loom_templates_platform")
PASSWORD: str = PLATFORM.PASSWORD
# the platform fixtures, re-exported so pytest finds them here
sqlite_template = PLATFORM.sqlite_template
postgres_schema_url = PLATFORM.postgres_schema_url
sqlite_path = PLATFORM.sqlite_path
database_url = PLATFORM.database_url
app = PLATFORM.app
client = PLATFORM.client
login = PLATFORM.login
admin = PLATFORM.admin


def expect(response: Any, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.get_json())
    return response.get_json()


def add_users(admin: Any, people: dict[str, tuple[list[str], str | None, str | None]]) -> None:
    """username: (roles, department, manager)."""
    for name, (roles, department, manager) in people.items():
        expect(admin.post("/users", {"username": name, "password": PASSWORD, "roles": roles,
                                     "department": department, "manager": manager}), 201)


def install(admin: Any, template: str, **body: Any) -> dict[str, Any]:
    return expect(admin.post(f"/templates/{template}/install", body), 201)


@pytest.fixture(scope="session")
def tpl() -> SimpleNamespace:
    """Helpers and the bill scenario, for test modules (which cannot import conftest)."""
    return SimpleNamespace(expect=expect, add_users=add_users, install=install, DATA=DATA,
                           scenario=load_by_path(DATA / "make_bills.py", "loom_bill_scenario"))
