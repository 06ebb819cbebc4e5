"""Date windows compare instants across time zones; results are deterministic."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engines.match.bills import CHINA_STANDARD_TIME as CST
from engines.match.matcher import MatchConfig, reconcile

ROOT = Path(__file__).resolve().parents[3]


def status(paid_at: datetime, settled_at: datetime, **config) -> str:
    left = [
        {
            "id": 1,
            "kind": "payment",
            "gateway_txn_id": "T",
            "order_no": "O",
            "amount": 100,
            "currency": "CNY",
            "paid_at": paid_at,
        }
    ]
    right = [
        {
            "id": 2,
            "kind": "payment",
            "gateway_txn_id": "T",
            "order_no": "O",
            "amount": 100,
            "currency": "CNY",
            "paid_at": settled_at,
        }
    ]
    settings = {
        "amount": ("amount", "amount"),
        "instant": ("paid_at", "paid_at"),
        "ref": ("id", "id"),
        **config,
    }
    return reconcile(left, right, MatchConfig(**settings)).items[0].status


def test_one_second_later_across_local_midnight_matches() -> None:
    # 23:59:59 CST on the 20th vs 16:00:00 UTC on the 20th (= 00:00:00 CST on the 21st):
    # different local dates, one second apart.
    assert (
        status(
            datetime(2026, 11, 20, 23, 59, 59, tzinfo=CST),
            datetime(2026, 11, 20, 16, 0, 0, tzinfo=UTC),
        )
        == "matched"
    )


def test_same_utc_date_but_earlier_instant_is_outside_the_window() -> None:
    # 00:00:30 CST on the 21st is 16:00:30 UTC on the 20th; the channel's 16:00:10 UTC
    # is 20 s *before* it although its UTC date (20th) is earlier than the CST date.
    paid = datetime(2026, 11, 21, 0, 0, 30, tzinfo=CST)
    settled = datetime(2026, 11, 20, 16, 0, 10, tzinfo=UTC)
    assert status(paid, settled) == "out_of_window"
    assert status(paid, settled, window_before=timedelta(seconds=20)) == "matched"
    assert status(paid, settled, window_before=timedelta(seconds=19)) == "out_of_window"


def test_window_end_is_inclusive_to_the_microsecond() -> None:
    paid = datetime(2026, 11, 20, 23, 0, tzinfo=CST)
    assert status(paid, (paid + timedelta(days=1)).astimezone(UTC)) == "matched"
    late = paid + timedelta(days=1, microseconds=1)
    assert status(paid, late.astimezone(UTC)) == "out_of_window"
    assert status(paid, late, window=timedelta(days=2)) == "matched"


def test_naive_datetimes_only_with_naive_as_utc() -> None:
    naive = datetime(2026, 11, 20, 15, 59, 59)  # e.g. a SQLite DateTime column, stored UTC
    settled = datetime(2026, 11, 20, 16, 0, 0, tzinfo=UTC)
    assert status(naive, settled, naive_as_utc=True) == "matched"
    # read as UTC, 15:30 is 30 minutes before the settlement; read as CST (07:30 UTC)
    # it would fall outside a one-hour window
    assert (
        status(
            datetime(2026, 11, 20, 15, 30), settled, naive_as_utc=True, window=timedelta(hours=1)
        )
        == "matched"
    )


def test_zero_window_demands_the_same_instant() -> None:
    paid = datetime(2026, 11, 20, 8, 0, tzinfo=CST)
    same = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    assert status(paid, same, window=timedelta(0)) == "matched"
    assert status(paid, same + timedelta(seconds=1), window=timedelta(0)) == "out_of_window"


def test_window_off_ignores_instants() -> None:
    assert (
        status(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), window=None)
        == "matched"
    )


_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/bench")
import reconcile as bench
left, right = bench.generate(3000, 0.05, 11)
batch = bench.reconcile(zip(*(left[f] for f in bench.FIELDS)),
                        zip(*(right[f] for f in bench.FIELDS)), bench.CONFIG)
print(json.dumps([list(item) for item in batch.items] + [batch.summary.as_dict()],
                 default=str))
"""


@pytest.mark.parametrize("seeds", [("1", "2")])
def test_output_is_identical_across_runs_and_hash_seeds(seeds: tuple[str, str]) -> None:
    outputs = []
    for seed in seeds:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _SCRIPT, str(ROOT)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert len(json.loads(outputs[0])) > 3000
