"""Rules at run time: every trigger, operator samples, sync blocks, chains, idempotent
retries, worker crash recovery. Record writes go through support.write, i.e. the write,
then record_events.after_write in its transaction, then the commit (the RecordService
wiring)."""

from __future__ import annotations

import importlib.util
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app_platform.errors import Unprocessable
from app_platform.extensions import db
from app_platform.models.rules import RuleActionRun, RuleEvent
from app_platform.services import rule_dispatch
from app_platform.services.rule_runtime import runtime

_spec = importlib.util.spec_from_file_location(
    "loom_rules_support", Path(__file__).with_name("rules_support.py"))
assert _spec and _spec.loader
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)
APP, rule, write = support.APP, support.rule, support.write


@pytest.fixture
def loans(admin: Any, app: Any) -> Any:
    app.config["MAIL_OUTBOX"] = True
    support.setup_app(admin)
    return admin


def _save(api: Any, body: dict) -> None:
    response = api.post(f"/apps/{APP}/rules", body)
    assert response.status_code == 201, response.get_json()


def _alerts(api: Any) -> list[tuple[str, str]]:
    items = api.get(f"/apps/{APP}/entities/alert/records?sort=id").get_json()["items"]
    return [(a["title"], a["amount"]) for a in items]


def _alert_on(key: str, trigger: dict, condition: dict | None = None) -> dict:
    return rule(key, trigger, [{"type": "create_record", "entity": "alert",
                                "values": {"title": key, "amount": {"field": "amount"}}}],
                condition)


def test_record_triggers_created_updated_deleted_field_changed(app: Any, loans: Any) -> None:
    entity = {"entity": "application"}
    _save(loans, _alert_on("on_create", {"type": "record_created", **entity}))
    _save(loans, _alert_on("on_update", {"type": "record_updated", **entity}))
    _save(loans, _alert_on("on_delete", {"type": "record_deleted", **entity}))
    _save(loans, _alert_on("on_status", {"type": "field_changed", "field": "status", **entity},
                           {"all": [{"field": "status", "op": "changed_to", "value": "review"},
                                    {"field": "old.status", "op": "eq", "value": "new"}]}))
    record = write(app, "admin", "application", "create", {"amount": "10.00", "status": "new"})
    write(app, "admin", "application", "update", {"note": "hello"}, record["id"])
    write(app, "admin", "application", "update", {"status": "review"}, record["id"])
    write(app, "admin", "application", "update", {"status": "approved"}, record["id"])
    write(app, "admin", "application", "delete", None, record["id"])
    assert _alerts(loans) == [("on_create", "10.00"), ("on_update", "10.00"),
                              ("on_update", "10.00"), ("on_status", "10.00"),
                              ("on_update", "10.00"), ("on_delete", "10.00")]
    history = loans.get(f"/apps/{APP}/audit?entity=alert").get_json()["items"]
    assert {h["source"] for h in history if h["record_id"]} == {"rule:on_create", "rule:on_update",
                                             "rule:on_status", "rule:on_delete"}


OPERATOR_SAMPLES = [
    ({"field": "amount", "op": "gt", "value": "50000"}, {"amount": "50000.01"},
     {"amount": "50000.00"}),
    ({"field": "amount", "op": "lte", "value": "100"}, {"amount": "100.00"}, {"amount": "100.01"}),
    ({"field": "applicant", "op": "eq", "value": "张三"}, {"applicant": "张三"},
     {"applicant": "李四"}),
    ({"field": "applicant", "op": "ne", "value": "张三"}, {"applicant": "李四"},
     {"applicant": "张三"}),
    ({"field": "status", "op": "in", "value": ["review", "approved"]}, {"status": "review"},
     {"status": "new"}),
    ({"field": "status", "op": "not_in", "value": ["rejected"]}, {"status": "new"},
     {"status": "rejected"}),
    ({"field": "note", "op": "contains", "value": "急"}, {"note": "很急的"}, {"note": "慢"}),
    ({"field": "tags", "op": "contains", "value": "b"}, {"tags": ["a", "b"]}, {"tags": ["c"]}),
    ({"field": "note", "op": "is_empty"}, {"amount": "1"}, {"note": "x"}),
    ({"field": "note", "op": "is_not_empty"}, {"note": "x"}, {"amount": "1"}),
    ({"field": "vip", "op": "eq", "value": True}, {"vip": True}, {"vip": False}),
    ({"field": "score", "op": "gte", "value": "1.5"}, {"score": "1.5"}, {"score": "1.49"}),
    ({"field": "due_date", "op": "lt", "value": {"relative": "today", "offset_days": -7}},
     {"due_date": "2000-01-01"}, {"due_date": "2999-01-01"}),
]


def test_operator_samples_fire_exactly_when_they_hold(app: Any, loans: Any) -> None:
    for i, (term, _, _) in enumerate(OPERATOR_SAMPLES):
        _save(loans, _alert_on(f"op{i}", {"type": "record_created", "entity": "application"},
                               {"all": [term]}))
    created = []
    for i, (_, holds, fails) in enumerate(OPERATOR_SAMPLES):
        yes = write(app, "admin", "application", "create", {"applicant": f"h{i}", **holds})
        no = write(app, "admin", "application", "create", {"applicant": f"f{i}", **fails})
        created.append((yes["id"], no["id"]))
    for i, (yes, no) in enumerate(created):
        fired_on = {r["record_id"] for r in support.runs(loans, f"op{i}", limit=500)}
        assert yes in fired_on, f"op{i} {OPERATOR_SAMPLES[i][0]} did not fire on its sample"
        assert no not in fired_on, f"op{i} {OPERATOR_SAMPLES[i][0]} fired on its counter-sample"


def test_sync_rule_blocks_the_write_with_a_clear_message(app: Any, loans: Any) -> None:
    credit = rule("credit_check", {"type": "record_created", "entity": "account"},
                  [{"type": "block",
                    "message": "insufficient credit: available {available}"}],
                  {"all": [{"field": "request", "op": "gt", "value": "12000"}]}, sync=True)
    _save(loans, credit)
    with pytest.raises(Unprocessable) as raised:
        write(app, "admin", "account", "create",
              {"name": "a", "available": "12000.00", "request": "12000.01"})
    assert raised.value.code == "blocked_by_rule"
    assert raised.value.message == "insufficient credit: available 12,000.00"
    assert raised.value.details[0]["rule"] == "credit_check"
    ok = write(app, "admin", "account", "create",
               {"name": "b", "available": "12000.00", "request": "12000.00"})
    accounts = loans.get(f"/apps/{APP}/entities/account/records").get_json()["items"]
    assert [a["id"] for a in accounts] == [ok["id"]]  # nothing of the blocked write is left
    blocked = support.runs(loans, "credit_check", status="blocked")
    assert len(blocked) == 1 and blocked[0]["error"].startswith("insufficient credit")


def test_actions_notify_task_set_fields_update_and_post_event(app: Any, loans: Any,
                                                             login: Any) -> None:
    _save(loans, rule("risk", {"type": "record_created", "entity": "application"}, [
        {"type": "create_task", "title": "审核 {applicant} {amount}", "assignee": "role:member",
         "due_in_days": 2},
        {"type": "notify", "to": ["designer", "role:integrator"], "message": "new {amount}"},
        {"type": "notify", "to": ["ops@example.com"], "message": "mail {amount}",
         "channel": "email"},
        {"type": "set_fields", "values": {"status": "review", "note": {"field": "applicant"}}},
        {"type": "post_event", "event_type": "reviewed", "data": {"amount": {"field": "amount"}}},
    ], {"all": [{"field": "amount", "op": "gt", "value": "50000"}]}))
    reviewed = _alert_on("reviewed", {"type": "event", "event_type": "reviewed"})
    reviewed["event_fields"] = {"amount": "money"}
    _save(loans, reviewed)
    record = write(app, "admin", "application", "create",
                   {"applicant": "王五", "amount": "60000.00", "status": "new"})
    member_tasks = login("member").get("/rule-tasks").get_json()["items"]
    assert [(t["title"], t["assignee"]) for t in member_tasks] == [
        ("审核 王五 60,000.00", "role:member")]
    assert login("member2").get("/rule-tasks").get_json()["total"] == 1
    assert login("designer").get("/rule-tasks").get_json()["total"] == 0
    notes = login("designer").get("/notifications").get_json()["items"]
    assert [n["message"] for n in notes] == ["new 60,000.00"]
    assert login("integrator").get("/notifications").get_json()["total"] == 1
    stored = loans.get(f"/apps/{APP}/entities/application/records/{record['id']}").get_json()
    assert (stored["status"], stored["note"], stored["version"]) == ("review", "王五", 2)
    assert _alerts(loans) == [("reviewed", "60000.00")]
    with app.app_context():
        mails = db.session.execute(sa.text("SELECT recipient, body FROM mail_outbox")).all()
    assert [tuple(m) for m in mails] == [("ops@example.com", "mail 60,000.00")]
    done = login("member").post(f"/rule-tasks/{member_tasks[0]['id']}/complete")
    assert done.status_code == 200 and done.get_json()["completed_by"] == "member"
    assert login("member2").post(f"/rule-tasks/{member_tasks[0]['id']}/complete"
                                 ).status_code == 409


def test_action_permissions_are_checked_at_run_time(app: Any, loans: Any, login: Any) -> None:
    designer = login("designer")
    _save(designer, rule("by_designer", {"type": "record_created", "entity": "application"},
                         [{"type": "create_record", "entity": "alert",
                           "values": {"title": "x"}}]))
    # the owner loses the right to create alerts after saving the rule
    alert = loans.get(f"/apps/{APP}/entities/alert").get_json()
    alert["permissions"] = {"designer": {"create": False}}
    assert loans.put(f"/apps/{APP}/entities/alert", alert).status_code in (200, 201)
    grants = {"designer": "use"}
    with app.app_context():
        from app_platform.models import App, AppGrant

        app_row = db.session.query(App).filter_by(key=APP).one()
        db.session.query(AppGrant).filter_by(app_id=app_row.id).delete()
        for role, level in grants.items():
            db.session.add(AppGrant(app_id=app_row.id, role_key=role, level=level))
        db.session.commit()
    write(app, "admin", "application", "create", {"amount": "1"})
    run = support.runs(loans, "by_designer")[0]
    assert run["status"] == "error"
    assert "may not create" in run["actions"][0]["error"]
    assert _alerts(loans) == []


def test_chain_depth_limit_stops_a_self_triggering_rule(app: Any, loans: Any) -> None:
    app.config["RULES_MAX_CHAIN_DEPTH"] = 3
    ping = rule("ping", {"type": "event", "event_type": "ping"}, [
        {"type": "create_record", "entity": "alert", "values": {"title": {"field": "n"}}},
        {"type": "post_event", "event_type": "ping", "data": {"n": "again"}}])
    ping["event_fields"] = {"n": "text"}
    _save(loans, ping)
    response = loans.post(f"/apps/{APP}/events", {"type": "ping", "data": {"n": "seed"}})
    assert response.status_code == 202
    titles = [t for t, _ in _alerts(loans)]
    assert titles == ["seed", "again", "again", "again"]  # depths 0..3, then it stops
    runs = support.runs(loans, "ping")
    assert [r["depth"] for r in runs] == [3, 2, 1, 0]
    assert [r["status"] for r in runs] == ["error", "ok", "ok", "ok"]
    assert runs[0]["actions"][0]["status"] == "done"
    assert "rule chain stopped" in runs[0]["actions"][1]["error"]


def test_retried_event_never_doubles_a_side_effect(app: Any, loans: Any) -> None:
    _save(loans, _alert_on("once", {"type": "record_created", "entity": "application"}))
    write(app, "admin", "application", "create", {"amount": "5.00"})
    with app.app_context():
        event_id = db.session.scalar(sa.select(RuleEvent.id))
        db.session.execute(sa.update(RuleEvent).values(status="pending"))
        db.session.commit()
        rule_dispatch.dispatch([event_id])
        rule_dispatch.process_pending(app)
        keys = db.session.scalars(sa.select(RuleActionRun.idempotency_key)).all()
    assert _alerts(loans) == [("once", "5.00")]
    assert len(keys) == 1 and keys[0].endswith(":0")
    run = support.runs(loans, "once")
    assert len(run) == 1 and run[0]["actions"][0]["status"] == "already_done"


def test_killed_worker_is_replaced_and_the_next_event_processed(app: Any, loans: Any) -> None:
    _save(loans, _alert_on("survive", {"type": "record_created", "entity": "application"}))
    write(app, "admin", "application", "create", {"amount": "1.00"})
    with app.app_context():
        pids = runtime().worker_pids()
    os.kill(pids[0], signal.SIGKILL)
    write(app, "admin", "application", "create", {"amount": "2.00"})
    assert _alerts(loans) == [("survive", "1.00"), ("survive", "2.00")]
    with app.app_context():
        assert runtime().worker_pids() != pids


def test_max_fires_per_record_per_day(app: Any, loans: Any) -> None:
    _save(loans, rule("daily", {"type": "record_updated", "entity": "application"},
                      [{"type": "create_record", "entity": "alert", "values": {"title": "d"}}],
                      max_fires_per_record_per_day=2))
    record = write(app, "admin", "application", "create", {"amount": "1"})
    for note in ("a", "b", "c"):
        write(app, "admin", "application", "update", {"note": note}, record["id"])
    assert len(_alerts(loans)) == 2
    assert [r["status"] for r in support.runs(loans, "daily")] == ["skipped", "ok", "ok"]
