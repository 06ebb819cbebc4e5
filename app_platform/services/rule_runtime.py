"""The matcher of one web process: a lazily started RuleWorkerPool (durable_rules in
supervised subprocesses) holding the enabled rules of every app this process has seen.

Why names are translated before rules reach the pool: one pool serves every app, but rule
keys, entity keys and event types are only unique inside an app. The pool sees `r<row id>`
for a rule version, `e<entity id>` for an entity (`e<id>s` for its sync rules, so a sync
check and the asynchronous match of the same write never share window state), and short
hashes for event types and processes. Why a revision token per app: every record write asks
"did this app's rules change?" with one primary-key read instead of reloading rules.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from app_platform.models import App, Entity
from app_platform.models.rules import RuleAppState, RuleDefinition
from app_platform.services import rule_state
from app_platform.services.rules import (
    condition_fields,
    engine_rule,
    entity_fields,
    event_schema,
    latest_rows,
)
from engines.rule import MatchResult, RuleDefinitionError, RuleWorkerPool, compile_rule
from engines.rule.conditions import iter_terms
from engines.rule.model import RECORD_TRIGGERS, rule_entity, schema_key

log = logging.getLogger("loom.rules")
PROCESS_TRIGGERS = ("process_started", "process_completed", "step_reached")


def _alias(prefix: str, tag: str, name: str) -> str:
    return prefix + hashlib.sha1(f"{tag}:{name}".encode()).hexdigest()[:20]


@dataclass
class LoadedRule:
    """One enabled rule version of an app, with its engine-side (translated) definition."""

    row_id: int
    key: str
    version: int
    definition: dict[str, Any]
    internal: dict[str, Any]
    sync: bool
    owner: str | None

    @property
    def alias(self) -> str:
        return self.internal["key"]

    @property
    def entity_key(self) -> str | None:
        return rule_entity(self.definition)


@dataclass
class AppRules:
    """An app's enabled rules as loaded into this process, and what they listen to."""

    app_id: int
    signature: tuple
    tag: str
    rules: dict[str, LoadedRule] = field(default_factory=dict)  # by alias
    schemas: dict[str, Any] = field(default_factory=dict)  # alias -> fields
    listens: set[tuple[str, str, bool]] = field(default_factory=set)
    entity_ids: dict[str, int] = field(default_factory=dict)
    problems: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def by_key(self, key: str) -> LoadedRule | None:
        return next((r for r in self.rules.values() if r.key == key), None)

    def wants(self, trigger: str, subject: str, sync: bool) -> bool:
        return (trigger, subject, sync) in self.listens

    def entity_alias(self, entity_key: str, sync: bool) -> str:
        return f"e{self.tag}{self.entity_ids[entity_key]}" + ("s" if sync else "")

    def event_alias(self, event_type: str) -> str:
        return _alias("v", self.tag, event_type)

    def process_alias(self, process: str) -> str:
        return _alias("p", self.tag, process)


def _translate(tag: str, row: RuleDefinition, entity_ids: dict[str, int]) -> dict[str, Any]:
    """The engine-side copy of a rule: every name an app owns becomes an alias carrying
    the app's revision tag, so rules of two apps (or of a reset database) never meet."""
    rule = engine_rule(row.definition)
    rule["key"] = f"r{tag}{row.id}"
    trigger = dict(rule["trigger"])
    kind = trigger["type"]
    entity = rule_entity(row.definition)
    if kind == "event":
        rule.pop("entity", None)
        trigger["event_type"] = _alias("v", tag, trigger["event_type"])
    elif entity in entity_ids:
        alias = f"e{tag}{entity_ids[entity]}" + ("s" if row.sync else "")
        if "entity" in trigger:
            trigger["entity"] = alias
        if "entity" in rule:
            rule["entity"] = alias
    if kind in PROCESS_TRIGGERS:
        trigger["process"] = _alias("p", tag, trigger["process"])
    rule["trigger"] = trigger
    rule["condition"] = _translate_patterns(tag, rule.get("condition"))
    if rule["condition"] is None:
        rule.pop("condition")
    return rule


def _translate_patterns(tag: str, node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if "all" in node or "any" in node:
        group = "all" if "all" in node else "any"
        return {group: [_translate_patterns(tag, child) for child in node[group]]}
    out = dict(node)
    for name in ("first", "then"):
        if name in out:
            out[name] = _alias("v", tag, out[name])
    return out


def app_signature(session: Session, app: App) -> tuple | None:
    """(revision, entity versions) in one query, or None when the app never had a rule."""
    rows = session.execute(sa.select(RuleAppState.revision, Entity.key, Entity.version)
                           .outerjoin(Entity, Entity.app_id == RuleAppState.app_id)
                           .where(RuleAppState.app_id == app.id)).all()
    if not rows:
        return None
    return rows[0][0], tuple(sorted((k, v) for _, k, v in rows if k is not None))


def load_app_rules(session: Session, app: App, signature: tuple) -> AppRules:
    """Compile every enabled rule of the app; a rule that no longer compiles (its entity
    changed under it) is left out and reported in `problems`, the others still run."""
    entities = {e.key: e for e in session.query(Entity).filter_by(app_id=app.id)}
    loaded = AppRules(app.id, signature, signature[0][:8],
                      entity_ids={k: e.id for k, e in entities.items()})
    rows = latest_rows(session, app)
    for row in rows:
        if not row.enabled:
            continue
        definition = row.definition
        kind = definition["trigger"]["type"]
        entity = rule_entity(definition)
        if kind == "event":
            fields = event_schema(session, app, rows, definition["trigger"]["event_type"])
        elif entity in entities:
            fields = (condition_fields(session, entities[entity]) if kind in RECORD_TRIGGERS
                      else entity_fields(entities[entity]))
        else:
            loaded.problems[row.key] = [{"path": "trigger.entity",
                                         "message": f"entity {entity!r} no longer exists"}]
            continue
        internal = _translate(loaded.tag, row, loaded.entity_ids)
        try:
            compile_rule(internal, fields)
        except RuleDefinitionError as exc:
            loaded.problems[row.key] = exc.details
            log.error("rule %s of app %s no longer compiles: %s", row.key, app.key, exc.details)
            continue
        rule = LoadedRule(row.id, row.key, row.version, definition, internal, row.sync,
                          row.created_by)
        loaded.rules[rule.alias] = rule
        loaded.schemas[schema_key(internal)] = fields
        route = "record_updated" if kind == "field_changed" else kind
        subject = definition["trigger"].get("event_type") or definition["trigger"].get(
            "process") or entity or ""
        loaded.listens.add((route, subject, row.sync))
        for _path, term, _ in iter_terms(definition.get("condition")):
            for name in ("first", "then"):
                if name in term:
                    loaded.listens.add(("event", term[name], False))
    return loaded


class RuleRuntime:
    """Per Flask app (so per web process): the pool and the loaded rules, behind a lock
    (the pool talks to its workers over pipes, one call at a time)."""

    def __init__(self, config: Mapping[str, Any], engine: sa.Engine | None = None) -> None:
        self.config = config
        self.engine = engine  # where window state is saved/restored (None: not persisted)
        self.lock = threading.RLock()
        self.apps: dict[int, AppRules] = {}
        self.pool: RuleWorkerPool | None = None
        self._loaded: tuple = ()
        self._saved_text: str | None = None  # the snapshot text last read or written
        self._saved_at = 0.0

    def app_rules(self, session: Session, app: App) -> AppRules | None:
        signature = app_signature(session, app)
        if signature is None:
            return None
        cached = self.apps.get(app.id)
        if cached is not None and cached.signature == signature:
            return cached
        loaded = load_app_rules(session, app, signature)
        with self.lock:
            self.apps[app.id] = loaded
        return loaded

    def _ensure_pool(self) -> RuleWorkerPool:
        if self.pool is None:
            self.pool = RuleWorkerPool(
                workers=int(self.config.get("RULES_WORKERS", 1)),
                timeout_s=float(self.config.get("RULES_TIMEOUT_S", 10.0)),
                timezone=str(self.config.get("RULES_TIMEZONE", "Asia/Shanghai")))
            atexit.register(self.shutdown)
            self._restore_state(self.pool)
        signature = tuple(sorted((a, r.signature) for a, r in self.apps.items()))
        if signature != self._loaded:
            rules = [r.internal for app in self.apps.values() for r in app.rules.values()]
            schemas = {k: v for app in self.apps.values() for k, v in app.schemas.items()}
            self.pool.load(rules, schemas)
            self._loaded = signature
        return self.pool

    def match(self, events: Sequence[Mapping[str, Any]]) -> list[MatchResult]:
        """Match events (already translated to aliases) in the worker pool."""
        if not events:
            return []
        with self.lock:
            return self._ensure_pool().match(events)

    def worker_pids(self) -> list[int]:
        with self.lock:
            return self._ensure_pool().worker_pids()

    def _restore_state(self, pool: RuleWorkerPool) -> None:
        """Windows as the last process left them (a new pool starts empty otherwise)."""
        self._saved_text, self._saved_at = None, time.monotonic()
        if self.engine is None:
            return
        saved = rule_state.load_snapshot(self.engine)
        if saved is not None:
            pool.restore_state(saved[0])
            self._saved_text = saved[1]

    def save_state(self, force: bool = False) -> bool:
        """Persist the pool's window state if it changed since the last save (at most every
        RULES_STATE_SAVE_S seconds unless forced); True when a snapshot was written. A
        failed save is logged, never raised: matching already happened and committed."""
        with self.lock:
            if self.pool is None or self.engine is None:
                return False
            interval = float(self.config.get("RULES_STATE_SAVE_S", 0.0))
            if not force and time.monotonic() - self._saved_at < interval:
                return False
            text = rule_state.serialize(self.pool.export_state())
            if text == self._saved_text:
                return False
            try:
                rule_state.save_snapshot(self.engine, text)
            except sa.exc.SQLAlchemyError:
                log.exception("could not save the rule window state")
                return False
            self._saved_text, self._saved_at = text, time.monotonic()
            return True

    def shutdown(self) -> None:
        """At process exit: save what a throttled save left unsaved, then stop the pool."""
        self.save_state(force=True)
        self.close()

    def close(self) -> None:
        """Stop the pool without saving (tests use it to start over with empty windows; a
        new pool restores the last saved snapshot)."""
        with self.lock:
            pool, self.pool, self._loaded = self.pool, None, ()
        if pool is not None:
            pool.close()


def runtime(app: Flask | None = None) -> RuleRuntime:
    """The process's RuleRuntime for this Flask app (created on first use)."""
    flask_app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    found = flask_app.extensions.get("loom_rules")
    if found is None:
        engine = flask_app.extensions.get("loom_db", {}).get("engine")
        found = flask_app.extensions.setdefault("loom_rules",
                                                RuleRuntime(flask_app.config, engine))
    return found
