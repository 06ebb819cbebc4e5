"""The in-process scheduler: fires due flow timers every 30 seconds.

Why a sweep and not one job per timer: due times live in ``flow_instances.next_timer_at``
(written after every save), so a sweep survives restarts and catches up missed runs
without a job store of its own. Several workers may sweep at once: each instance is
locked while its timers fire and re-checked under the lock, so a timer fires once.
Started only when ``SCHEDULER_ENABLED`` is true (off by default, and in tests).

Wire it with ``scheduler.init_app(app)`` in ``create_app``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

log = logging.getLogger("loom.scheduler")
SWEEP_SECONDS = 30


def sweep(app: Flask) -> int:
    """Fire every flow timer due now; returns how many instances were advanced."""
    from app_platform.extensions import db
    from app_platform.models import utcnow
    from app_platform.services.flow_instances import fire_due_timers

    with app.app_context():
        return fire_due_timers(db.session, utcnow())


def init_app(app: Flask) -> Any | None:
    """Start the background scheduler when configured, in the one process that wins the
    leader lock (app_platform/leader.py); returns it, or None in a standby (which takes
    over when the leader dies) or when disabled."""
    if not app.config.get("SCHEDULER_ENABLED", False):
        return None
    from app_platform.leader import campaign

    return campaign(app, lambda: start(app), lambda: stop(app))


def refresh_statistics(app: Flask) -> None:
    """Hourly: planner statistics for SQLite (PostgreSQL's autovacuum keeps its own)."""
    from app_platform.db import refresh_statistics as refresh
    from app_platform.extensions import db

    with app.app_context(), db.engine.begin() as conn:
        refresh(conn)


def stop(app: Flask) -> None:
    """Shut the scheduler down (leadership lost, or the process is stopping)."""
    scheduler = app.extensions.pop("loom_scheduler", None)
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)


def start(app: Flask) -> Any:
    """Build and start the scheduler with its jobs (called in the leader only)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(sweep, "interval", args=[app], id="flow-timers",
                      seconds=int(app.config.get("SCHEDULER_SWEEP_SECONDS", SWEEP_SECONDS)),
                      max_instances=1, coalesce=True, replace_existing=True)
    scheduler.add_job(refresh_statistics, "interval", args=[app], id="db-statistics",
                      hours=1, max_instances=1, coalesce=True, replace_existing=True)
    from app_platform.services import rule_schedule  # outbox sweep, webhooks, cron rules

    rule_schedule.init_scheduler(scheduler, app)
    from app_platform.services.settlement_nightly import add_nightly_job  # 02:00 CST

    add_nightly_job(scheduler, app)
    scheduler.start()
    app.extensions["loom_scheduler"] = scheduler
    log.info("scheduler started: flow timers every %s s", SWEEP_SECONDS)
    return scheduler
