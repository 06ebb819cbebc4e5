"""Benchmark: engines.match.reconcile against a pandas merge doing the same matching.

Usage:  .venv/bin/python bench/reconcile.py [N] [--rate 0.01] [--seed 7]

Generates N ledger transactions and about N channel settlement lines with a share of
exceptions (amount mismatches, records missing on either side, duplicates on either
side, late settlements, ledger rows without a gateway id), then runs each engine in its
own subprocess on the same data: wall seconds of the reconciliation alone, and peak RSS
(ru_maxrss) of the process, next to the RSS the generated data already took. Both
engines must produce identical status counts and per-currency totals or the run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engines.match.matcher import MatchConfig, reconcile  # noqa: E402
from engines.match.results import STATUSES  # noqa: E402

CST = timezone(timedelta(hours=8))
FIELDS = ("kind", "txn", "order", "amount", "currency", "instant", "ref")
CONFIG = MatchConfig(
    kind=(0, 0),
    primary_key=(1, 1),
    fallback_key=(2, 2),
    amount=(3, 3),
    currency=(4, 4),
    instant=(5, 5),
    ref=(6, 6),
)
EXCEPTIONS = (
    "amount_mismatch",
    "missing_in_channel",
    "missing_in_ledger",
    "duplicate_left",
    "duplicate_right",
    "out_of_window",
)


def generate(n: int, rate: float, seed: int) -> tuple[dict[str, list], dict[str, list]]:
    """Column lists for the ledger (left) and the channel (right), deterministic per seed.

    The ledger keeps China Standard Time, the channel UTC, as in production.
    """
    rng = random.Random(seed)
    left = {name: [] for name in FIELDS}
    right_rows: list[tuple] = []
    start = datetime(2026, 11, 20, tzinfo=CST)
    extra = 0
    for i in range(n):
        kind = "refund" if rng.random() < 0.05 else "payment"
        amount = rng.randrange(1, 5_000_000) * (-1 if kind == "refund" else 1)
        currency = "USD" if rng.random() < 0.05 else "CNY"
        txn = f"{'RF' if kind == 'refund' else 'TX'}2026112022{i:016d}"
        order = f"ORD-20261120-{i:09d}"
        paid_at = start + timedelta(seconds=rng.randrange(86_400))
        settled_at = (paid_at + timedelta(seconds=rng.randrange(1, 3_600))).astimezone(UTC)
        ledger_txn: str | None = None if rng.random() < 0.005 else txn
        exception = rng.choice(EXCEPTIONS) if rng.random() < rate else None
        channel_amount = amount
        if exception == "amount_mismatch":
            channel_amount += rng.randrange(1, 100)
        elif exception == "out_of_window":
            settled_at += timedelta(days=2)
        elif exception == "missing_in_ledger":
            extra += 1
            right_rows.append(
                (
                    kind,
                    f"XX2026112022{extra:016d}",
                    f"ORD-X-{extra:09d}",
                    amount,
                    currency,
                    settled_at,
                )
            )
        copies_left = 2 if exception == "duplicate_left" else 1
        for _ in range(copies_left):
            for name, value in zip(
                FIELDS,
                (kind, ledger_txn, order, amount, currency, paid_at, len(left["ref"])),
                strict=True,
            ):
                left[name].append(value)
        if exception != "missing_in_channel":
            copies_right = 2 if exception == "duplicate_right" else 1
            right_rows.extend(
                [(kind, txn, order, channel_amount, currency, settled_at)] * copies_right
            )
    rng.shuffle(right_rows)  # a channel file is in its own order, not the ledger's
    right = {name: [] for name in FIELDS}
    for line_no, row in enumerate(right_rows, start=2):
        for name, value in zip(FIELDS, (*row, line_no), strict=True):
            right[name].append(value)
    return left, right


def run_matcher(left: dict[str, list], right: dict[str, list]) -> dict:
    """Reconcile with the pure-Python matcher; the input is streamed as tuples."""
    batch = reconcile(
        zip(*(left[name] for name in FIELDS), strict=True),
        zip(*(right[name] for name in FIELDS), strict=True),
        CONFIG,
    )
    summary = batch.summary.as_dict()
    return {
        "items": len(batch.items),
        "counts": summary["counts"],
        "currencies": summary["currencies"],
    }


def pandas_items(
    left: dict[str, list],
    right: dict[str, list],
    config: MatchConfig = CONFIG,
    timings: dict[str, float] | None = None,
):
    """The same matching rules written as pandas merges; returns (items frame, summary).

    ``timings["build"]`` receives the seconds spent turning the Python lists into
    DataFrames (object -> datetime64 conversion included), to report it separately.
    """
    import numpy as np
    import pandas as pd

    started = time.perf_counter()
    built = [pd.DataFrame({name: columns[name] for name in FIELDS}) for columns in (left, right)]
    for df in built:
        df["instant"] = pd.to_datetime(df["instant"], utc=True)
    if timings is not None:
        timings["build"] = time.perf_counter() - started
    frames = []
    for df in built:
        df["pos"] = np.arange(len(df))
        df["has_pk"] = df["txn"].notna() & (df["txn"] != "")
        has_fk = df["order"].notna() & (df["order"] != "")
        dup = df["has_pk"] & df.duplicated(["kind", "txn"])
        by_fallback = ~df["has_pk"] & has_fk
        dup |= by_fallback & df[by_fallback].duplicated(["kind", "order"]).reindex(
            df.index, fill_value=False
        )
        df["dup"] = dup
        df["has_fk"] = has_fk
        frames.append(df)
    lf, rf = frames
    keep = ["kind", "pos", "amount", "currency", "instant", "ref", "has_pk"]
    primary = lf[lf.has_pk & ~lf.dup].merge(
        rf[rf.has_pk & ~rf.dup], on=["kind", "txn"], suffixes=("_l", "_r")
    )[[k + s for k in keep[1:] for s in ("_l", "_r")] + ["kind", "txn"]]
    primary = primary.rename(columns={"txn": "key"}).assign(matched_by="primary")

    def leftovers(df: pd.DataFrame, paired: pd.Series) -> pd.DataFrame:
        rest = df[~df.pos.isin(paired) & ~df.dup & df.has_fk]
        return rest[~rest.duplicated(["kind", "order"], keep=False)]

    fallback = leftovers(lf, primary.pos_l).merge(
        leftovers(rf, primary.pos_r), on=["kind", "order"], suffixes=("_l", "_r")
    )
    fallback = fallback[~(fallback.has_pk_l & fallback.has_pk_r)]
    fallback = fallback[primary.columns.drop(["key", "matched_by"]).tolist() + ["order"]]
    fallback = fallback.rename(columns={"order": "key"}).assign(matched_by="fallback")
    pairs = pd.concat([primary, fallback], ignore_index=True)
    same_currency = pairs.currency_l == pairs.currency_r
    delta = pairs.instant_r - pairs.instant_l
    in_window = (delta >= -pd.Timedelta(config.window_before)) & (
        delta <= pd.Timedelta(config.window)
    )
    pairs["status"] = np.where(
        (pairs.amount_l != pairs.amount_r) | ~same_currency,
        "amount_mismatch",
        np.where(in_window, "matched", "out_of_window"),
    )
    pairs["difference"] = (pairs.amount_r - pairs.amount_l).where(same_currency)
    pairs["currency"] = pairs.currency_l
    pairs["order_key"] = pairs.pos_l

    def singles(df: pd.DataFrame, paired: pd.Series, side: str, missing: str, offset: int):
        rest = df[~df.pos.isin(paired)]
        sign = -1 if side == "_l" else 1
        return pd.DataFrame(
            {
                "status": np.where(rest.dup, "duplicate", missing),
                "kind": rest.kind,
                "currency": rest.currency,
                "ref" + side: rest.ref,
                "amount" + side: rest.amount,
                "difference": sign * rest.amount,
                "key": rest.txn.where(rest.has_pk, rest.order),
                "order_key": rest.pos + offset,
            }
        )

    items = pd.concat(
        [
            pairs,
            singles(lf, pairs.pos_l, "_l", "missing_in_channel", 0),
            singles(rf, pairs.pos_r, "_r", "missing_in_ledger", len(lf)),
        ],
        ignore_index=True,
    ).sort_values("order_key", kind="stable", ignore_index=True)
    counts = items.status.value_counts()
    currencies = {}
    for code in sorted(set(lf.currency) | set(rf.currency)):
        left_total = int(lf.amount[lf.currency == code].sum())
        right_total = int(rf.amount[rf.currency == code].sum())
        currencies[code] = {
            "left_total_minor": left_total,
            "right_total_minor": right_total,
            "difference_minor": right_total - left_total,
        }
    summary = {
        "counts": {status: int(counts.get(status, 0)) for status in STATUSES},
        "currencies": currencies,
    }
    return items, summary


def run_pandas(left: dict[str, list], right: dict[str, list]) -> dict:
    timings: dict[str, float] = {}
    items, summary = pandas_items(left, right, timings=timings)
    return {"items": len(items), "build_seconds": timings["build"], **summary}


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(engine: str, n: int, rate: float, seed: int) -> None:
    """Run one engine in this (fresh) process and print a JSON result line."""
    left, right = generate(n, rate, seed)
    data_rss = _rss_mb()
    runner = run_matcher if engine == "matcher" else run_pandas
    started = time.perf_counter()
    result = runner(left, right)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.update(
        engine=engine,
        seconds=seconds,
        peak_rss_mb=peak,
        data_rss_mb=data_rss,
        left=len(left["ref"]),
        right=len(right["ref"]),
    )
    currencies = result["currencies"]
    result["currencies"] = {
        code: {k: v for k, v in totals.items() if k.endswith("_minor")}
        for code, totals in currencies.items()
    }
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=0.01, help="share of exceptions")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--engine", choices=("matcher", "pandas"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine:
        child(args.engine, args.n, args.rate, args.seed)
        return 0
    results = {}
    for engine in ("matcher", "pandas"):
        command = [
            sys.executable,
            __file__,
            str(args.n),
            "--rate",
            str(args.rate),
            "--seed",
            str(args.seed),
            "--engine",
            engine,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    ours, theirs = results["matcher"], results["pandas"]
    print(
        f"reconcile {ours['left']:,} ledger rows x {ours['right']:,} channel lines "
        f"({args.rate:.1%} exceptions)"
    )
    print(f"{'':24}{'matcher':>14}{'pandas':>14}{'ratio':>8}")
    for label, key in (
        ("seconds", "seconds"),
        ("peak RSS MB", "peak_rss_mb"),
        ("RSS of input data MB", "data_rss_mb"),
    ):
        ratio = ours[key] / theirs[key] if theirs[key] else float("nan")
        print(f"{label:24}{ours[key]:>14.2f}{theirs[key]:>14.2f}{ratio:>8.2f}")
    merge_only = theirs["seconds"] - theirs["build_seconds"]
    print(
        f"{'  pandas w/o frame build':24}{'':>14}{merge_only:>14.2f}"
        f"{ours['seconds'] / merge_only:>8.2f}"
    )
    for status in STATUSES:
        print(f"  {status:22}{ours['counts'][status]:>14,}{theirs['counts'][status]:>14,}")
    for code, totals in ours["currencies"].items():
        print(
            f"  difference {code:11}{totals['difference_minor']:>14,}"
            f"{theirs['currencies'][code]['difference_minor']:>14,}"
        )
    same = ours["counts"] == theirs["counts"] and ours["currencies"] == theirs["currencies"]
    print("results agree" if same else "RESULTS DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
