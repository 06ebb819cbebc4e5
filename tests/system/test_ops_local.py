"""The operations pieces that need no PostgreSQL: /healthz and /metrics through the app
(SQLite), the token guard, request metrics summed over real processes (and kept when they
die), the SQLite leader lock between processes, and JSON log lines with card numbers
masked. The PostgreSQL paths of the same code run in the other system tests."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app_platform import create_app, metrics
from app_platform.cli import upgrade_database
from app_platform.leader import FileLock
from app_platform.logs import JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.system
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    url = f"sqlite:///{tmp_path_factory.mktemp('ops') / 'loom.db'}"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "x" * 32})
    with app.app_context():
        upgrade_database()
    return app


@pytest.fixture
def app(sqlite_app: Any) -> Any:
    saved = dict(sqlite_app.config)
    yield sqlite_app
    sqlite_app.config.clear()
    sqlite_app.config.update(saved)


def test_healthz_reports_database_and_scheduler(app: Any) -> None:
    client = app.test_client()
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    # no scheduler runs here: reported, and only fatal when required
    assert body["checks"]["scheduler"] == {"ok": False, "leader": None, "required": False}
    app.config["HEALTH_REQUIRE_SCHEDULER"] = True
    refused = client.get("/healthz")
    assert refused.status_code == 503 and refused.get_json()["status"] == "unavailable"


def test_extra_checks_and_a_broken_check(app: Any) -> None:
    from app_platform import health

    checks = dict(app.extensions.get("loom_health_checks", {}))
    try:
        health.register_check(app, "rule_workers", lambda _app: {"ok": True, "alive": 2})
        health.register_check(app, "broken", lambda _app: 1 / 0, required=True)
        body = app.test_client().get("/healthz")
        assert body.status_code == 503
        assert body.get_json()["checks"]["rule_workers"] == {"ok": True, "alive": 2,
                                                              "required": False}
        assert body.get_json()["checks"]["broken"] == {"ok": False, "required": True,
                                                       "error": "ZeroDivisionError"}
    finally:
        app.extensions["loom_health_checks"] = checks


def sample(text: str, name: str, **labels: str) -> float | None:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(
                f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_by_endpoint_template_and_guard_with_a_token(app: Any) -> None:
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/v1/apps/nope").status_code == 401
    text = client.get("/metrics").get_data(as_text=True)
    labels = {"method": "GET", "endpoint": "/api/v1/apps/<app_key>", "status": "401"}
    assert sample(text, "loom_http_requests_total", **labels) >= 3
    assert sample(text, "loom_http_request_duration_seconds_bucket", **labels,
                  le="+Inf") == sample(text, "loom_http_requests_total", **labels)
    assert sample(text, "loom_database_up") == 1
    assert sample(text, "loom_flow_tasks_open") == 0
    assert sample(text, "loom_job_queue_depth") == 0
    assert "/api/v1/apps/nope" not in text  # templates, never raw paths
    app.config["METRICS_TOKEN"] = "s3cret-scrape-token"
    denied = client.get("/metrics")
    assert denied.status_code == 401
    assert set(denied.get_json()["error"]) == {"code", "message", "details", "request_id"}
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert allowed.status_code == 200 and "loom_http_requests_total" in allowed.get_data(
        as_text=True)


WORKER = """
import sys
from app_platform import metrics
registry = metrics.registry(sys.argv[1])
for i in range(int(sys.argv[2])):
    registry.observe("POST", "/api/v1/x", 201, 0.02 * (i % 3))
registry.flush()
print("ready", flush=True)
sys.stdin.readline()
"""


def test_metrics_add_up_over_processes_and_survive_their_death(tmp_path: Path) -> None:
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(n)],
                                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for n in (5, 7)]
    try:
        for worker in workers:
            assert worker.stdout.readline().strip() == "ready"
        scraper = metrics.RequestMetrics(str(tmp_path))
        series = scraper.collect()["POST|/api/v1/x|201"]
        # durations 0, 0.02, 0.04 in turn: 5 + 7 requests, 0.08 s + 0.12 s in all
        assert series[0] == 12 and round(series[1], 6) == 0.2
        assert series[2:6] == [5, 0, 4, 3]  # <=5 ms, <=10 ms, <=25 ms, <=50 ms
        workers[0].kill()  # SIGKILL: no goodbye, the file stays behind
        workers[0].wait()
        again = scraper.collect()["POST|/api/v1/x|201"]
        assert again[0] == 12  # folded into the retired counts, not lost
        host = scraper.host
        assert (tmp_path / f"{host}-retired.json").exists()
        assert not (tmp_path / f"{host}-{workers[0].pid}.json").exists()
        lines = metrics.render_requests(scraper.collect())
        assert any(line.endswith(" 12") and "requests_total" in line for line in lines)
    finally:
        for worker in workers:
            worker.stdin.close()  # the live one reads EOF and exits
            worker.wait(timeout=30)
            worker.stdout.close()


HOLDER = """
import sys, time
from app_platform.leader import FileLock
lock = FileLock(sys.argv[1], sys.argv[2])
print("won" if lock.try_acquire() else "lost", flush=True)
time.sleep(600)
"""


def test_sqlite_leader_lock_is_held_by_one_process_until_it_dies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loom.db'}"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), url], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "won"
        mine = FileLock(str(tmp_path), url)
        assert mine.try_acquire() is False
        assert mine.holder()["pid"] == holder.pid
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        assert mine.try_acquire() is True and mine.still_held()
        assert mine.holder()["pid"] == os.getpid()  # seen from another open file
        other_database = FileLock(str(tmp_path), url + "-other")
        assert other_database.try_acquire() is True  # one lock per database
        other_database.dispose()
        mine.dispose()
        assert mine.holder() is None
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        holder.stdout.close()


def test_json_log_lines_carry_request_id_and_mask_cards() -> None:
    record = logging.LogRecord("loom.access", logging.INFO, __file__, 1,
                               "paid with %s", ("4111 1111 1111 1111",), None)
    record.path = "/api/v1/x?pan=5500005555555559"
    record.status = 201
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "paid with **** **** **** 1111"
    assert entry["path"] == "/api/v1/x?pan=************5559"
    assert (entry["level"], entry["logger"], entry["status"], entry["request_id"]) == (
        "INFO", "loom.access", 201, "-")
    assert entry["ts"].endswith("+00:00") and entry["pid"] == os.getpid()
    try:
        raise ValueError("card 4111111111111111 refused")
    except ValueError:
        failed = logging.LogRecord("loom", logging.ERROR, __file__, 1, "boom", (),
                                   sys.exc_info())
    text = JsonFormatter().format(failed)
    assert "4111111111111111" not in text and "ValueError" in json.loads(text)["exception"]


def test_leader_check_steps_down_when_the_lock_is_gone(app: Any, tmp_path: Path) -> None:
    from app_platform.leader import Leadership

    events: list[str] = []
    app.config["SCHEDULER_LEADER_CHECK_SECONDS"] = 60
    leadership = Leadership(app, lambda: events.append("elected"),
                            lambda: events.append("lost"))
    leadership.lock = FileLock(str(tmp_path), f"sqlite:///{tmp_path / 'stepdown.db'}")
    try:
        leadership.campaign()
        assert events == ["elected"] and leadership.is_leader and leadership.is_fresh()
        leadership.lock.path.unlink()  # the lock file vanished: no longer a safe leader
        leadership.check()  # steps down, then wins the new file again
        assert events == ["elected", "lost", "elected"] and leadership.is_leader
    finally:
        leadership.stop()
    assert events[-1] == "lost" and not leadership.is_leader


def settle(running: Any) -> None:
    deadline = time.monotonic() + 10
    while any(job.trigger.__class__.__name__ == "DateTrigger" for job in running.get_jobs()) \
            and time.monotonic() < deadline:
        time.sleep(0.05)


def test_scheduler_init_twice_replaces_the_running_scheduler(app: Any) -> None:
    from app_platform import scheduler

    app.config["SCHEDULER_ENABLED"] = True
    first = scheduler.init_app(app)
    try:
        # APScheduler 3 races when shut down while its loop removes a finished one-shot
        # job (the rules' start-up catch-up): a thread traceback, nothing worse. Real
        # step-downs are rarer than this back-to-back restart, so let that job finish.
        settle(first)
        second = scheduler.init_app(app)
        settle(second)  # same process, same lock: restart, not a twin
        assert first is not None and second is not None and first is not second
        assert not first.running and second.running
        assert app.extensions["loom_scheduler"] is second
    finally:
        app.extensions.pop("loom_leader").stop()
    assert not second.running and "loom_scheduler" not in app.extensions
