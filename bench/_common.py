"""Small helpers shared by the benchmarks: timing, medians, profiles, printed tables and
throw-away databases (a temp SQLite file, a fresh PostgreSQL schema)."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa


def median_ms(run: Callable[[], Any], repeat: int, warmup: int = 2) -> tuple[float, float]:
    """(median, 90th percentile) wall milliseconds of ``run`` after ``warmup`` calls: the
    median hides one-off stalls on a shared machine, p90 shows whether they are frequent."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    return statistics.median(times), p90


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain aligned table (first column left-aligned, the others right-aligned)."""
    cells = [[str(c) for c in header]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def profile(run: Callable[[], Any], top: int = 25) -> str:
    """cProfile ``run`` once; the ``top`` functions by own time, then by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    for order in ("tottime", "cumulative"):
        out.write(f"--- by {order} ---\n")
        stats.sort_stats(order).print_stats(top)
    text = out.getvalue()
    for prefix in sorted({p.rstrip(os.sep) for p in sys.path if p}, key=len, reverse=True):
        text = text.replace(prefix + os.sep, "")  # paths relative to where they import from
    return "\n".join(line for line in text.splitlines()
                     if line.strip() and not line.startswith(("   Ordered by", "   List")))


@contextmanager
def sqlite_url() -> Iterator[str]:
    """A SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="loom-bench-") as folder:
        yield f"sqlite:///{os.path.join(folder, 'bench.db')}"


@contextmanager
def postgres_schema_url(base: str, prefix: str) -> Iterator[str]:
    """A fresh schema on the server at ``base``; the yielded URL puts it first on the
    search path. The schema is dropped afterwards, whatever happened."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))
        admin.dispose()
