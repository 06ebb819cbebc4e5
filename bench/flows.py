"""Benchmark (issue 4): credit-approval instances through the flow service, and the task
inbox with 100,000 open tasks, next to the floors they cannot beat, in one run.

    .venv/bin/python bench/flows.py [--instances 600] [--bare-instances 600] [--chunks 6]
        [--open-tasks 100000] [--done-tasks 50000] [--tasks-per-instance 4]
        [--users 160] [--roles 40] [--repeat 40] [--profile-instances 100]
        [--backend sqlite|postgres|both]

(a) bare SpiffWorkflow in memory; (b) bare SpiffWorkflow, serialize + deserialize at every
step (definition copied into each instance); (r) Loom's FlowRuntime alone (sandboxed,
definition by reference, no database): the engine's share of (c);
(c) the credit flow (start + 3 user tasks, each step committed) through the flow service:
``flow_instances.start_instance`` then ``flow_tasks.complete`` by real users holding each
step's role, in a Flask app context, no HTTP; ratios c/a and c/b;
(f) the floor under (c): the same FlowRuntime with hand-written Core persistence (one
transaction per step writing the same rows, no permission checks, no ORM); c/f;
(d) ``flow_inbox.inbox`` (todo view, page of 50, total and navigation counts) over
--open-tasks open tasks bulk-loaded with Core and spread over --users users and --roles
role pools, median + p90, next to the same page and total in plain SQL (the floor) and
to everything the service answers, hand-written.
Then a cProfile of the c path. Targets: c >= 150 instances/s on SQLite; inbox page < 50 ms.
SQLite (a temp file) always; PostgreSQL too when LOOM_TEST_POSTGRES_URL is set (a fresh
schema, dropped afterwards). Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from app_platform import create_app  # noqa: E402
from app_platform.cli import upgrade_database  # noqa: E402
from app_platform.extensions import db  # noqa: E402
from app_platform.models import utcnow  # noqa: E402
from app_platform.services import flow_instances  # noqa: E402
from app_platform.services.bundles import system_caller  # noqa: E402
from bench import _flows_inbox as inbox  # noqa: E402
from bench import _flows_runs as runs  # noqa: E402
from bench._common import postgres_schema_url, print_table, profile, sqlite_url  # noqa: E402
from bench._flows_floor import floor_path  # noqa: E402
from bench.flows_engine import loom_runtime  # noqa: E402

SEED = 20261204
CONFIG = {"SECRET_KEY": "bench-secret-key", "PASSWORD_HASH": "pbkdf2:sha256:1000"}
SERVICE_TARGET = 150.0  # instances/s, on SQLite
INBOX_TARGET_MS = 50.0


@dataclass
class Figures:
    backend: str
    bare: runs.Timing
    serialized: runs.Timing
    runtime: runs.Timing
    service: runs.Timing
    floor: runs.Timing
    state_chars: int
    load: inbox.InboxLoad | None = None
    inbox: dict[str, inbox.InboxFigures] = field(default_factory=dict)
    profile_text: str = ""

    def targets_met(self) -> bool:
        service_ok = self.backend != "SQLite" or self.service.per_second >= SERVICE_TARGET
        return service_ok and all(f.service[0] < INBOX_TARGET_MS for f in self.inbox.values())


def running_state(world: runs.World) -> tuple[int, int, str]:
    """(app id, definition id, state) of a real instance waiting at its first step: the
    state the bulk-loaded inbox instances carry."""
    record_id = runs.create_applications(world, 1)[0]
    instance = flow_instances.start_instance(db.session, world.applicant, runs.APP_KEY,
                                             runs.PROCESS_KEY, {"record_id": record_id},
                                             utcnow())
    found = (instance.app_id, instance.definition_id, instance.state)
    db.session.close()
    return found


def run_backend(label: str, url: str, *, instances: int, bare_instances: int, chunks: int,
                open_tasks: int, done_tasks: int, per_instance: int, users: int, roles: int,
                repeat: int, profile_instances: int) -> Figures:
    """Everything for one database, in one app context."""
    flask_app = create_app({**CONFIG, "DATABASE_URL": url})
    with flask_app.app_context():
        try:
            upgrade_database()
            print(f"[{label}] (a), (b) bare SpiffWorkflow, {bare_instances:,} instances ...",
                  flush=True)
            bare, serialized = runs.bare_paths(bare_instances, chunks)
            print(f"[{label}] (r) Loom FlowRuntime alone ...", flush=True)
            engine_only = loom_runtime()
            engine_only()
            runtime = runs.timed(lambda _i: engine_only(), bare_instances, chunks)
            world = runs.set_up_credit(system_caller())
            record_ids = runs.create_applications(world, 2 * instances + profile_instances)
            print(f"[{label}] (c) {instances:,} instances through the flow service ...",
                  flush=True)
            service = runs.service_path(world, record_ids[:instances], chunks)
            print(f"[{label}]     all {instances:,} completed by the right people", flush=True)
            print(f"[{label}] (f) the same with FlowRuntime + hand-written Core ...",
                  flush=True)
            floor = floor_path(*runs.credit_definition(), record_ids[-instances:], chunks)
            profile_text = ""
            if profile_instances:
                extra = record_ids[instances:instances + profile_instances]
                profile_text = profile(lambda: [runs.run_instance(world, r) for r in extra], 30)
            app_id, definition_id, state = running_state(world)
            figures = Figures(label, bare, serialized, runtime, service, floor, len(state),
                              profile_text=profile_text)
            if open_tasks:
                print(f"[{label}] (d) loading {open_tasks:,} open + {done_tasks:,} done tasks "
                      "...", flush=True)
                figures.load = inbox.load_inbox(
                    app_id, definition_id, state, open_tasks=open_tasks, done_tasks=done_tasks,
                    per_instance=per_instance, users=users, roles=roles, seed=SEED)
                sqlite = db.engine.dialect.name == "sqlite"
                if sqlite:  # the platform never runs ANALYZE: how it ships
                    db.engine.dispose()
                    figures.inbox["no planner statistics, as the platform ships"] = \
                        inbox.measure_inbox(figures.load, repeat)
                inbox.refresh_statistics()
                figures.inbox["after ANALYZE"] = inbox.measure_inbox(figures.load, repeat)
            return figures
        finally:
            db.session.close()
            db.engine.dispose()


def report(fig: Figures) -> None:
    def line(name: str, timing: runs.Timing, *ratios: str) -> list[Any]:
        return [name, timing.instances, timing.seconds, timing.cpu, timing.per_second,
                timing.ms_per_instance, timing.per_cpu_second, *ratios]

    a, b, c = fig.bare.per_second, fig.serialized.per_second, fig.service.per_second
    print_table(f"{fig.backend}: credit flow, start + 3 user tasks (rate = median of "
                f"{len(fig.service.chunk_seconds)} chunks)",
                ["path", "instances", "wall s", "cpu s", "instances/s", "ms each",
                 "per cpu s", "c/a", "c/b"],
                [line("(a) bare SpiffWorkflow, in memory", fig.bare, "", ""),
                 line("(b) bare, serialize+deserialize per step", fig.serialized, "", ""),
                 line("(r) Loom FlowRuntime alone, no database", fig.runtime, "", ""),
                 line("(f) FlowRuntime + hand-written Core, per step", fig.floor, "", ""),
                 line("(c) flow service, committed per step", fig.service, f"{c / a:.3f}",
                      f"{c / b:.3f}")])
    print(f"c/f = {c / fig.floor.per_second:.3f} (the platform layer's share: "
          f"{fig.service.ms_per_instance - fig.floor.ms_per_instance:.1f} ms per instance)")
    print(f"state of an instance waiting at its first step: {fig.state_chars:,} characters")
    if fig.backend == "SQLite":
        print(f"target c >= {SERVICE_TARGET:.0f} instances/s: "
              f"{'met' if c >= SERVICE_TARGET else 'MISSED'}")
    load = fig.load
    if load is not None:
        low, mid, high = inbox.todo_spread(load)
        print(f"\nloaded {load.open_tasks:,} open and {load.done_tasks:,} done tasks on "
              f"{load.instances:,} instances with Core in {load.seconds:.1f}s; "
              f"{len(load.users)} users, {len(load.pools)} role pools; "
              f"todo per user min {low:,} / median {mid:,} / max {high:,}")
    for state, page in fig.inbox.items():
        totals = sorted(page.totals.values())
        print_table(f"{fig.backend}, {state}: todo inbox, page of {inbox.PAGE} "
                    f"({len(page.users)} users in turn, todo totals {totals[0]:,}-"
                    f"{totals[-1]:,})", ["query", "median ms", "p90 ms"],
                    [["flow_inbox.inbox (page + total + counts)", *page.service],
                     ["raw SQL page + total (floor)", *page.raw_page_total],
                     ["raw SQL, all the service answers", *page.raw_same_work]])
        verdict = "met" if page.service[0] < INBOX_TARGET_MS else "MISSED"
        print(f"target inbox page < {INBOX_TARGET_MS:.0f} ms: {verdict}")
    if fig.profile_text:
        print(f"\n{fig.backend}: cProfile of the service path (top functions)\n"
              f"{fig.profile_text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=600,
                        help="credit instances through the flow service (c)")
    parser.add_argument("--bare-instances", type=int, default=600,
                        help="instances for (a), (b) and (r)")
    parser.add_argument("--chunks", type=int, default=6,
                        help="timed groups per path; rates are their median")
    parser.add_argument("--open-tasks", type=int, default=100_000,
                        help="open tasks in the inbox tables (0 skips d)")
    parser.add_argument("--done-tasks", type=int, default=50_000,
                        help="completed tasks next to them (the done view and count)")
    parser.add_argument("--tasks-per-instance", type=int, default=4)
    parser.add_argument("--users", type=int, default=160, help="users holding the tasks")
    parser.add_argument("--roles", type=int, default=40, help="role pools tasks go to")
    parser.add_argument("--repeat", type=int, default=40, help="inbox calls per median")
    parser.add_argument("--profile-instances", type=int, default=100,
                        help="instances run under cProfile after the timing (0: none)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both",
                        help="both = SQLite, plus PostgreSQL when LOOM_TEST_POSTGRES_URL is set")
    args = parser.parse_args(argv)
    pg_url = os.environ.get("LOOM_TEST_POSTGRES_URL")
    if args.backend == "postgres" and not pg_url:
        parser.error("--backend postgres needs LOOM_TEST_POSTGRES_URL")
    options = dict(instances=args.instances, bare_instances=args.bare_instances,
                   chunks=args.chunks, open_tasks=args.open_tasks, done_tasks=args.done_tasks,
                   per_instance=args.tasks_per_instance, users=args.users, roles=args.roles,
                   repeat=args.repeat, profile_instances=args.profile_instances)
    print(f"SpiffWorkflow {version('SpiffWorkflow')}, SQLAlchemy {sa.__version__}, "
          f"Python {sys.version.split()[0]}, seed {SEED}")
    results = []
    began = time.perf_counter()
    if args.backend in ("sqlite", "both"):
        with sqlite_url() as url:
            results.append(run_backend("SQLite", url, **options))
        report(results[-1])
    if args.backend in ("postgres", "both") and pg_url:
        with postgres_schema_url(pg_url, "bench_flows") as url:
            results.append(run_backend("PostgreSQL", url, **options))
        report(results[-1])
    elif args.backend == "both":
        print("\nPostgreSQL skipped: LOOM_TEST_POSTGRES_URL is not set")
    met = all(f.targets_met() for f in results)
    print(f"\n{'all targets met' if met else 'some targets missed'} "
          f"({time.perf_counter() - began:.0f}s in all)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
