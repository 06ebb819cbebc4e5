"""Benchmark (issue 3): form validation throughput and CSV import throughput.

    .venv/bin/python bench/forms.py [--rows 200000] [--docs 4000] [--skip-import]

(a) Import: a --rows CSV (the 15-field settlement-line entity of bench/records.py, money
    as "1,234.50", dates as 2026/11/20 in half the rows) written to a temp file, then the
    platform's import job end to end (inspect, stream, parse cells, RecordService.create_many
    in batches, audit, commit) on a temp SQLite database: rows/s and the process's peak RSS.
    Runs first so the peak is the import's. Targets: >= 50,000 rows/s, peak < 300 MB.
(b) Validation: a 30-field entity with a subtable and 3 formulas; a randomized corpus
    (a third of the documents broken in one random field). Loom's write path
    (RecordValidator + FormulaRunner) against bare jsonschema (a compiled
    Draft202012Validator over the published record schema), and the verdicts of the fast
    validator against the reference validator (jsonschema + Loom's x- keywords).
    Target: >= 5x bare jsonschema, identical verdicts.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jsonschema  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench._common import print_table  # noqa: E402
from bench._records_data import BRANCH, TXN, generate  # noqa: E402
from engines.form import RecordInvalid, RecordValidator, record_schema  # noqa: E402
from engines.form.compute import FormulaRunner  # noqa: E402
from engines.form.reference import reference_validator  # noqa: E402

SEED = 20261122
IMPORT_TARGET = 50_000
RSS_TARGET_MB = 300
VALIDATION_TARGET = 5.0


# --- (a) import -----------------------------------------------------------------------------
def _cells(document: dict[str, Any], rng: random.Random) -> list[str]:
    labels = {f["key"]: f for f in TXN["fields"]}
    out = []
    for key in labels:
        value = document.get(key)
        if value is None:
            out.append("")
        elif key in ("amount", "fee") and rng.random() < 0.5:
            whole, _, cents = value.partition(".")
            out.append(f"{int(whole):,}.{cents}")
        elif key == "settle_date" and rng.random() < 0.5:
            out.append(value.replace("-", "/"))
        elif isinstance(value, bool):
            out.append("是" if value else "否")
        else:
            out.append(str(value))
    return out


def write_csv(path: Path, rows: int, branch_ids: list[int]) -> int:
    rng = random.Random(SEED)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f["label"] for f in TXN["fields"]])
        for document, _ in generate(rows, seed=SEED, first=1, branch_ids=branch_ids,
                                    usernames=["bench"]):
            writer.writerow(_cells(document, rng))
    return path.stat().st_size


def run_import(rows: int) -> dict[str, Any]:
    from app_platform import create_app
    from app_platform.cli import upgrade_database
    from app_platform.extensions import db
    from app_platform.models import Job
    from app_platform.services import apps, entities, imports
    from app_platform.services.bundles import system_caller
    from app_platform.services.records import RecordService
    from app_platform.services.users import create_user

    workdir = Path(tempfile.mkdtemp(prefix="loom-bench-forms-"))
    flask_app = create_app({"SECRET_KEY": "bench-secret-key", "JOBS_SYNC": True,
                            "PASSWORD_HASH": "pbkdf2:sha256:1000",
                            "DATABASE_URL": f"sqlite:///{workdir / 'loom.db'}"})
    flask_app.instance_path = str(workdir)
    with flask_app.app_context():
        upgrade_database()
        session = db.session
        create_user(session, {"username": "bench", "password": "bench-password-1",
                              "roles": ["member"]})
        caller = system_caller()
        app = apps.create_app_record(session, caller, {"key": "bench", "name": "bench"})
        branch = entities.create_entity(session, caller, app, BRANCH)
        RecordService(session, caller, app, branch).create_many(
            [{"name": f"分行{i}"} for i in range(20)])
        entity = entities.create_entity(session, caller, app, TXN)
        csv_path = workdir / "txn.csv"
        size = write_csv(csv_path, rows, list(range(1, 21)))
        rss_before = _rss_mb()
        started = time.perf_counter()
        with open(csv_path, "rb") as stream:
            job = imports.start_import(session, caller, app, entity, stream, "txn.csv",
                                       mode="all_or_nothing", dry_run=False, mapping=None)
        imports.run_in_context(flask_app, job.id, caller=caller)
        seconds = time.perf_counter() - started
        done = db.session.get(Job, job.id)
        db.session.refresh(done)
        stored = db.session.execute(
            sa.text(f"SELECT count(*) FROM {entity.table_name}")).scalar()
        figures = {"rows": rows, "bytes": size, "seconds": seconds, "imported": done.imported,
                   "stored": stored, "errors": done.errors[:3], "state": done.state,
                   "rss_before": rss_before, "peak": _peak_mb(), "workdir": workdir}
        db.engine.dispose()
    return figures


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- (b) validation ------------------------------------------------------------------------
def wide_entity() -> dict[str, Any]:
    """30 fields: 26 plain, a subtable of line items, 3 formulas (one over the subtable)."""
    fields: list[dict[str, Any]] = [
        {"key": "title", "type": "text", "required": True, "max_length": 80},
        {"key": "amount", "type": "money", "required": True, "min": "0"},
        {"key": "rate", "type": "percent", "scale": 2},
        {"key": "opened", "type": "date", "min": "2020-01-01"},
        {"key": "seen_at", "type": "datetime"},
        {"key": "active", "type": "boolean"},
        {"key": "level", "type": "select", "options": ["A", "B", "C"]},
        {"key": "tags", "type": "multiselect", "options": ["x", "y", "z"]},
        {"key": "email", "type": "email"},
        {"key": "phone", "type": "phone"},
        {"key": "site", "type": "url"},
        {"key": "count", "type": "number", "min": 0, "max": 10_000},
        {"key": "ratio", "type": "number", "scale": 3},
        {"key": "note", "type": "textarea"},
    ]
    fields += [{"key": f"text_{i}", "type": "text", "max_length": 40} for i in range(8)]
    fields += [{"key": f"money_{i}", "type": "money"} for i in range(4)]
    fields.append({"key": "items", "type": "subtable", "max_rows": 50, "fields": [
        {"key": "sku", "type": "text", "required": True},
        {"key": "qty", "type": "number", "min": 1},
        {"key": "price", "type": "money"}]})
    fields += [
        {"key": "lines_total", "type": "formula", "formula": "sum(items.price)"},
        {"key": "gross", "type": "formula", "formula": "amount + money_0 + money_1"},
        {"key": "fee", "type": "formula", "formula": "round(gross * rate / 100, 2)"},
    ]
    assert len(fields) == 30
    return {"key": "wide", "fields": fields}


BREAKERS = {
    "amount": "-5.00", "rate": "1.234", "opened": "2019-12-31", "seen_at": "2026-01-01 10:00",
    "active": "yes", "level": "D", "tags": ["x", "x"], "email": "not-an-email",
    "phone": "abc", "site": "ftp://x", "count": 10_001, "ratio": "1.2345",
    "title": "t" * 81, "items": [{"qty": 1}], "money_0": 12.5,
}


def corpus(count: int, rng: random.Random) -> list[dict[str, Any]]:
    docs = []
    for i in range(count):
        doc: dict[str, Any] = {
            "title": f"deal {i}", "amount": f"{rng.randrange(0, 10**7)}.{rng.randrange(100):02d}",
            "rate": f"{rng.randrange(0, 300) / 100:.2f}", "opened": "2026-11-20",
            "seen_at": "2026-11-20T10:01:02+08:00", "active": rng.random() < 0.5,
            "level": rng.choice("ABC"), "tags": rng.sample(["x", "y", "z"], rng.randrange(4)),
            "email": f"a{i}@b.cn", "phone": "+86 138 0013 8000", "site": "https://loom.cn/a",
            "count": rng.randrange(0, 10_000), "ratio": str(Decimal(rng.randrange(10**5)) / 1000),
            "note": "备注" * rng.randrange(0, 20),
            "items": [{"sku": f"S{j}", "qty": rng.randrange(1, 9),
                       "price": f"{rng.randrange(1, 9999)}.50"} for j in range(rng.randrange(6))],
        }
        for j in range(8):
            doc[f"text_{j}"] = f"文本{j}-{i}"
        for j in range(4):
            doc[f"money_{j}"] = f"{rng.randrange(10**6)}.0{j}"
        if i % 3 == 0:
            key = rng.choice(sorted(BREAKERS))
            doc[key] = BREAKERS[key]
        docs.append(doc)
    return docs


def run_validation(count: int) -> dict[str, Any]:
    definition = wide_entity()
    docs = corpus(count, random.Random(SEED))
    validator = RecordValidator(definition)
    formulas = FormulaRunner(definition)
    bare = jsonschema.Draft202012Validator(record_schema(definition))
    reference = reference_validator(definition)

    def validate_only(doc: dict[str, Any]) -> bool:
        try:
            validator.validate(doc)
            return True
        except RecordInvalid:
            return False

    def fast(doc: dict[str, Any]) -> bool:
        try:
            row = validator.validate(doc)
            row.update(formulas.apply(row))
            return True
        except RecordInvalid:
            return False

    timings = {}
    for name, check in (("loom (validator + formulas)", fast),
                        ("bare jsonschema", bare.is_valid),
                        ("loom validator alone", validate_only)):
        check(docs[0])
        started = time.perf_counter()
        verdicts = [check(d) for d in docs]
        timings[name] = (time.perf_counter() - started, verdicts)
    fast_verdicts = timings["loom (validator + formulas)"][1]
    reference_verdicts = [reference.is_valid(d) for d in docs]
    disagreements = [i for i, (a, b) in enumerate(zip(fast_verdicts, reference_verdicts,
                                                      strict=True)) if a != b]
    return {"docs": count, "timings": timings, "invalid": fast_verdicts.count(False),
            "disagreements": disagreements}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    failed = False
    if not args.skip_import:
        result = run_import(args.rows)
        rate = result["imported"] / result["seconds"]
        print_table(f"(a) import of a {args.rows:,}-row CSV ({result['bytes'] / 2**20:.1f} MB) "
                    "on SQLite", ["what", "value", "target"], [
                        ["rows imported (job / in table)",
                         f"{result['imported']:,} / {result['stored']:,}", f"{args.rows:,}"],
                        ["seconds", result["seconds"], ""],
                        ["rows/s", rate, f">= {IMPORT_TARGET:,}"],
                        ["RSS before import (MB)", result["rss_before"], ""],
                        ["peak RSS of the process (MB)", result["peak"],
                         f"< {RSS_TARGET_MB}"]])
        if result["errors"]:
            print("first errors:", result["errors"])
        failed |= result["stored"] != args.rows or rate < IMPORT_TARGET or \
            result["peak"] >= RSS_TARGET_MB
        import shutil

        shutil.rmtree(result["workdir"], ignore_errors=True)
    result = run_validation(args.docs)
    rows = []
    for name, (seconds, _) in result["timings"].items():
        rows.append([name, args.docs / seconds, seconds * 1e6 / args.docs])
    ratio = rows[0][1] / rows[1][1]
    rows.append(["(validator alone / bare)", rows[2][1] / rows[1][1], ""])
    print_table(f"(b) validation of {args.docs:,} documents of a 30-field entity "
                f"({result['invalid']:,} invalid)", ["validator", "docs/s", "µs/doc"], rows)
    print(f"ratio loom / bare jsonschema: {ratio:.1f}x (target >= {VALIDATION_TARGET:.0f}x); "
          f"verdicts differing from the reference validator: "
          f"{len(result['disagreements'])}")
    failed |= ratio < VALIDATION_TARGET or bool(result["disagreements"])
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
