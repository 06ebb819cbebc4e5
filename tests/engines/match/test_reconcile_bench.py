"""The pandas baseline in bench/reconcile.py is an independent implementation of the
same rules: on generated data with every kind of exception both must agree item by item."""

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "bench" / "reconcile.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("reconcile_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_matcher_and_pandas_agree_item_by_item(bench) -> None:
    left, right = bench.generate(4000, 0.08, 3)
    batch = bench.reconcile(
        zip(*(left[f] for f in bench.FIELDS), strict=True),
        zip(*(right[f] for f in bench.FIELDS), strict=True),
        bench.CONFIG,
    )
    frame, summary = bench.pandas_items(left, right)

    def nullable(value):
        return (
            None
            if value is None or (isinstance(value, float) and math.isnan(value))
            else int(value)
        )

    theirs = [
        (
            row.status,
            row.kind,
            nullable(row.ref_l),
            nullable(row.ref_r),
            nullable(row.difference),
            row.key,
        )
        for row in frame.itertuples()
    ]
    ours = [(i.status, i.kind, i.left_ref, i.right_ref, i.difference, i.key) for i in batch.items]
    assert ours == theirs
    assert batch.summary.counts == summary["counts"]
    for status in (
        "matched",
        "amount_mismatch",
        "out_of_window",
        "missing_in_channel",
        "missing_in_ledger",
        "duplicate",
    ):
        assert batch.summary.counts[status] > 0, status
    assert any(i.matched_by == "fallback" for i in batch.items)


def test_cli_smoke_with_a_small_n() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "2000"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "results agree" in done.stdout
    assert "seconds" in done.stdout and "peak RSS MB" in done.stdout
