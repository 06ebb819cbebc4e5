"""The 02:00 (China Standard Time) nightly reconciliation as the platform scheduler runs
it: the job's trigger read on a controlled clock, then the job itself run at that
instant reconciles the previous day for every channel, and running the slot again (a
coalesced catch-up) doubles nothing."""

from __future__ import annotations

import datetime as dt
import importlib.util
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def _e2e() -> Any:
    """The settlement end-to-end module's scenario helpers (ledger posting, bill upload,
    expected batch figures from the scenario alone)."""
    spec = importlib.util.spec_from_file_location("loom_settlement_e2e_helpers",
                                                  HERE / "test_settlement_e2e.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


E2E = _e2e()
CST = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def scheduler(app: Any) -> Any:
    from apscheduler.schedulers.background import BackgroundScheduler

    from app_platform.services.settlement_nightly import add_nightly_job

    running = BackgroundScheduler(timezone="UTC")
    add_nightly_job(running, app)
    running.start(paused=True)  # registered, never fired by the wall clock
    yield running
    running.shutdown(wait=True)


def test_trigger_fires_at_two_in_the_morning_china_time(scheduler: Any) -> None:
    from app_platform.services.settlement_nightly import JOB_ID

    job = scheduler.get_job(JOB_ID)
    assert job.coalesce and job.max_instances == 1 and job.misfire_grace_time == 3600
    before = dt.datetime(2026, 11, 21, 1, 59, tzinfo=CST)
    fire = job.trigger.get_next_fire_time(None, before)
    assert fire == dt.datetime(2026, 11, 21, 2, 0, tzinfo=CST)
    assert fire.astimezone(dt.UTC) == dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)
    after = job.trigger.get_next_fire_time(fire, fire + dt.timedelta(seconds=1))
    assert after == dt.datetime(2026, 11, 22, 2, 0, tzinfo=CST)


def test_nightly_job_reconciles_yesterday_once(app: Any, admin: Any, login: Any,
                                               scheduler: Any) -> None:
    from app_platform.services.settlement_nightly import JOB_ID

    E2E.install(admin, "customer_settlement")
    E2E.add_users(admin, E2E.PEOPLE)
    fin = login("fin")
    E2E.post_ledger(fin)
    for name, _ in E2E.FILES.values():
        E2E.expect(E2E.upload(fin, name, (E2E.DATA / name).read_bytes()), 201)
    assert E2E.records(fin, "recon_batch") == []
    app.config["SETTLEMENT_NIGHTLY_APPS"] = ("customer_settlement", "not_installed")

    job = scheduler.get_job(JOB_ID)
    now = job.trigger.get_next_fire_time(None, dt.datetime(2026, 11, 21, 0, 0, tzinfo=CST))
    first = job.func(*job.args, now=now)  # what the scheduler calls at 02:00 on the 21st
    assert set(first) == {"customer_settlement"}  # an app not installed is skipped
    batches = E2E.records(fin, "recon_batch")
    assert sorted(b["channel"] for b in batches) == sorted(E2E.FILES)
    for batch in batches:  # yesterday (the 20th), with the scenario's figures
        want = E2E.expected_batch(batch["channel"])
        assert batch["bill_date"] == E2E.DAY == "2026-11-20"
        assert Decimal(batch["difference"]) == want["difference"], batch["channel"]
        assert batch["matched_count"] == want["counts"]["matched"], batch["channel"]
    exceptions = len(E2E.records(fin, "recon_exception"))
    assert exceptions == sum(r["new_exceptions"] for r in first["customer_settlement"].values())
    assert exceptions > 0

    again = job.func(*job.args, now=now)  # a second firing of the same slot
    assert {ch: r["batch"]["id"] for ch, r in again["customer_settlement"].items()} == {
        ch: r["batch"]["id"] for ch, r in first["customer_settlement"].items()}
    assert all(r["new_exceptions"] == 0 for r in again["customer_settlement"].values())
    assert len(E2E.records(fin, "recon_batch")) == len(E2E.FILES)
    assert len(E2E.records(fin, "recon_exception")) == exceptions
