"""Operations commands: ``flask --app wsgi run-scheduler``, the scheduler process.

Why a process of its own: web workers come and go (gunicorn recycles them, deploys
restart them) and should stay stateless; the scheduler runs beside them, one per
install. Starting it twice is harmless: the copies elect a leader through the database
(app_platform/leader.py) and the others stand by until it dies.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

log = logging.getLogger("loom.scheduler")


def run_scheduler(app: Any) -> None:
    """Campaign for leadership and run the scheduler while leader, until SIGTERM/SIGINT;
    then step down so that a standby takes over at once."""
    from app_platform import scheduler

    app.config["SCHEDULER_ENABLED"] = True
    if "loom_leader" not in app.extensions:  # not started already by LOOM_SCHEDULER_ENABLED
        scheduler.init_app(app)
    leadership = app.extensions["loom_leader"]
    stopping = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("scheduler process %s started as %s", os.getpid(),
             "leader" if leadership.is_leader else "standby")
    while not stopping.wait(1.0):
        pass
    log.info("scheduler process %s stopping", os.getpid())
    leadership.stop()  # shuts the scheduler down and releases the lock


@click.command("run-scheduler", help="Run the scheduler (flow timers, scheduled rules) "
               "until stopped; one of several copies leads, the others stand by.")
@with_appcontext
def run_scheduler_command() -> None:
    run_scheduler(current_app._get_current_object())


def init_app(app: Any) -> None:
    """Register the operations commands (called from create_app)."""
    app.cli.add_command(run_scheduler_command)
