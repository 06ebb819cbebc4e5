"""bench/records.py at toy size: every path runs on a real database, the service stores what
the hand-written floor stores (the bench checks that itself and raises otherwise), and the
page total matches a count made from the generator, without the database."""

from __future__ import annotations

import importlib
import os
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    """bench/ is not an installed package: import its modules from the repository root
    (bench/records.py itself puts the root on sys.path when run as a script)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"bench.{name}")


@pytest.fixture(scope="module")
def bench():
    return _load("records")


def _backends() -> list:
    params = ["sqlite"]
    if os.environ.get("LOOM_TEST_POSTGRES_URL"):
        params.append(pytest.param("postgres", marks=pytest.mark.postgres))
    return params


def _pending(data, count: int, seed: int, first: int, branch_ids, usernames) -> int:
    return sum(1 for _, columns in data.generate(count, seed=seed, first=first,
                                                 branch_ids=branch_ids, usernames=usernames)
               if columns["status"] == "pending")


@pytest.mark.parametrize("backend", _backends())
def test_every_path_runs_and_the_page_total_is_right(bench, backend, capsys) -> None:
    from bench import _common, _records_data

    rows, page_rows, profile_rows = 240, 2000, 60
    options = dict(rows=rows, page_rows=page_rows, batches=[100, 240], repeat=3,
                   profile_rows=profile_rows)
    if backend == "sqlite":
        with _common.sqlite_url() as url:
            figures = bench.run_backend("SQLite", url, **options)
    else:
        with _common.postgres_schema_url(os.environ["LOOM_TEST_POSTGRES_URL"], "t_bench") as url:
            figures = bench.run_backend("PostgreSQL", url, **options)

    assert figures.floor.rows == rows and len(figures.floor.batch_ms) == 3
    assert figures.schema.rows == rows
    assert sorted(figures.service) == [100, 240]
    assert [len(t.batch_ms) for t in figures.service.values()] == [3, 1]
    # set_up creates branches 1..50 in a fresh table and users clerk00..clerk19
    branch_ids, users = list(range(1, 51)), [f"clerk{i:02d}" for i in range(20)]
    assert figures.loaded[0] == page_rows - 2 * rows - profile_rows
    seed = bench.SEED
    expected = (2 * _pending(_records_data, rows, seed, 0, branch_ids, users)
                + _pending(_records_data, profile_rows, seed + 1, 2 * rows, branch_ids, users)
                + _pending(_records_data, figures.loaded[0], seed + 2, 10**10, branch_ids,
                           users))
    states = ["no statistics yet (Core load bypassed the service)",
              "after the platform's statistics refresh"] \
        if backend == "sqlite" else ["after VACUUM ANALYZE"]
    assert list(figures.pages) == states
    assert all(page.total == expected for page in figures.pages.values())
    assert "create_many" in figures.profile_text

    bench.report(figures, rows, page_rows)
    printed = capsys.readouterr().out
    assert "(c) create_many x100" in printed and "RecordService.list" in printed


def test_money_text_matches_decimal_formatting() -> None:
    data = _load("_records_data")
    for minor in (0, 5, 99, 100, 123456, -7, -100, -123456):
        assert Decimal(data.money_text(minor)) == Decimal(minor) / 100
        assert len(data.money_text(minor).split(".")[1]) == 2


def test_print_table_aligns_columns(capsys) -> None:
    common = _load("_common")
    common.print_table("t", ["name", "n"], [["a", 1234], ["bbbb", 5.5]])
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:] == ["name      n", "----  -----", "a     1,234", "bbbb   5.50"]
