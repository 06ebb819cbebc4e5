"""bench/flows.py at toy size: every path runs on a real database, every instance through
the service completes with the right people (the bench checks that itself and raises
otherwise), and each sampled user's inbox total matches one worked out here in Python
from the stored rows, independently of the service's query and of the bench's own."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
SIZES = dict(instances=6, bare_instances=6, chunks=2, open_tasks=900, done_tasks=150,
             per_instance=3, users=12, roles=4, repeat=3, profile_instances=2)


def _load(name: str):
    """bench/ is not an installed package: import its modules from the repository root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"bench.{name}")


def _backends() -> list:
    params = ["sqlite"]
    if os.environ.get("LOOM_TEST_POSTGRES_URL"):
        params.append(pytest.param("postgres", marks=pytest.mark.postgres))
    return params


def _todo_in_python(url: str, users: list[str]) -> dict[str, int]:
    """Each user's open tasks by the inbox rules, read with plain SELECTs and decided
    here: assigned to them (a delegation still running), delegated by them, or offered
    unclaimed to them or to a role they hold."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tasks = conn.execute(sa.text(
                "SELECT id, assignee, delegated_from FROM flow_tasks WHERE state = 'open'")).all()
            offers = conn.execute(sa.text(
                "SELECT task_id, kind, value FROM flow_task_candidates")).all()
            held = conn.execute(sa.text(
                "SELECT u.username, r.role_key FROM users u "
                "JOIN user_roles r ON r.user_id = u.id")).all()
    finally:
        engine.dispose()
    roles: dict[str, set[str]] = {}
    for username, role in held:
        roles.setdefault(username, set()).add(role)
    unclaimed = {t.id for t in tasks if t.assignee is None}
    found: dict[str, set[int]] = {u: set() for u in users}
    for task in tasks:  # the bench's delegations all run for another week
        for who in (task.assignee, task.delegated_from):
            if who in found:
                found[who].add(task.id)
    for task_id, kind, value in offers:
        if task_id not in unclaimed:
            continue
        for user in users:
            if (kind == "user" and value == user) or (kind == "role" and value in roles[user]):
                found[user].add(task_id)
    return {user: len(ids) for user, ids in found.items()}


@pytest.mark.parametrize("backend", _backends())
def test_every_path_runs_and_inbox_totals_are_right(backend: str, capsys) -> None:
    bench, common = _load("flows"), _load("_common")
    results = {}

    def run(label: str, url: str) -> None:
        results["figures"] = bench.run_backend(label, url, **SIZES)
        users = list(next(iter(results["figures"].inbox.values())).totals)
        results["python"] = _todo_in_python(url, users)

    if backend == "sqlite":
        with common.sqlite_url() as url:
            run("SQLite", url)
    else:
        with common.postgres_schema_url(os.environ["LOOM_TEST_POSTGRES_URL"], "t_bflows") as url:
            run("PostgreSQL", url)
    figures = results["figures"]

    assert figures.service.instances == 6 and len(figures.service.chunk_seconds) == 2
    for timing in (figures.bare, figures.serialized, figures.runtime, figures.floor,
                   figures.service):
        assert timing.instances == 6 and timing.per_second > 0
    assert figures.state_chars > 1000  # a real engine state, not a placeholder
    load = figures.load
    assert (load.open_tasks, load.done_tasks, load.instances) == (900, 150, 350)
    states = ["no planner statistics, as the platform ships", "after ANALYZE"] \
        if backend == "sqlite" else ["after ANALYZE"]
    assert list(figures.inbox) == states
    for page in figures.inbox.values():
        assert page.totals == results["python"]
        assert all(total > 0 for total in page.totals.values())
        assert page.service[0] > 0 and page.raw_page_total[0] > 0
    assert "run_instance" in figures.profile_text

    bench.report(figures)
    printed = capsys.readouterr().out
    assert "(c) flow service, committed per step" in printed and "c/f = " in printed
    assert "flow_inbox.inbox (page + total + counts)" in printed
