"""Scheduled rules with a controllable clock, misfire catch-up, signed webhooks retried
with backoff against a local HTTP server, event windows, process triggers, the dry run."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib.util
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app_platform.extensions import db
from app_platform.models import App, Entity
from app_platform.models.rules import RuleActionRun, RuleSchedule
from app_platform.services import record_events, rule_delivery, rule_schedule
from app_platform.services.rule_runtime import runtime

_spec = importlib.util.spec_from_file_location(
    "loom_rules_support", Path(__file__).with_name("rules_support.py"))
assert _spec and _spec.loader
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)
APP, rule, write = support.APP, support.rule, support.write
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def loans(admin: Any, app: Any) -> Any:
    app.config["MAIL_OUTBOX"] = True
    support.setup_app(admin)
    return admin


def _save(api: Any, body: dict) -> dict:
    response = api.post(f"/apps/{APP}/rules", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _app_id(app: Any) -> int:
    with app.app_context():
        return db.session.query(App).filter_by(key=APP).one().id


OVERDUE = rule("overdue", {"type": "schedule", "cron": "0 2 * * *", "timezone": "Asia/Shanghai"},
               [{"type": "set_fields", "values": {"status": "review"}}],
               {"all": [{"field": "due_date", "op": "lt",
                         "value": {"relative": "today", "offset_days": -7}},
                        {"field": "amount", "op": "gt", "value": "0"}]})
OVERDUE["entity"] = "application"


def test_scheduled_rule_selects_records_with_a_controllable_clock(app: Any, loans: Any) -> None:
    _save(loans, OVERDUE)
    rows = {due: write(app, "admin", "application", "create",
                       {"due_date": due, "amount": amount, "status": "new"})["id"]
            for due, amount in (("2024-03-01", "10"), ("2024-03-02", "10"),
                                ("2024-03-03", "10"), ("2024-02-01", "0"))}
    # 2024-03-10 02:00 in Shanghai: today - 7 = 03-03, so due < 03-03 with amount > 0
    now = dt.datetime(2024, 3, 10, 2, 0, tzinfo=SHANGHAI)
    with app.app_context():
        run_ids = rule_schedule.run_schedule(db.session, _app_id(app), "overdue", now)
        again = rule_schedule.run_schedule(db.session, _app_id(app), "overdue", now)
    assert len(run_ids) == 2 and sorted(again) == sorted(run_ids)  # same slot: same runs
    statuses = {r["id"]: r["status"] for r in loans.get(
        f"/apps/{APP}/entities/application/records").get_json()["items"]}
    assert statuses == {rows["2024-03-01"]: "review", rows["2024-03-02"]: "review",
                        rows["2024-03-03"]: "new", rows["2024-02-01"]: "new"}
    versions = [r["version"] for r in loans.get(
        f"/apps/{APP}/entities/application/records?status=review").get_json()["items"]]
    assert versions == [2, 2]  # the repeated slot changed nothing twice


def test_missed_schedule_runs_once_on_start(app: Any, loans: Any) -> None:
    _save(loans, OVERDUE)
    write(app, "admin", "application", "create", {"due_date": "2024-01-01", "amount": "5"})
    app_id = _app_id(app)
    with app.app_context():
        start = dt.datetime(2024, 3, 1, 3, 0, tzinfo=SHANGHAI)
        db.session.add(RuleSchedule(app_id=app_id, rule_key="overdue", last_fire_at=start))
        db.session.commit()
        # down for three days: three 02:00 slots missed -> one run on start
        ran = rule_schedule.catch_up(db.session, start + dt.timedelta(days=3))
        assert ran == [(app_id, "overdue")]
        assert rule_schedule.catch_up(db.session, start + dt.timedelta(days=3, hours=1)) == []
        last = db.session.get(RuleSchedule, (app_id, "overdue")).last_fire_at
    assert support.runs(loans, "overdue")[0]["status"] == "ok"
    assert len(support.runs(loans, "overdue")) == 1
    assert last.replace(tzinfo=dt.UTC) == (start + dt.timedelta(days=3)).astimezone(dt.UTC)


def test_scheduler_registers_cron_jobs(app: Any, loans: Any) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    saved = _save(loans, OVERDUE)
    scheduler = BackgroundScheduler(timezone="UTC")
    rule_schedule.init_scheduler(scheduler, app)
    scheduler.start(paused=True)  # jobs registered, none runs
    try:
        rule_schedule.refresh_jobs(scheduler, app)  # what the refresh thread does each minute
        ids = {job.id for job in scheduler.get_jobs()}
        assert {"rule-events", "rule-webhooks", "rule-catch-up"} <= ids
        cron = [job for job in scheduler.get_jobs() if job.id.startswith("rule:")]
        assert len(cron) == 1 and cron[0].coalesce and cron[0].misfire_grace_time == 3600
        assert str(cron[0].trigger.timezone) == "Asia/Shanghai"
        loans.put(f"/apps/{APP}/rules/overdue", {**OVERDUE, "version": saved["version"],
                                                 "options": {"enabled": False}})
        rule_schedule.refresh_jobs(scheduler, app)
        assert [j for j in scheduler.get_jobs() if j.id.startswith("rule:")] == []
    finally:
        scheduler.shutdown(wait=True)


def test_webhook_is_signed_and_retried_with_backoff(app: Any, loans: Any) -> None:
    with support.webhook_receiver(statuses=[500]) as receiver:
        url = f"http://127.0.0.1:{receiver.server_port}/hook"
        _save(loans, rule("hook", {"type": "record_created", "entity": "application"},
                          [{"type": "webhook", "url": url, "body": {"source": "loom"}}]))
        record = write(app, "admin", "application", "create", {"amount": "7.50"})
        assert len(receiver.received) == 1  # first attempt inline, answered 500
        run = support.runs(loans, "hook")[0]
        assert run["actions"][0]["delivery"] == {"status": "pending", "attempts": 1}
        with app.app_context():
            row = db.session.scalar(sa.select(RuleActionRun))
            next_at = row.next_attempt_at.replace(tzinfo=dt.UTC)
            assert rule_delivery.deliver_due(db.session, next_at - dt.timedelta(seconds=1)) == 0
            assert rule_delivery.deliver_due(db.session, next_at) == 1
            key = rule_delivery.signing_key()
        assert len(receiver.received) == 2
    sent = receiver.received[1]
    body = support.body_json(sent)
    assert (body["record_id"], body["data"]["amount"], body["source"]) == (
        record["id"], "7.50", "loom")
    stamp, digest = (p.split("=", 1)[1] for p in sent["headers"]["X-Loom-Signature"].split(","))
    expected = hmac.new(key, f"{stamp}.".encode() + sent["body"], hashlib.sha256).hexdigest()
    assert digest == expected
    assert sent["headers"]["X-Loom-Delivery"] == run["actions"][0]["key"]
    assert support.runs(loans, "hook")[0]["actions"][0]["delivery"]["status"] == "done"


def test_count_window_per_card(app: Any, loans: Any) -> None:
    velocity = rule("velocity", {"type": "event", "event_type": "txn"},
                    [{"type": "create_record", "entity": "alert",
                      "values": {"title": {"field": "card"}}}],
                    {"all": [{"pattern": "count", "key": "card", "window_s": 600, "op": "gt",
                              "n": 2}]})
    velocity["event_fields"] = {"card": "text", "amount": "money"}
    _save(loans, velocity)
    with app.app_context():
        runtime().close()  # a fresh pool: its clock only moves forward (earlier tests' events)
    base = 1_700_000_000
    for offset, card in ((0, "c1"), (10, "c1"), (20, "c2"), (30, "c1"), (700, "c1"),
                         (705, "c1"), (710, "c1")):
        response = loans.post(f"/apps/{APP}/events",
                              {"type": "txn", "ts": str(base + offset), "data": {"card": card}})
        assert response.status_code == 202, response.get_json()
    alerts = loans.get(f"/apps/{APP}/entities/alert/records?sort=id").get_json()["items"]
    # c1 at +30 is its third event within 600 s (3 > 2); at +710 the window (110, 710]
    # holds +700, +705, +710: three again. c2 never has more than one.
    assert [a["title"] for a in alerts] == ["c1", "c1"]
    with app.app_context():
        runtime().close()  # later tests start with empty windows


def test_process_trigger_through_the_hook(app: Any, loans: Any) -> None:
    started = rule("started", {"type": "process_started", "process": "approval"},
                   [{"type": "notify", "to": ["member"], "message": "started {amount}"}])
    started["entity"] = "application"
    _save(loans, started)
    record = write(app, "admin", "application", "create", {"amount": "3.00"})
    with app.app_context():
        app_row = db.session.query(App).filter_by(key=APP).one()
        entity = db.session.query(Entity).filter_by(app_id=app_row.id, key="application").one()
        record_events.process_event(db.session, app_row, "process_started", "approval", entity,
                                    record, instance_id=41)
        db.session.commit()
    run = support.runs(loans, "started")[0]
    assert (run["status"], run["record_id"]) == ("ok", record["id"])


def test_dry_run_shows_which_conditions_held(app: Any, loans: Any) -> None:
    _save(loans, rule("big", {"type": "record_created", "entity": "application"},
                      [{"type": "create_task", "title": "check", "assignee": "role:member"}],
                      {"any": [{"field": "amount", "op": "gt", "value": "50000"},
                               {"all": [{"field": "vip", "op": "eq", "value": True},
                                        {"field": "status", "op": "eq", "value": "new"}]}]}))
    record = write(app, "admin", "application", "create",
                   {"amount": "100.00", "vip": True, "status": "review"})
    result = loans.post(f"/apps/{APP}/rules/big/test", {"record_id": record["id"]}).get_json()
    assert result["matched"] is False
    assert [(c["path"], c["held"]) for c in result["conditions"]] == [
        ("condition.any[0]", False), ("condition.any[1].all[0]", True),
        ("condition.any[1].all[1]", False)]
    pasted = loans.post(f"/apps/{APP}/rules/big/test",
                        {"event": {"data": {"amount": "60000.00"}}}).get_json()
    assert pasted["matched"] is True
    assert pasted["actions"] == [{"index": 0, "type": "create_task", "would_run": True,
                                  "summary": "create task 'check' for role:member"}]
    draft = {"key": "big", "name": "draft", "trigger": {"type": "record_created",
                                                       "entity": "application"},
             "condition": {"all": [{"field": "status", "op": "eq", "value": "review"}]},
             "actions": []}
    tried = loans.post(f"/apps/{APP}/rules/big/test", {"rule": draft,
                                                       "record_id": record["id"]})
    assert tried.get_json()["matched"] is True
    assert loans.post(f"/apps/{APP}/rules/big/test", {"record_id": 999}).status_code == 404
    assert loans.post(f"/apps/{APP}/rules/big/test", {}).status_code == 422
    assert loans.post(f"/apps/{APP}/rules/big/test",
                      {"event": {"data": {"amount": "x"}}}).status_code == 422
