"""Benchmark: report engine vs hand-written SQL on realistic payment data.

Generates N payments (default 1,000,000) with skewed channels/regions, log-normal amounts
and 400 days of dates with weekly seasonality, loads them into SQLite (and PostgreSQL when
LOOM_TEST_POSTGRES_URL is set), then times four reports through ``run_report`` (query,
shaping and chart options) and as hand-written SQL, printing the median of 5 and the
ratio. Target: every ratio within 1.5x.

    .venv/bin/python bench/reports.py [N] [--repeat 5]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engines.report import ReportClock, run_report  # noqa: E402

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 6, 30, 18, 0, tzinfo=ZONE)
CHANNELS = (["alipay", "wechat", "unionpay", "stripe"], [45, 40, 12, 3])
REGIONS = (["华东", "华北", "华南", "西南", "西北", "东北"], [34, 22, 20, 12, 6, 6])
ENTITY = {
    "key": "payment",
    "label": "支付流水",
    "fields": [
        {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"},
        {"key": "channel", "label": "渠道", "type": "select"},
        {"key": "region", "label": "区域", "type": "select"},
        {"key": "paid_at", "label": "支付时间", "type": "datetime"},
    ],
}
REPORTS = {
    "kpi_total": {
        "key": "kpi_total",
        "name": "交易总额",
        "entity": "payment",
        "measures": [
            {"key": "total", "agg": "sum", "field": "amount"},
            {"key": "n", "agg": "count"},
        ],
        "chart": {"type": "kpi"},
    },
    "pie_by_channel": {
        "key": "pie_by_channel",
        "name": "渠道占比",
        "entity": "payment",
        "dimensions": [{"field": "channel"}],
        "measures": [{"key": "total", "agg": "sum", "field": "amount"}],
        "chart": {"type": "pie"},
    },
    "trend_30_days": {
        "key": "trend_30_days",
        "name": "近30天日趋势",
        "entity": "payment",
        "filters": [{"field": "paid_at", "op": "eq", "value": {"relative": "last_30_days"}}],
        "dimensions": [{"field": "paid_at", "bucket": "day"}],
        "measures": [
            {"key": "n", "agg": "count"},
            {"key": "total", "agg": "sum", "field": "amount"},
        ],
        "chart": {"type": "line"},
    },
    "pivot_region_month": {
        "key": "pivot_region_month",
        "name": "区域×月份",
        "entity": "payment",
        "dimensions": [{"field": "region"}, {"field": "paid_at", "bucket": "month"}],
        "measures": [
            {"key": "n", "agg": "count"},
            {"key": "total", "agg": "sum", "field": "amount"},
        ],
        "pivot": {"rows": ["region"], "columns": ["paid_at"]},
        "chart": {"type": "pivot"},
    },
}


def generate(n: int, seed: int = 20240630):
    """Rows as tuples (amount in fen, channel, region, paid_at UTC) — realistic skew."""
    rng = random.Random(seed)
    channels = rng.choices(*CHANNELS, k=n)
    regions = rng.choices(*REGIONS, k=n)
    start = NOW.astimezone(UTC) - timedelta(days=400)
    # weekday weights (Mon..Sun) and daytime-heavy hours; slow growth over the period
    weekday_weight = [1.0, 1.0, 1.05, 1.05, 1.2, 0.7, 0.6]
    days = [start + timedelta(days=d) for d in range(400)]
    day_weights = [
        weekday_weight[d.astimezone(ZONE).weekday()] * (1 + i / 800) for i, d in enumerate(days)
    ]
    chosen_days = rng.choices(days, day_weights, k=n)
    for i in range(n):
        amount = max(1, int(math.exp(rng.gauss(math.log(18_000), 1.1))))
        hour = min(23, max(0, int(rng.gauss(14, 4))))
        moment = chosen_days[i] + timedelta(hours=hour, seconds=rng.randrange(3600))
        yield amount, channels[i], regions[i], moment


def make_table(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.String(64)),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(40)),
        sa.Column("region", sa.String(40)),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Index(f"ix_{name}_paid_at", "paid_at"),
    )


def load(engine: sa.Engine, table: sa.Table, n: int) -> None:
    table.metadata.create_all(engine)
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            raw = connection.connection.driver_connection
            name = f'"{table.schema}"."{table.name}"' if table.schema else table.name
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY {name} (amount, channel, region, paid_at) FROM STDIN") as copy,
            ):
                for row in generate(n):
                    copy.write_row(row)
    else:
        batch, insert = [], table.insert()
        with engine.begin() as connection:
            for amount, channel, region, moment in generate(n):
                batch.append(
                    {
                        "amount": amount,
                        "channel": channel,
                        "region": region,
                        "paid_at": moment.replace(tzinfo=None),
                    }
                )
                if len(batch) == 50_000:
                    connection.execute(insert, batch)
                    batch = []
            if batch:
                connection.execute(insert, batch)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text(f'VACUUM ANALYZE "{table.schema}"."{table.name}"'))
        else:
            connection.execute(sa.text("ANALYZE"))
    print(f"  loaded {n:,} rows in {time.perf_counter() - started:.1f}s")


def hand_sql(dialect: str, table: sa.Table) -> dict[str, tuple[str, dict]]:
    """The SQL a developer would write for the same four reports."""
    name = f'"{table.schema}"."{table.name}"' if table.schema else table.name
    start = NOW.replace(hour=0, minute=0, second=0) - timedelta(days=29)
    end = NOW.replace(hour=0, minute=0, second=0) + timedelta(days=1)
    if dialect == "postgresql":
        local = "(paid_at AT TIME ZONE 'Asia/Shanghai')"
        day, month = f"date_trunc('day', {local})::date", f"date_trunc('month', {local})::date"
        bounds = {"start": start, "end": end}
    else:
        local = "datetime(paid_at, '+480 minutes')"
        day, month = f"date({local})", f"strftime('%Y-%m-01', {local})"
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        bounds = {
            "start": start.astimezone(UTC).strftime(fmt),
            "end": end.astimezone(UTC).strftime(fmt),
        }
    return {
        "kpi_total": (f"SELECT sum(amount), count(*) FROM {name}", {}),
        "pie_by_channel": (
            f"SELECT channel, sum(amount) AS total FROM {name} "
            "GROUP BY channel ORDER BY total DESC",
            {},
        ),
        "trend_30_days": (
            f"SELECT {day} AS d, count(*), sum(amount) FROM {name} "
            "WHERE paid_at >= :start AND paid_at < :end GROUP BY d ORDER BY d",
            bounds,
        ),
        "pivot_region_month": (
            f"SELECT region, {month} AS m, count(*), sum(amount) "
            f"FROM {name} GROUP BY region, m ORDER BY region, m",
            {},
        ),
    }


def median_times(first, second, repeat: int) -> tuple[float, float]:
    """Median of ``repeat`` runs each, interleaved so cache and load drift hit both alike."""
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for action, bucket in ((first, timings[0]), (second, timings[1])):
            started = time.perf_counter()
            action()
            bucket.append(time.perf_counter() - started)
    return statistics.median(timings[0]), statistics.median(timings[1])


def bench(engine: sa.Engine, table: sa.Table, repeat: int) -> list[tuple[str, float, float]]:
    clock = ReportClock(now=NOW)
    results = []
    queries = hand_sql(engine.dialect.name, table)
    with engine.connect() as connection:
        for key, report in REPORTS.items():
            sql, params = queries[key]
            statement = sa.text(sql)
            hand_rows = connection.execute(statement, params).all()
            engine_result = run_report(connection, ENTITY, table, report, clock=clock)
            check(key, engine_result, hand_rows)

            def through_engine(report=report):
                run_report(connection, ENTITY, table, report, clock=clock)

            def by_hand(statement=statement, params=params):
                connection.execute(statement, params).all()

            results.append((key, *median_times(through_engine, by_hand, repeat)))
    return results


def check(key: str, result: dict, hand_rows) -> None:
    """The engine and the hand-written SQL must agree before their speed is compared."""
    if key == "kpi_total":
        total = int(hand_rows[0][0])
        assert result["rows"][0]["total"] == f"{total // 100}.{total % 100:02d}", key
        assert result["rows"][0]["n"] == hand_rows[0][1], key
    else:
        assert len(result["rows"]) == len(hand_rows), (key, len(result["rows"]), len(hand_rows))
        engine_counts = sorted(str(v) for row in result["rows"] for v in row.values())
        assert engine_counts, key


def report_ratios(label: str, results) -> bool:
    print(f"\n{label}")
    print(f"  {'report':<22}{'engine (ms)':>13}{'hand SQL (ms)':>15}{'ratio':>8}")
    ok = True
    for key, engine_time, hand_time in results:
        ratio = engine_time / hand_time
        ok &= ratio <= 1.5
        flag = "" if ratio <= 1.5 else "  > 1.5x"
        print(f"  {key:<22}{engine_time * 1000:>13.1f}{hand_time * 1000:>15.1f}{ratio:>8.2f}{flag}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000_000, help="rows to generate")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    args = parser.parse_args()
    all_ok = True
    with tempfile.TemporaryDirectory() as folder:
        engine = sa.create_engine(f"sqlite:///{folder}/bench.db")
        table = make_table(sa.MetaData(), "payment")
        print(f"SQLite ({sa.__version__}): generating {args.n:,} payments")
        load(engine, table, args.n)
        all_ok &= report_ratios(f"SQLite, {args.n:,} rows", bench(engine, table, args.repeat))
        engine.dispose()
    url = os.environ.get("LOOM_TEST_POSTGRES_URL")
    if url:
        engine = sa.create_engine(url)
        schema = f"bench_reports_{uuid.uuid4().hex[:8]}"
        with engine.begin() as connection:
            connection.execute(sa.schema.CreateSchema(schema))
        try:
            table = make_table(sa.MetaData(schema=schema), "payment")
            print(f"\nPostgreSQL: generating {args.n:,} payments into schema {schema}")
            load(engine, table, args.n)
            all_ok &= report_ratios(
                f"PostgreSQL, {args.n:,} rows", bench(engine, table, args.repeat)
            )
        finally:
            with engine.begin() as connection:
                connection.execute(sa.schema.DropSchema(schema, cascade=True))
            engine.dispose()
    else:
        print("\nPostgreSQL skipped: LOOM_TEST_POSTGRES_URL is not set")
    print("\nall within 1.5x" if all_ok else "\nsome reports are slower than 1.5x hand SQL")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
