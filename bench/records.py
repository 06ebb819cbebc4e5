"""Benchmark (issue 2): bulk record creation and list paging through the platform, against
the floors they cannot beat, in one run on one database per backend.

    .venv/bin/python bench/records.py [--rows 100000] [--page-rows 1000000]
        [--backend sqlite|postgres|both] [--batch 1000,5000] [--profile-rows 5000]

(a) raw SQLAlchemy Core executemany of N rows into a twin of a 15-field entity table;
(b) bare jsonschema (compiled Draft202012Validator over the published record schema);
(c) RecordService.create_many in importer-sized batches, with validation, reference checks
    and audit, acting as the system admin; ratios c/a and c/b;
(d) median latency of a filtered (indexed), sorted, 50-row page through RecordService.list
    over --page-rows records (bulk-loaded with Core), next to the same query as plain SQL.
Then a cProfile of the c path. Targets: c >= a/10 and the page query < 20 ms.
SQLite (a temp file) always; PostgreSQL too when LOOM_TEST_POSTGRES_URL is set (a fresh
schema, dropped afterwards). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from app_platform import create_app  # noqa: E402
from app_platform.cli import upgrade_database  # noqa: E402
from app_platform.extensions import db  # noqa: E402
from app_platform.services import apps, entities  # noqa: E402
from app_platform.services.bundles import system_caller  # noqa: E402
from app_platform.services.records import RecordService, card_secret  # noqa: E402
from app_platform.services.users import create_user  # noqa: E402
from bench import _records_runs as runs  # noqa: E402
from bench._common import postgres_schema_url, print_table, profile  # noqa: E402
from bench._records_data import BRANCH, TXN, generate  # noqa: E402

SEED = 20261120
CONFIG = {"SECRET_KEY": "bench-secret-key", "PASSWORD_HASH": "pbkdf2:sha256:1000"}
PAGE_TARGET_MS = 20.0
CREATE_TARGET_FRACTION = 10  # c must reach a/10


@dataclass
class Figures:
    backend: str
    floor: runs.Timing
    schema: runs.Timing
    validator: runs.Timing
    service: dict[int, runs.Timing]
    pages: dict[str, runs.PageFigures]
    loaded: tuple[int, float]
    profile_text: str

    def targets_met(self) -> bool:
        create_ok = all(t.per_second * CREATE_TARGET_FRACTION >= self.floor.per_second
                        for t in self.service.values())
        return create_ok and all(p.service[0] < PAGE_TARGET_MS for p in self.pages.values())


def set_up(caller: Any, users: int = 20, branches: int = 50) -> tuple[Any, Any, list[int],
                                                                      list[str]]:
    """Users for the user field, an app with a branch entity (relation target, filled
    through the service) and the 15-field txn entity."""
    session = db.session
    usernames = [f"clerk{i:02d}" for i in range(users)]
    for name in usernames:
        create_user(session, {"username": name, "password": "bench-password-1",
                              "roles": ["member"]}, commit=False)
    session.commit()
    app = apps.create_app_record(session, caller, {"key": "bench", "name": "结算性能"})
    branch = entities.create_entity(session, caller, app, BRANCH)
    txn = entities.create_entity(session, caller, app, TXN)
    created = RecordService(session, caller, app, branch).create_many(
        [{"name": f"第{i + 1}分行"} for i in range(branches)], source="seed")
    return app, txn, [r["id"] for r in created], usernames


def run_backend(label: str, url: str, *, rows: int, page_rows: int, batches: list[int],
                repeat: int, profile_rows: int) -> Figures:
    """Everything for one database, in one app context."""
    flask_app = create_app({**CONFIG, "DATABASE_URL": url})
    with flask_app.app_context():
        try:
            upgrade_database()
            caller = system_caller()
            app, entity, branch_ids, usernames = set_up(caller)
            definition = entity.definition
            pairs = list(generate(rows, seed=SEED, first=0, branch_ids=branch_ids,
                                  usernames=usernames))
            documents = [d for d, _ in pairs]
            print(f"[{label}] (a) Core executemany of {rows:,} rows ...", flush=True)
            floor, floor_table = runs.floor_insert(definition, [c for _, c in pairs],
                                                   batches[0], caller.username)
            print(f"[{label}] (b) bare jsonschema over {rows:,} documents ...", flush=True)
            schema = runs.bare_jsonschema(definition, documents)
            validator = runs.fast_validator(definition, documents, card_secret())
            service: dict[int, runs.Timing] = {}
            first = 0
            for size in batches:
                print(f"[{label}] (c) RecordService.create_many, {size:,} per call ...",
                      flush=True)
                if first:  # same content, new order numbers (order_no is unique)
                    documents = [d for d, _ in generate(rows, seed=SEED, first=first,
                                                        branch_ids=branch_ids,
                                                        usernames=usernames)]
                service[size] = runs.service_create(caller, app, entity, documents, size)
                if not first:
                    compared = runs.compare_stored(floor_table, entity, rows)
                    print(f"[{label}]     stored rows equal the floor's ({compared:,} compared)")
                first += rows
            del pairs, documents
            profile_text = ""
            if profile_rows:
                extra = [d for d, _ in generate(profile_rows, seed=SEED + 1, first=first,
                                                branch_ids=branch_ids, usernames=usernames)]
                profile_text = profile(lambda: runs.service_create(caller, app, entity, extra,
                                                                   batches[0]))
            pages: dict[str, runs.PageFigures] = {}
            loaded = (0, 0.0)
            if page_rows:
                print(f"[{label}] (d) loading the table up to {page_rows:,} rows ...",
                      flush=True)
                loaded = runs.bulk_load(entity, page_rows, seed=SEED + 2,
                                        branch_ids=branch_ids, usernames=usernames)
                if db.engine.dialect.name == "sqlite":  # PostgreSQL's autovacuum would race
                    db.engine.dispose()
                    pages["no statistics yet (Core load bypassed the service)"] = runs.page_query(
                        caller, app, entity, repeat)
                runs.refresh_statistics(entity)
                pages["after the platform's statistics refresh" if
                      db.engine.dialect.name == "sqlite"
                      else "after VACUUM ANALYZE"] = runs.page_query(caller, app, entity,
                                                                      repeat)
            return Figures(label, floor, schema, validator, service, pages, loaded,
                           profile_text)
        finally:
            db.session.close()
            db.engine.dispose()


def report(fig: Figures, rows: int, page_rows: int) -> None:
    def line(name: str, timing: runs.Timing, *ratios: str) -> list[Any]:
        return [name, timing.rows, timing.seconds, timing.cpu, timing.per_second, *ratios]

    table = [line("(a) Core executemany (floor)", fig.floor, "", ""),
             line("(b) bare jsonschema", fig.schema, "", ""),
             line("(v) RecordValidator alone", fig.validator, "", "")]
    for size, timing in fig.service.items():
        table.append(line(f"(c) create_many x{size:,}", timing,
                          f"{timing.per_second / fig.floor.per_second:.3f}",
                          f"{timing.per_second / fig.schema.per_second:.3f}"))
    print_table(f"{fig.backend}: creating {rows:,} records "
                f"(floor in batches of {next(iter(fig.service)):,})",
                ["path", "rows", "wall s", "cpu s", "rows/s (wall)", "c/a", "c/b"], table)
    worst = min(t.per_second for t in fig.service.values())
    verdict = "met" if worst * CREATE_TARGET_FRACTION >= fig.floor.per_second else "MISSED"
    print(f"target c >= a/{CREATE_TARGET_FRACTION} "
          f"({fig.floor.per_second / CREATE_TARGET_FRACTION:,.0f} rows/s): {verdict}")
    if fig.pages:
        print(f"\nloaded {fig.loaded[0]:,} rows with Core in {fig.loaded[1]:.1f}s")
    for state, page in fig.pages.items():
        print_table(f"{fig.backend}, {state}: page query over {page_rows:,} records "
                    f"({'&'.join(f'{k}={v}' for k, v in runs.PAGE_ARGS)}, total {page.total:,})",
                    ["query", "median ms", "p90 ms"],
                    [["RecordService.list (page + capped total)", *page.service],
                     ["RecordService.list, count=exact", *page.service_exact],
                     ["raw SQL page + count", *page.raw_page_and_count],
                     ["raw SQL page only", *page.raw_page],
                     ["raw SQL count only", *page.raw_count],
                     ["raw SQL page only, LIMIT 50 inlined", *page.raw_page_inlined_limit]])
        verdict = "met" if page.service[0] < PAGE_TARGET_MS else "MISSED"
        print(f"target page < {PAGE_TARGET_MS:.0f} ms: {verdict}")
        for name, plan in page.plans.items():
            print(f"plan of the {name} query: " + " | ".join(line.strip() for line in plan))
    if fig.profile_text:
        print(f"\n{fig.backend}: cProfile of create_many (top functions)\n{fig.profile_text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="records to create (a-c)")
    parser.add_argument("--page-rows", type=int, default=1_000_000,
                        help="records in the table for the page query (0 skips d)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both",
                        help="both = SQLite, plus PostgreSQL when LOOM_TEST_POSTGRES_URL is set")
    parser.add_argument("--batch", default="1000,5000",
                        help="rows per create_many call, comma-separated for several runs")
    parser.add_argument("--repeat", type=int, default=30, help="page queries per median")
    parser.add_argument("--profile-rows", type=int, default=5000,
                        help="records created under cProfile after the timing (0: none)")
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batch.split(",") if b.strip()]
    pg_url = os.environ.get("LOOM_TEST_POSTGRES_URL")
    if args.backend == "postgres" and not pg_url:
        parser.error("--backend postgres needs LOOM_TEST_POSTGRES_URL")
    options = dict(rows=args.rows, page_rows=args.page_rows, batches=batches,
                   repeat=args.repeat, profile_rows=args.profile_rows)
    print(f"SQLAlchemy {sa.__version__}, Python {sys.version.split()[0]}, seed {SEED}")
    results = []
    began = time.perf_counter()
    if args.backend in ("sqlite", "both"):
        from bench._common import sqlite_url

        with sqlite_url() as url:
            results.append(run_backend("SQLite", url, **options))
        report(results[-1], args.rows, args.page_rows)
    if args.backend in ("postgres", "both") and pg_url:
        with postgres_schema_url(pg_url, "bench_records") as url:
            results.append(run_backend("PostgreSQL", url, **options))
        report(results[-1], args.rows, args.page_rows)
    elif args.backend == "both":
        print("\nPostgreSQL skipped: LOOM_TEST_POSTGRES_URL is not set")
    met = all(f.targets_met() for f in results)
    print(f"\n{'all targets met' if met else 'some targets missed'} "
          f"({time.perf_counter() - began:.0f}s in all)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
