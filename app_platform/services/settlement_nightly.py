"""The settlement template's nightly job: at 02:00 China Standard Time, reconcile the
previous business day of every channel, for each installed settlement app.

Why a platform scheduler job and not a scheduled rule: a scheduled rule runs its actions
once per selected record of an entity, while reconciliation is one run per app and day
over four channels; and the run must not depend on a business user keeping a rule
enabled. Re-running a day is harmless (reconcile_day updates the same batch and creates
no duplicate exception), so a coalesced catch-up after downtime is safe.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from apscheduler.triggers.cron import CronTrigger
from flask import Flask
from sqlalchemy.orm import Session

from app_platform.errors import APIError
from app_platform.models import App, utcnow
from app_platform.services.settlement import reconcile_yesterday

log = logging.getLogger("loom.settlement")
JOB_ID = "settlement-nightly"
DEFAULT_APPS = ("customer_settlement",)
"""App keys reconciled nightly unless ``SETTLEMENT_NIGHTLY_APPS`` lists others."""


def nightly_trigger() -> CronTrigger:
    """02:00 every day in China Standard Time (the channels' business-day cut-off)."""
    return CronTrigger(hour=2, minute=0, timezone="Asia/Shanghai")


def run_nightly(session: Session, now: dt.datetime,
                app_keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Reconcile yesterday (relative to `now`) for each listed app that is installed.
    Returns {app key: {channel: batch summary}}; an app that fails is logged and left
    out, so one broken app does not stop the others."""
    from app_platform.services.bundles import system_caller

    installed = set(session.scalars(sa.select(App.key).where(App.key.in_(list(app_keys)))))
    session.commit()
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(installed):
        try:
            out[key] = reconcile_yesterday(session, system_caller(), key, now)
        except APIError as exc:
            session.rollback()
            log.error("nightly reconciliation of app %s failed: %s %s", key, exc,
                      getattr(exc, "details", None))
    return out


def nightly_job(app: Flask, now: dt.datetime | None = None) -> dict[str, dict[str, Any]]:
    """The scheduler's entry point (`now` is for tests: the clock the job reads)."""
    from app_platform.extensions import db

    with app.app_context():
        keys = app.config.get("SETTLEMENT_NIGHTLY_APPS", DEFAULT_APPS)
        try:
            return run_nightly(db.session, now or utcnow(), keys)
        finally:
            db.session.close()


def add_nightly_job(scheduler: Any, app: Flask) -> None:
    """Register the 02:00 job on the platform scheduler (app_platform/scheduler.py)."""
    scheduler.add_job(nightly_job, nightly_trigger(), args=[app], id=JOB_ID, coalesce=True,
                      misfire_grace_time=3600, max_instances=1, replace_existing=True)
