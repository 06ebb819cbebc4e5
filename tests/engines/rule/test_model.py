"""Rule validation: schema shape and meaning against the entity's fields."""

import pytest

from engines.rule.actions import action_types
from engines.rule.errors import RuleDefinitionError
from engines.rule.model import validate_rule

FIELDS = {"amount": "money", "status": "select", "name": "text", "due": "date",
          "tags": "multiselect", "files": "attachment", "ok": "boolean"}


def rule(**overrides):
    base = {"key": "r1", "name": "规则", "entity": "payment",
            "trigger": {"type": "record_updated"},
            "condition": {"all": [{"field": "amount", "op": "gt", "value": "10.00"}]},
            "actions": [{"type": "set_fields", "values": {"status": "done"}}]}
    base.update(overrides)
    return base


def problems(candidate, entities=None):
    with pytest.raises(RuleDefinitionError) as info:
        validate_rule(candidate, FIELDS, entities)
    return info.value.details


def test_a_valid_rule_passes():
    validate_rule(rule(), FIELDS, {"payment"})
    validate_rule(rule(condition={"any": [
        {"field": "due", "op": "lt", "value": {"relative": "today", "offset_days": -7}},
        {"field": "old.status", "op": "eq", "value": "new"},
        {"field": "status", "op": "changed_to", "value": "paid"},
        {"field": "tags", "op": "contains", "value": "vip"}]}), FIELDS)


def test_every_problem_is_listed_with_its_path():
    candidate = rule(
        condition={"all": [{"field": "missing", "op": "eq", "value": 1},
                           {"field": "name", "op": "gt", "value": "a"},
                           {"field": "amount", "op": "gt", "value": 1.5},
                           {"field": "files", "op": "is_empty"}]},
        actions=[{"type": "webhook", "url": "ftp://example.com/x"},
                 {"type": "create_record", "entity": "ghost", "values": {}},
                 {"type": "block", "message": "no"},
                 {"type": "teleport"}],
    )
    assert problems(candidate, entities={"payment"}) == [
        {"path": "condition.all[0].field", "message": "field 'missing' does not exist"},
        {"path": "condition.all[1].op", "message": "operator 'gt' does not apply to a text field"},
        {"path": "condition.all[2].value",
         "message": "floats are not accepted here (use a decimal string)"},
        {"path": "condition.all[3].field",
         "message": "attachment fields cannot be used in conditions"},
        {"path": "actions[0].url",
         "message": "webhook URL must be http:// or https:// with a host, got 'ftp://example.com/x'"},
        {"path": "actions[1].entity", "message": "target entity 'ghost' does not exist"},
        {"path": "actions[2].type",
         "message": "block is only allowed in sync rules (options.sync = true)"},
        {"path": "actions[3].type", "message": "unknown action type 'teleport'"},
    ]


def test_invalid_cron_and_timezone():
    details = problems(rule(trigger={"type": "schedule", "cron": "61 9 * * *",
                                     "timezone": "Mars/Olympus"}))
    paths = [d["path"] for d in details]
    assert paths == ["trigger.timezone", "trigger.cron"]
    assert "61" in details[1]["message"]


def test_trigger_specific_checks():
    assert problems(rule(trigger={"type": "field_changed", "field": "nope"})) == [
        {"path": "trigger.field", "message": "field 'nope' does not exist"}]
    created = rule(trigger={"type": "record_created"},
                   condition={"field": "old.amount", "op": "eq", "value": "1"})
    assert problems(created)[0]["path"] == "condition.field"
    no_entity = rule(trigger={"type": "record_created"})
    del no_entity["entity"]
    assert problems(no_entity) == [{"path": "trigger.entity",
                                    "message": "record_created needs an entity"}]


def test_patterns_need_event_triggers_and_absence_stays_top_level():
    seq = {"pattern": "sequence", "key": "name", "first": "login", "within_s": 60}
    assert problems(rule(condition=seq))[0]["message"] == "sequence needs an event trigger"
    absence = {"pattern": "absence", "key": "name", "then": "ack", "within_s": 60}
    event_rule = rule(trigger={"type": "event", "event_type": "txn"},
                      condition={"any": [absence, {"field": "ok", "op": "eq", "value": True}]})
    assert problems(event_rule) == [{"path": "condition.any[0]",
                                     "message": "absence must not be inside any"}]


def test_malformed_shape_is_reported_by_schema():
    details = problems({"key": "Bad Key", "name": "", "trigger": {"type": "nope"},
                        "actions": []})
    assert {d["path"] for d in details} == {"key", "name", "trigger.type"}


def test_action_registry_publishes_schemas():
    types = action_types()
    assert set(types) == {"set_fields", "create_record", "update_record", "start_process",
                          "create_task", "notify", "webhook", "post_event",
                          "run_reconciliation", "block"}
    assert types["webhook"]["required"] == ["type", "url"]
