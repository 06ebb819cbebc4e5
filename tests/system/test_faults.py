"""Faults: a gunicorn worker killed with SIGKILL in the middle of a burst of writes, and the
database going away (a proxy in front of PostgreSQL cut for a few seconds, then server-side
termination of the app's connections). Acknowledged writes are stored exactly once with
one audit row each; requests during the outage get 503 in the error envelope; the app
recovers by itself."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from _live import Gunicorn, TcpProxy, login, write_result
from syscheck import assert_envelope, expect

pytestmark = pytest.mark.system
RESULTS: dict[str, Any] = {}
ORDER = {"key": "order", "label": "订单", "fields": [
    {"key": "ref", "type": "text", "required": True, "unique": True},
    {"key": "amount", "type": "money", "currency": "CNY"}]}
RECORDS = "/apps/faults/entities/order/records"


@pytest.fixture(scope="module")
def faults_app(deployment) -> Any:
    with deployment.api("admin") as admin:
        expect(admin.post("/apps", json={"key": "faults", "name": "故障"}), 201)
        expect(admin.post("/apps/faults/entities", json=ORDER), 201)
    yield deployment
    write_result("faults.json", RESULTS)


def writer(url: str, token: str, name: str, stop: threading.Event, acked: dict[str, int],
           failed: list[str], lock: threading.Lock) -> None:
    with httpx.Client(base_url=f"{url}/api/v1", timeout=60,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        n = 0
        while not stop.is_set():
            n += 1
            ref = f"{name}-{n}"
            try:
                response = client.post(RECORDS, json={"ref": ref, "amount": "9.99"})
            except httpx.HTTPError:
                response = None
            with lock:
                if response is not None and response.status_code == 201:
                    acked[ref] = response.json()["id"]
                else:
                    failed.append(ref)


def test_worker_killed_mid_burst_loses_and_doubles_nothing(faults_app, db_engine) -> None:
    server = faults_app.server
    token = login(faults_app.url, "member")
    stop, lock = threading.Event(), threading.Lock()
    acked: dict[str, int] = {}
    failed: list[str] = []
    threads = [threading.Thread(target=writer, args=(faults_app.url, token, f"w{i}", stop,
                                                     acked, failed, lock)) for i in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    workers_before = server.worker_pids()
    victim = workers_before[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(3.0)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)

    deadline = time.monotonic() + 30
    while (len(server.worker_pids()) != 4 or victim in server.worker_pids()) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    workers_after = server.worker_pids()
    assert len(workers_after) == 4 and victim not in workers_after  # respawned
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text('SELECT id, ref FROM "x_faults__order"')).all()
        audits = Counter(conn.execute(sa.text(
            "SELECT record_id FROM audit_log WHERE app_key = 'faults' AND action = 'create'")
        ).scalars())
    by_ref = Counter(ref for _, ref in rows)
    stored = {ref: id_ for id_, ref in rows}
    assert all(count == 1 for count in by_ref.values())  # nothing doubled
    assert all(stored.get(ref) == id_ for ref, id_ in acked.items())  # nothing acked lost
    assert audits == Counter({id_: 1 for id_, _ in rows})  # one audit row per stored record
    unacked_stored = sorted(ref for ref in failed if ref in stored)
    assert len(unacked_stored) <= 1  # at most the one in flight when the worker died
    after = httpx.get(f"{faults_app.url}/healthz", timeout=30)
    assert after.status_code == 200
    RESULTS["worker_kill_9"] = {
        "acknowledged_writes": len(acked), "failed_requests": len(failed),
        "rows": len(rows), "acked_missing": 0, "duplicates": 0,
        "unacked_but_stored": unacked_stored, "audit_rows_match": True,
        "worker_respawned": True}


def classify(response: httpx.Response | None) -> str:
    if response is None:
        return "transport_error"
    if response.status_code < 400:
        return "ok"
    if response.status_code == 503:
        error = assert_envelope(response)
        return "503_envelope" if error["code"] == "unavailable" else "503_other"
    return f"status_{response.status_code}"


def test_database_outage_answers_503_and_recovers_by_itself(faults_app, tmp_path) -> None:
    """A second gunicorn reaches PostgreSQL through a proxy; cutting the proxy is the
    outage (the shared PostgreSQL keeps running for everyone else)."""
    host, port = "127.0.0.1", int(faults_app.database.admin.url.port or 5432)
    proxy = TcpProxy(host, port)
    proxy.restore()
    server = Gunicorn(faults_app.database.url_via(f"127.0.0.1:{proxy.port}"), tmp_path,
                      workers=2).start()
    token = login(server.url, "member2")
    seen: Counter[str] = Counter()
    try:
        with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            expect(client.post(RECORDS, json={"ref": "before-outage"}), 201)
            proxy.cut()
            outage_started = time.monotonic()
            n = 0
            while time.monotonic() - outage_started < 5:
                n += 1
                response = client.post(RECORDS, json={"ref": f"during-{n}"}) if n % 2 else \
                    client.get(RECORDS)
                seen[classify(response)] += 1
            health = httpx.get(f"{server.url}/healthz", timeout=30)
            assert health.status_code == 503
            assert health.json()["checks"]["database"]["ok"] is False
            proxy.restore()
            restored = time.monotonic()
            while True:  # no restart: the pool's pre-ping replaces the dead connections
                response = client.get(RECORDS)
                if response.status_code == 200 or time.monotonic() - restored > 20:
                    break
                seen["after_" + classify(response)] += 1
                time.sleep(0.2)
            recovery_seconds = round(time.monotonic() - restored, 2)
            assert response.status_code == 200
            expect(client.post(RECORDS, json={"ref": "after-outage"}), 201)
            refs = {r["ref"] for r in expect(client.get(RECORDS, params={
                "ref__contains": "during-", "limit": 500}), 200)["items"]}
    finally:
        server.stop()
        proxy.cut()
    assert set(seen) <= {"503_envelope", "after_503_envelope"}, seen
    assert seen["503_envelope"] > 0
    assert refs == set()  # nothing written during the outage
    RESULTS["database_outage"] = {"outage_seconds": 5, "responses": dict(seen),
                                  "recovered_after_seconds": recovery_seconds,
                                  "writes_during_outage_stored": 0}


def test_terminated_connections_are_replaced_without_errors(faults_app) -> None:
    token = login(faults_app.url, "member")
    with httpx.Client(base_url=f"{faults_app.url}/api/v1", timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(8):  # every worker holds pooled connections now
            expect(client.get(RECORDS), 200)
        with faults_app.database.admin.begin() as conn:
            killed = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :tag"), {"tag": faults_app.database.tag}).scalar()
        assert killed >= 1
        statuses = Counter(client.get(RECORDS).status_code for _ in range(20))
    assert statuses == Counter({200: 20}), statuses
    RESULTS["pg_terminate_backend"] = {"connections_terminated": killed,
                                       "requests_after": dict(statuses)}
