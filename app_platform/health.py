"""``/healthz`` for load balancers and monitors, ``/metrics`` for Prometheus.

/healthz answers 200 when this node can serve: the database answers, and (reported, and
required when ``HEALTH_REQUIRE_SCHEDULER`` is set) a scheduler leader is known. Other
parts of the platform add their own checks with ``register_check`` (rule workers, say).
A web node without a scheduler stays in rotation by default: the scheduler is one
process per install, and its absence must page someone, not empty the load balancer.

/metrics counts requests per endpoint template (``/api/v1/apps/<app_key>``, never the
raw path: one series per route, not one per record id) and status, with a latency
histogram, across all worker processes of the node (app_platform/metrics.py). Gauges
that live in the database (open tasks, job queue, rule runs) are read at scrape time,
each table only if it exists. When ``METRICS_TOKEN`` is set, scrapes must send it as a
bearer token.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, jsonify, request

from app_platform import metrics
from app_platform.errors import Unauthenticated

log = logging.getLogger("loom.access")
Check = Callable[[Flask], dict[str, Any]]  # returns at least {"ok": bool}


def register_check(app: Flask, name: str, check: Check, required: bool = False) -> None:
    """Add a named check to /healthz; a failing required check makes it answer 503."""
    app.extensions.setdefault("loom_health_checks", {})[name] = (check, required)


def _database(app: Flask) -> dict[str, Any]:
    from app_platform.extensions import db

    started = time.perf_counter()
    try:
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


def _scheduler(app: Flask) -> dict[str, Any]:
    from app_platform.extensions import db
    from app_platform.leader import leader_status

    try:
        return leader_status(app, db.engine)
    except sa.exc.SQLAlchemyError as exc:
        return {"ok": False, "error": exc.__class__.__name__}


def healthz() -> Any:
    app = current_app._get_current_object()
    checks = {"database": (_database, True),
              "scheduler": (_scheduler, bool(app.config.get("HEALTH_REQUIRE_SCHEDULER")))}
    checks.update(app.extensions.get("loom_health_checks", {}))
    results: dict[str, Any] = {}
    healthy = True
    for name, (check, required) in checks.items():
        if name == "scheduler" and not results["database"]["ok"]:
            results[name] = {"ok": False, "error": "database unavailable"}
        else:
            try:
                results[name] = dict(check(app))
            except Exception as exc:  # noqa: BLE001 - a broken check is a failed check
                results[name] = {"ok": False, "error": exc.__class__.__name__}
        results[name]["required"] = required
        healthy = healthy and (results[name].get("ok", False) or not required)
    body = {"status": "ok" if healthy else "unavailable", "checks": results}
    return jsonify(body), 200 if healthy else 503


GAUGE_QUERIES = {  # table -> (metric, help, SQL)
    "flow_tasks": ("loom_flow_tasks_open", "Open approval tasks.",
                   "SELECT count(*) FROM flow_tasks WHERE state = 'open'"),
    "rule_tasks": ("loom_rule_tasks_open", "Open tasks created by rules.",
                   "SELECT count(*) FROM rule_tasks WHERE state = 'open'"),
    "rule_events": ("loom_rule_events_pending", "Rule events waiting for a worker.",
                    "SELECT count(*) FROM rule_events WHERE status = 'pending'"),
    "flow_instances": ("loom_flow_timers_due", "Flow timers due now and not fired yet.",
                       "SELECT count(*) FROM flow_instances WHERE status = 'running' "
                       "AND next_timer_at <= CURRENT_TIMESTAMP"),
}


def _database_lines(app: Flask) -> list[str]:
    from app_platform.extensions import db

    lines: list[str] = []
    try:
        with db.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            for table, (name, text, sql) in GAUGE_QUERIES.items():
                if table in tables:
                    value = conn.execute(sa.text(sql)).scalar() or 0
                    lines += [f"# HELP {name} {text}", f"# TYPE {name} gauge", f"{name} {value}"]
            if "jobs" in tables:
                rows = dict(conn.execute(sa.text(
                    "SELECT state, count(*) FROM jobs GROUP BY state")).all())
                depth = sum(n for state, n in rows.items() if state in ("queued", "running"))
                lines += ["# HELP loom_job_queue_depth Jobs (imports) queued or running.",
                          "# TYPE loom_job_queue_depth gauge", f"loom_job_queue_depth {depth}"]
                lines += ["# HELP loom_jobs Jobs by state.", "# TYPE loom_jobs gauge"]
                lines += [f'loom_jobs{{state="{state}"}} {n}' for state, n in sorted(rows.items())]
            if "rule_runs" in tables:
                rows = conn.execute(sa.text(
                    "SELECT status, count(*) FROM rule_runs GROUP BY status")).all()
                lines += ["# HELP loom_rule_runs_total Rule runs in the run log by status.",
                          "# TYPE loom_rule_runs_total counter"]
                lines += [f'loom_rule_runs_total{{status="{s}"}} {n}' for s, n in sorted(rows)]
        up = 1
    except sa.exc.SQLAlchemyError:
        up = 0
    leader = _scheduler(app).get("ok") if up else False
    return lines + [
        "# HELP loom_database_up The database answered this scrape.",
        "# TYPE loom_database_up gauge", f"loom_database_up {up}",
        "# HELP loom_scheduler_leader_present A scheduler process holds the leader lock.",
        "# TYPE loom_scheduler_leader_present gauge",
        f"loom_scheduler_leader_present {1 if leader else 0}"]


def metrics_page() -> Any:
    app = current_app._get_current_object()
    token = app.config.get("METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise Unauthenticated("metrics need the bearer token set in METRICS_TOKEN")
    lines = metrics.render_requests(_registry(app).collect()) + _database_lines(app)
    return Response("\n".join(lines) + "\n",
                    mimetype="text/plain", content_type="text/plain; version=0.0.4")


def _registry(app: Flask) -> metrics.RequestMetrics:
    directory = app.config.get("METRICS_DIR")
    if directory is None and not app.testing:
        directory = os.path.join(app.instance_path, "metrics")
    return metrics.registry(directory or None)


def init_app(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/metrics", "metrics", metrics_page)

    def _start_clock() -> None:
        g.loom_started = time.perf_counter()

    # first of the before-request hooks, so requests refused by an earlier hook are timed
    app.before_request_funcs.setdefault(None, []).insert(0, _start_clock)

    @app.after_request
    def _count(response: Any) -> Any:
        started = g.get("loom_started")
        if started is None:
            return response
        seconds = time.perf_counter() - started
        rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
        _registry(app).observe(request.method, rule, response.status_code, seconds)
        if app.config.get("ACCESS_LOG"):
            log.info("%s %s %s %.1fms", request.method, request.path, response.status_code,
                     seconds * 1000, extra={"method": request.method, "path": request.path,
                                            "endpoint": rule, "status": response.status_code,
                                            "duration_ms": round(seconds * 1000, 1)})
        return response
