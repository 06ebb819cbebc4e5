"""Latency a synchronous validation rule adds to a record write (issue 5), measured through
RecordService on one SQLite database: the same create with no rule (the baseline) and with
a sync rule on the entity, alternated so machine noise hits both alike.

Throughput of the rule worker pool against bare durable_rules is in bench/rules_engine.py.

    .venv/bin/python bench/rules.py [--writes 500]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import print_table, sqlite_url  # noqa: E402

ENTITY = {"key": "account", "label": "额度账户", "fields": [
    {"key": "name", "type": "text"},
    {"key": "available", "type": "money", "currency": "CNY"},
    {"key": "request", "type": "money", "currency": "CNY"},
]}
RULE = {"key": "credit_check", "name": "额度检查",
        "trigger": {"type": "record_created", "entity": "account"},
        "condition": {"all": [{"field": "request", "op": "gt", "value": "1000000"}]},
        "actions": [{"type": "block", "message": "insufficient credit"}],
        "options": {"enabled": True, "sync": True}}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=500)
    args = parser.parse_args()

    from app_platform import create_app
    from app_platform.cli import upgrade_database
    from app_platform.extensions import db
    from app_platform.models import App, Entity
    from app_platform.services import apps, entities, rules
    from app_platform.services.bundles import system_caller
    from app_platform.services.records import RecordService

    with sqlite_url() as url:
        flask_app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-x",
                                "TESTING": True})
        with flask_app.app_context():
            upgrade_database()
            caller = system_caller()
            for key in ("plain", "ruled"):
                app = apps.create_app_record(db.session, caller, {"key": key, "name": key})
                entities.create_entity(db.session, caller, app, ENTITY)
            rules.save_rule(db.session, caller, "ruled", RULE)

            def service(key: str) -> RecordService:
                app = db.session.query(App).filter_by(key=key).one()
                entity = db.session.query(Entity).filter_by(app_id=app.id,
                                                            key="account").one()
                return RecordService(db.session, caller, app, entity)

            timings: dict[str, list[float]] = {"plain": [], "ruled": []}
            for i in range(args.writes + 20):
                for key in ("plain", "ruled"):
                    started = time.perf_counter()
                    service(key).create({"name": f"c{i}", "available": "5000.00",
                                         "request": "100.00"})
                    if i >= 20:  # warm-up writes are not counted
                        timings[key].append((time.perf_counter() - started) * 1000)
    rows = []
    for key, label in (("plain", "create, no rule (baseline)"),
                       ("ruled", "create + sync block rule")):
        values = timings[key]
        rows.append([label, len(values), f"{statistics.median(values):.2f}",
                     f"{percentile(values, 0.99):.2f}"])
    added50 = statistics.median(timings["ruled"]) - statistics.median(timings["plain"])
    added99 = percentile(timings["ruled"], 0.99) - percentile(timings["plain"], 0.99)
    print_table("SQLite: a record write with and without a sync rule",
                ["path", "writes", "p50 ms", "p99 ms"], rows)
    print(f"latency the sync rule adds: p50 {added50:.2f} ms, p99 {added99:.2f} ms "
          f"(target p99 < 5 ms: {'met' if added99 < 5 else 'missed'})")


if __name__ == "__main__":
    main()
