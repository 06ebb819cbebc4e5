"""Rule definitions over the API: save-time validation with paths, versions, enable and
disable, delete, permissions; posted events; the dry run; the run log."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

_spec = importlib.util.spec_from_file_location(
    "loom_rules_support", Path(__file__).with_name("rules_support.py"))
assert _spec and _spec.loader
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)
APP, rule, write = support.APP, support.rule, support.write

BIG = rule("big_amount", {"type": "record_created", "entity": "application"},
           [{"type": "notify", "to": ["member"], "message": "big: {amount}"}],
           {"all": [{"field": "amount", "op": "gt", "value": "50000"}]})


@pytest.fixture
def loans(admin: Any, app: Any) -> Any:
    app.config["MAIL_OUTBOX"] = True
    support.setup_app(admin)
    return admin


def test_create_get_list_versions_and_disable(loans: Any) -> None:
    response = loans.post(f"/apps/{APP}/rules", BIG)
    assert response.status_code == 201, response.get_json()
    saved = response.get_json()
    assert saved["version"] == 1 and saved["created_by"] == "admin"
    assert loans.post(f"/apps/{APP}/rules", BIG).status_code == 409
    disabled = {**BIG, "version": 1, "options": {"enabled": False}}
    response = loans.put(f"/apps/{APP}/rules/big_amount", disabled)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["version"] == 2
    assert response.get_json()["options"] == {"enabled": False}
    stale = loans.put(f"/apps/{APP}/rules/big_amount", {**BIG, "version": 1})
    assert stale.status_code == 409
    listed = loans.get(f"/apps/{APP}/rules").get_json()
    assert [(r["key"], r["version"]) for r in listed["items"]] == [("big_amount", 2)]
    old = loans.get(f"/apps/{APP}/rules/big_amount?version=1").get_json()
    assert "options" not in old and old["version"] == 1
    assert loans.delete(f"/apps/{APP}/rules/big_amount").status_code == 204
    assert loans.get(f"/apps/{APP}/rules/big_amount").status_code == 404


@pytest.mark.parametrize(("bad", "path"), [
    ({"condition": {"all": [{"field": "nope", "op": "eq", "value": "x"}]}},
     "condition.all[0].field"),
    ({"condition": {"all": [{"field": "applicant", "op": "gt", "value": 5}]}},
     "condition.all[0].op"),
    ({"trigger": {"type": "schedule", "cron": "61 * * * *"}, "entity": "application"},
     "trigger.cron"),
    ({"actions": [{"type": "create_record", "entity": "ghost", "values": {}}]},
     "actions[0].entity"),
    ({"actions": [{"type": "webhook", "url": "ftp://example.com/x"}]}, "actions[0].url"),
    ({"actions": [{"type": "set_fields", "values": {"nope": 1}}]}, "actions[0].values.nope"),
    ({"actions": [{"type": "block", "message": "no"}]}, "actions[0].type"),
    ({"options": {"sync": True}}, "actions[0].type"),
    ({"trigger": {"type": "record_created", "entity": "ghost"}}, "trigger.entity"),
])
def test_invalid_rules_are_refused_with_paths(loans: Any, bad: dict, path: str) -> None:
    response = loans.post(f"/apps/{APP}/rules", {**BIG, **bad})
    assert response.status_code == 422, response.get_json()
    paths = [d["path"] for d in response.get_json()["error"]["details"]]
    assert path in paths, paths


def test_actions_may_only_write_what_the_owner_may_write(loans: Any, login: Any) -> None:
    designer = login("designer")
    forbidden = {**BIG, "key": "write_secret",
                 "actions": [{"type": "set_fields", "values": {"secret": "x"}}]}
    # the designer may write `secret` (only members have it read-only)...
    assert designer.post(f"/apps/{APP}/rules", forbidden).status_code == 201
    # ...a member has no design access to the app at all
    member = login("member")
    assert member.post(f"/apps/{APP}/rules", {**forbidden, "key": "m"}).status_code == 403
    assert member.get(f"/apps/{APP}/rules").status_code == 200


def test_posted_events_malformed_is_422_and_unmatched_is_normal(loans: Any) -> None:
    assert loans.post(f"/apps/{APP}/events", {"type": "Bad Type"}).status_code == 422
    assert loans.post(f"/apps/{APP}/events", {"type": "ok", "data": []}).status_code == 422
    assert loans.post(f"/apps/{APP}/events", {"type": "ok", "extra": 1}).status_code == 422
    response = loans.post(f"/apps/{APP}/events", {"type": "nobody_listens", "data": {"a": 1}})
    assert response.status_code == 202
    assert response.get_json()["status"] == "no_rules"


def test_event_rule_runs_and_logs(loans: Any, login: Any) -> None:
    paid = rule("paid", {"type": "event", "event_type": "payment_succeeded"},
                [{"type": "create_record", "entity": "alert",
                  "values": {"title": "paid", "amount": {"field": "amount"}}}],
                {"all": [{"field": "amount", "op": "gte", "value": "100.00"}]})
    paid["event_fields"] = {"amount": "money", "card": "text"}
    assert loans.post(f"/apps/{APP}/rules", paid).status_code == 201
    bad = loans.post(f"/apps/{APP}/events", {"type": "payment_succeeded",
                                             "data": {"amount": "lots"}})
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["path"] == "data.amount"
    low = loans.post(f"/apps/{APP}/events", {"type": "payment_succeeded",
                                             "data": {"amount": "99.99", "card": "c1"}})
    assert low.status_code == 202 and low.get_json()["runs"] == []
    high = loans.post(f"/apps/{APP}/events", {"type": "payment_succeeded",
                                              "data": {"amount": "100.00", "card": "c1"}})
    body = high.get_json()
    assert body["status"] == "done" and [r["status"] for r in body["runs"]] == ["ok"]
    alerts = loans.get(f"/apps/{APP}/entities/alert/records").get_json()["items"]
    assert [(a["title"], a["amount"]) for a in alerts] == [("paid", "100.00")]
    log = support.runs(loans, "paid")
    assert log[0]["conditions"] == ["condition.all[0]"]
    assert log[0]["actions"][0]["status"] == "done"
    assert support.runs(loans, "paid", status="error") == []
    assert loans.get(f"/apps/{APP}/rules/paid/runs?status=weird").status_code == 400
