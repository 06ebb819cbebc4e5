"""The scheduler process: ``python scheduler_main.py`` (same as
``flask --app wsgi run-scheduler``). Run one per install; a second copy stands by."""

from app_platform import create_app
from app_platform.cli_ops import run_scheduler

if __name__ == "__main__":
    run_scheduler(create_app())
