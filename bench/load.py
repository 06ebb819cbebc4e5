"""Load benchmark (issue 8): 50 concurrent users against ``gunicorn -w 4`` on PostgreSQL.

    LOOM_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/load.py [--users 50] [--seconds 60] [--workers 4]

Each virtual user (a thread with its own HTTP client, logged in as one of the member
accounts) loops through a record journey: create a customer, list with filters, read
it, patch it with its version (optimistic locking), list with a range filter; every
third loop (the first included) it also files a credit application, starts the
approval flow on it and the approver completes the task. Reports throughput,
p50/p95/p99 per operation and overall, and the error count (must be 0); then checks
the database against the clients' ledger (every created customer exists once, every
started instance is completed). The system suite runs the same journey for
``LOOM_LOAD_SECONDS`` (15 s by default).
Results go to bench/results/load.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from _live import Database, Gunicorn, api, login, prepare, write_result  # noqa: E402

CUSTOMER = {"key": "customer", "label": "客户", "fields": [
    {"key": "name", "label": "名称", "type": "text", "required": True},
    {"key": "limit", "label": "额度", "type": "money", "currency": "CNY"},
    {"key": "level", "label": "等级", "type": "select", "options": ["A", "B", "C"]},
    {"key": "visits", "label": "拜访次数", "type": "number"}]}
APPLICATION = {"key": "application", "label": "授信申请", "fields": [
    {"key": "applicant", "label": "申请人", "type": "text", "required": True},
    {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"}]}
APPROVAL = [{"id": "start", "type": "start"},
            {"id": "check", "type": "approver",
             "settings": {"assignee": {"kind": "user", "value": "head"}}}]
MEMBERS = ("member", "member2")


def setup_app(base_url: str, app_key: str) -> None:
    """The app the journey uses: customers, applications, and a one-step approval."""
    with api(base_url, login(base_url, "admin")) as admin:
        for path, body in (("/apps", {"key": app_key, "name": "负载测试"}),
                           (f"/apps/{app_key}/entities", CUSTOMER),
                           (f"/apps/{app_key}/entities", APPLICATION),
                           (f"/apps/{app_key}/processes", {
                               "key": "approval", "name": "授信审批",
                               "entity": "application", "nodes": APPROVAL})):
            response = admin.post(path, json=body)
            assert response.status_code == 201, (path, response.text)


@dataclass
class Ledger:
    """What the clients saw: latencies per operation, errors, and what they created."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    customers: list[int] = field(default_factory=list)
    instances: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, client: httpx.Client, op: str, method: str, path: str, expect: int,
             **kw: Any) -> dict[str, Any] | None:
        started = time.perf_counter()
        try:
            response = client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            with self.lock:
                self.errors.append(f"{op}: {exc.__class__.__name__}: {exc}")
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies.setdefault(op, []).append(elapsed)
            if response.status_code != expect:
                self.errors.append(f"{op}: {response.status_code} {response.text[:200]}")
                return None
        return response.json() if response.content else {}


def journey(base_url: str, app_key: str, user: str, approver: str, ledger: Ledger,
            stop_at: float, index: int) -> None:
    records = f"/apps/{app_key}/entities/customer/records"
    with api(base_url, login(base_url, user)) as client, \
            api(base_url, approver) as head:
        loop = 0
        while time.monotonic() < stop_at:
            loop += 1
            level = "ABC"[loop % 3]
            created = ledger.call(client, "create", "POST", records, 201, json={
                "name": f"客户 {index}-{loop}", "limit": f"{loop * 100}.50", "level": level,
                "visits": loop})
            if created is None:
                continue
            with ledger.lock:
                ledger.customers.append(created["id"])
            ledger.call(client, "list_filtered", "GET", records, 200,
                        params={"level": level, "sort": "-id", "limit": 20})
            ledger.call(client, "get", "GET", f"{records}/{created['id']}", 200)
            ledger.call(client, "patch", "PATCH", f"{records}/{created['id']}", 200,
                        json={"visits": loop + 1, "version": created["version"]})
            ledger.call(client, "list_range", "GET", records, 200,
                        params={"limit__gte": "100.00", "visits__lt": 5, "limit": 10})
            if loop % 3 == 1:
                approve(client, head, app_key, ledger, f"申请人 {index}-{loop}")


def approve(client: httpx.Client, head: httpx.Client, app_key: str, ledger: Ledger,
            applicant: str) -> None:
    record = ledger.call(client, "create_application", "POST",
                         f"/apps/{app_key}/entities/application/records", 201,
                         json={"applicant": applicant, "amount": "1200.00"})
    if record is None:
        return
    instance = ledger.call(client, "start_flow", "POST",
                           f"/apps/{app_key}/processes/approval/instances", 201,
                           json={"record_id": record["id"]})
    if instance is None:
        return
    with ledger.lock:
        ledger.instances.append(instance["id"])
    [task] = instance["tasks"]
    ledger.call(head, "complete_task", "POST", f"/tasks/{task['id']}/complete", 200,
                json={"action": "approve", "comment": "同意"})


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def summarize(ledger: Ledger, seconds: float) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, Any]:
        values = sorted(values)
        return {"count": len(values), "p50_ms": round(percentile(values, 0.50) * 1000, 1),
                "p95_ms": round(percentile(values, 0.95) * 1000, 1),
                "p99_ms": round(percentile(values, 0.99) * 1000, 1),
                "max_ms": round((values[-1] if values else 0) * 1000, 1)}

    everything = [v for values in ledger.latencies.values() for v in values]
    return {"seconds": round(seconds, 1), "requests": len(everything),
            "throughput_rps": round(len(everything) / seconds, 1),
            "errors": len(ledger.errors), "error_samples": ledger.errors[:10],
            "overall": stats(everything),
            "operations": {op: stats(v) for op, v in sorted(ledger.latencies.items())},
            "customers_created": len(ledger.customers),
            "approvals_completed": len(ledger.instances)}


def run_load(base_url: str, app_key: str, users: int, seconds: float) -> tuple[
        dict[str, Any], Ledger]:
    """Drive ``users`` concurrent journeys for ``seconds``; returns the summary and the
    ledger (to check against the database)."""
    setup_app(base_url, app_key)
    approver = login(base_url, "head")
    ledger = Ledger()
    started = time.monotonic()
    stop_at = started + seconds
    threads = [threading.Thread(target=journey, args=(
        base_url, app_key, MEMBERS[i % len(MEMBERS)], approver, ledger, stop_at, i))
        for i in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    summary = summarize(ledger, time.monotonic() - started)
    summary["users"] = users
    return summary, ledger


def check_database(engine: sa.Engine, app_key: str, ledger: Ledger) -> dict[str, Any]:
    """The ledger against the rows: customers exactly once each, every started instance
    completed, one audit 'create' row per customer."""
    with engine.connect() as conn:
        table = f"x_{app_key}__customer"
        ids = [row[0] for row in conn.execute(sa.text(f'SELECT id FROM "{table}"'))]
        audits = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE app_key = :a AND entity_key = 'customer' "
            "AND action = 'create'"), {"a": app_key}).scalar()
        statuses = dict(conn.execute(sa.text(
            "SELECT status, count(*) FROM flow_instances WHERE id = ANY(:ids) GROUP BY status"),
            {"ids": ledger.instances or [0]}).all())
    return {"customer_rows": len(ids), "customers_acked": len(ledger.customers),
            "customer_rows_match": sorted(ids) == sorted(ledger.customers),
            "customer_create_audits": audits, "instance_statuses": statuses}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float,
                        default=float(os.environ.get("LOOM_LOAD_SECONDS", "60")))
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    base = os.environ.get("LOOM_TEST_POSTGRES_URL")
    if not base:
        print("set LOOM_TEST_POSTGRES_URL (a PostgreSQL server) to run the load benchmark")
        return 2
    database = Database(base)
    instance = Path(tempfile.mkdtemp(prefix="loom-load-"))
    server = None
    try:
        prepare(database, instance)
        server = Gunicorn(database.url, instance, workers=args.workers).start()
        summary, ledger = run_load(server.url, "loadbench", args.users, args.seconds)
        engine = database.engine()
        summary["database"] = check_database(engine, "loadbench", ledger)
        engine.dispose()
        summary.update(workers=args.workers, run="bench/load.py")
    finally:
        if server is not None:
            server.stop()
        database.drop()
    path = write_result("load.json", summary)
    overall = summary["overall"]
    print(f"{summary['requests']} requests in {summary['seconds']} s by {args.users} users: "
          f"{summary['throughput_rps']} req/s, p50 {overall['p50_ms']} ms, p95 "
          f"{overall['p95_ms']} ms, p99 {overall['p99_ms']} ms, errors {summary['errors']}")
    print(f"database check: {summary['database']}\nwritten to {path}")
    ok = summary["errors"] == 0 and summary["database"]["customer_rows_match"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
