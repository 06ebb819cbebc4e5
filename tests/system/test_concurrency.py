"""Contention across real processes: 20 threads completing one task, 20 processes drawing
auto-numbers, two scheduler processes electing one leader (and a standby taking over
when the leader is killed), with every timer fired exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from _live import ROOT, login, start_scheduler, write_result
from syscheck import expect

pytestmark = pytest.mark.system
RESULTS: dict[str, Any] = {}
APPLICATION = {"key": "application", "label": "申请", "fields": [
    {"key": "applicant", "type": "text", "required": True},
    {"key": "amount", "type": "money", "currency": "CNY"},
    {"key": "number", "type": "auto_number", "pattern": "CR-{seq:5}"}]}


def approval(timeout: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    settings: dict[str, Any] = {"assignee": {"kind": "user", "value": "head"}}
    if timeout:
        settings["timeout"] = timeout
    return [{"id": "start", "type": "start"},
            {"id": "check", "type": "approver", "settings": settings}]


@pytest.fixture(scope="module")
def loan(deployment) -> Any:
    """App 'conc': applications with an auto-number, an approval, a timed approval."""
    with deployment.api("admin") as admin:
        expect(admin.post("/apps", json={"key": "conc", "name": "并发"}), 201)
        expect(admin.post("/apps/conc/entities", json=APPLICATION), 201)
        expect(admin.post("/apps/conc/processes", json={
            "key": "approval", "name": "审批", "entity": "application",
            "nodes": approval()}), 201)
        expect(admin.post("/apps/conc/processes", json={
            "key": "timed", "name": "超时自动通过", "entity": "application",
            "nodes": approval({"after": "PT2S", "action": "auto_approve"})}), 201)
    yield deployment
    write_result("concurrency.json", RESULTS)


def start_instance(client: httpx.Client, process: str) -> dict[str, Any]:
    record = expect(client.post("/apps/conc/entities/application/records",
                                json={"applicant": "王五", "amount": "10.00"}), 201)
    return expect(client.post(f"/apps/conc/processes/{process}/instances",
                              json={"record_id": record["id"]}), 201)


def test_twenty_threads_complete_one_task_exactly_one_wins(loan, db_engine) -> None:
    with loan.api("member") as member:
        instance = start_instance(member, "approval")
    [task] = instance["tasks"]
    token = login(loan.url, "head")
    barrier, statuses = threading.Barrier(20), []

    def complete(action: str) -> None:
        with httpx.Client(base_url=f"{loan.url}/api/v1", timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            barrier.wait()
            response = client.post(f"/tasks/{task['id']}/complete", json={"action": action})
            statuses.append(response.status_code)

    threads = [threading.Thread(target=complete, args=("approve" if i % 2 else "reject",))
               for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(statuses) == [200] + [409] * 19
    with db_engine.connect() as conn:
        decisions = conn.execute(sa.text(
            "SELECT action FROM flow_history WHERE instance_id = :i "
            "AND action IN ('approve', 'reject')"), {"i": instance["id"]}).scalars().all()
        status = conn.execute(sa.text("SELECT status FROM flow_instances WHERE id = :i"),
                              {"i": instance["id"]}).scalar()
    assert len(decisions) == 1
    assert status == {"approve": "completed", "reject": "rejected"}[decisions[0]]
    RESULTS["task_completion_race"] = {"threads": 20, "ok_200": statuses.count(200),
                                       "conflict_409": statuses.count(409)}


CREATOR = """
import json, sys, httpx
url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
numbers = []
with httpx.Client(base_url=url + "/api/v1", timeout=120,
                  headers={"Authorization": "Bearer " + token}) as client:
    for i in range(count):
        r = client.post("/apps/conc/entities/application/records",
                        json={"applicant": "proc", "amount": "1.00"})
        numbers.append([r.status_code, r.json().get("number"), r.json().get("id")])
print(json.dumps(numbers))
"""


def test_twenty_processes_draw_gap_free_unique_numbers(loan, db_engine) -> None:
    token = login(loan.url, "member2")
    with db_engine.connect() as conn:
        before = conn.execute(sa.text('SELECT count(*) FROM "x_conc__application"')).scalar()
    per_process = 5
    processes = [subprocess.Popen([sys.executable, "-c", CREATOR, loan.url, token,
                                   str(per_process)], stdout=subprocess.PIPE, cwd=ROOT)
                 for _ in range(20)]
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=180)
        assert process.returncode == 0
        results += json.loads(out)
    assert {status for status, _, _ in results} == {201}
    numbers = sorted(number for _, number, _ in results)
    expected = [f"CR-{n:05d}" for n in range(before + 1, before + 1 + 20 * per_process)]
    assert numbers == expected  # no duplicate, no gap
    with db_engine.connect() as conn:
        stored = dict(conn.execute(sa.text(
            'SELECT id, number FROM "x_conc__application" WHERE id = ANY(:ids)'),
            {"ids": [i for _, _, i in results]}).all())
    assert stored == {i: number for _, number, i in results}
    RESULTS["auto_numbers"] = {"processes": 20, "records": len(results),
                               "first": numbers[0], "last": numbers[-1],
                               "duplicates": len(numbers) - len(set(numbers))}


def leader_pids(db_engine: Any) -> list[str]:
    """application_name of the sessions holding a scheduler lock of this schema."""
    from app_platform.leader import LOCK_CLASS, lock_key

    with db_engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.classid = :a AND l.objid = :b"),
            {"a": LOCK_CLASS, "b": lock_key(str(db_engine.url.render_as_string(False)))}
        ).scalars().all()


def wait_all_completed(db_engine: Any, ids: list[int], seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    while True:
        with db_engine.connect() as conn:
            statuses = dict(conn.execute(sa.text(
                "SELECT status, count(*) FROM flow_instances WHERE id = ANY(:ids) "
                "GROUP BY status"), {"ids": ids}).all())
        if statuses == {"completed": len(ids)} or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def timer_firings(db_engine: Any, ids: list[int]) -> dict[int, int]:
    with db_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT instance_id, count(*) FROM flow_history WHERE instance_id = ANY(:ids) "
            "AND action = 'timer' GROUP BY instance_id"), {"ids": ids}).all()
    return {i: 0 for i in ids} | dict(rows)


def test_two_schedulers_one_leader_each_timer_fires_once(loan, db_engine) -> None:
    env = {"LOOM_SCHEDULER_SWEEP_SECONDS": "1", "LOOM_SCHEDULER_LEADER_CHECK_SECONDS": "1"}
    schedulers = [start_scheduler(loan.database.url, loan.instance, f"scheduler-{n}", **env)
                  for n in (1, 2)]
    try:
        deadline = time.monotonic() + 30
        while len(holders := leader_pids(db_engine)) != 1 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert len(holders) == 1, holders
        time.sleep(2)  # both have tried by now; still one holder
        holders = leader_pids(db_engine)
        assert len(holders) == 1, holders
        leader = next(p for p in schedulers if holders[0].endswith(f":{p.pid}"))
        standby = next(p for p in schedulers if p is not leader)
        health = httpx.get(f"{loan.url}/healthz", timeout=30).json()
        assert health["checks"]["scheduler"]["ok"] is True

        with loan.api("member") as member:
            first = [start_instance(member, "timed")["id"] for _ in range(6)]
        assert wait_all_completed(db_engine, first, 40) == {"completed": 6}
        assert timer_firings(db_engine, first) == {i: 1 for i in first}

        leader.send_signal(signal.SIGKILL)  # the standby takes over
        leader.wait(timeout=30)
        with loan.api("member") as member:
            second = [start_instance(member, "timed")["id"] for _ in range(4)]
        assert wait_all_completed(db_engine, second, 40) == {"completed": 4}
        assert timer_firings(db_engine, first + second) == {i: 1 for i in first + second}
        holders = leader_pids(db_engine)
        assert len(holders) == 1 and holders[0].endswith(f":{standby.pid}")
    finally:
        for process in schedulers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
    RESULTS["schedulers"] = {"processes": 2, "leaders_seen_at_once": 1,
                             "timers_fired": len(first) + len(second),
                             "timers_fired_twice": 0, "failover_after_kill_9": True}
