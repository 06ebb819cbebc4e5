"""RuleWorkerPool: match events against rules in supervised durable_rules subprocesses.

The parent (this module) owns everything stateful and safe: rule index, window state,
feature encoding. Workers only run the compiled rulesets. A crash, a hang past
`timeout_s` or a memory blow-up (address space capped per worker) costs one retry of the
batch on a fresh worker with every active ruleset re-registered; if that fails too, each
post of the batch comes back as a MatchResult with `error` set. Nothing is dropped.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from engines.rule.compile import CompiledRule, compile_rule
from engines.rule.errors import RuleDefinitionError, RuleWorkerError
from engines.rule.features import encode_event
from engines.rule.model import rule_entity, schema_key
from engines.rule.pipeline import Pipeline
from engines.rule.process import WorkerDied, WorkerProcess, default_worker_argv
from engines.rule.values import category_of, local_date, parse_value, timestamp_ms
from engines.rule.windows import WindowState

RECYCLE_AFTER_STALE = 256
"""Replaced rulesets stay registered in a worker (no unregister API); past this many the
worker is replaced by a fresh one holding only the active rulesets."""


@dataclass(frozen=True)
class MatchResult:
    """One rule fired for one event (error is None), or could not be decided (error set)."""

    rule_key: str
    rule_version: int
    event_ref: Any
    conditions: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _route(kind: str, rule: Mapping[str, Any]) -> tuple[str, Any]:
    trigger = rule["trigger"]
    if kind in ("record_created", "record_updated", "record_deleted"):
        return kind, rule_entity(rule)
    if kind == "field_changed":
        return "record_updated", rule_entity(rule)
    if kind == "event":
        return "event", trigger["event_type"]
    if kind == "schedule":
        return "schedule", rule["key"]
    return kind, trigger["process"]


def _event_route(event: Mapping[str, Any]) -> tuple[str, Any]:
    kind = event.get("trigger")
    if kind in ("record_created", "record_updated", "record_deleted"):
        return kind, event.get("entity")
    if kind == "event":
        return kind, event.get("type")
    if kind == "schedule":
        return kind, event.get("rule")
    return str(kind), event.get("process")


class RuleWorkerPool:
    """Match events (dicts: ref, trigger, entity/type/process/step/rule, ts, data, old)
    against loaded rules. Use as a context manager or call close()."""

    def __init__(
        self,
        schemas: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        workers: int = 1,
        timeout_s: float = 10.0,
        memory_limit_mb: int = 1024,
        batch_size: int = 2000,
        pipeline_chunk: int = 250,
        timezone: str = "Asia/Shanghai",
        max_keys: int = 100_000,
        worker_argv: Sequence[str] | None = None,
    ) -> None:
        self.schemas = dict(schemas or {})
        self.timeout_s = timeout_s
        self.memory_limit_mb = memory_limit_mb
        self.batch_size = batch_size
        self.pipeline_chunk = min(pipeline_chunk, batch_size)
        self.tz = zoneinfo.ZoneInfo(timezone)
        self.windows = WindowState(max_keys)
        self._argv = list(worker_argv or default_worker_argv())
        self._slots: list[WorkerProcess | None] = [None] * max(1, workers)
        self._executor = ThreadPoolExecutor(len(self._slots)) if len(self._slots) > 1 else None
        self._rules: dict[str, CompiledRule] = {}
        self._routes: dict[tuple[str, Any], list[CompiledRule]] = {}
        self._sequence_watch: dict[str, list] = {}
        self._absence_watch: dict[str, list] = {}
        self._rulesets: dict[str, Any] = {}
        self._today_cache: tuple[int, dt.date] = (-1, dt.date.min)

    # -- loading -----------------------------------------------------------------------
    def load(
        self,
        rules: Iterable[Mapping[str, Any]],
        schemas: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> list[CompiledRule]:
        """Replace the active rule set. Compiles everything first: one bad rule raises
        RuleDefinitionError (paths prefixed with the rule key) and nothing changes."""
        if schemas is not None:
            self.schemas = dict(schemas)
        compiled: list[CompiledRule] = []
        details: list[dict[str, str]] = []
        for rule in rules:
            if not rule.get("options", {}).get("enabled", True):
                continue
            fields = self.schemas.get(schema_key(rule)) if "trigger" in rule else None
            if fields is None:
                details.append({"path": f"{rule.get('key')}",
                                "message": f"no field schema for {schema_key(rule)!r}"})
                continue
            try:
                compiled.append(compile_rule(rule, fields))
            except RuleDefinitionError as exc:
                details.extend({"path": f"{rule.get('key')}.{d['path']}",
                                "message": d["message"]} for d in exc.details)
        if details:
            raise RuleDefinitionError("some rules cannot be loaded", details)
        new_rulesets = {}
        for item in compiled:
            new_rulesets.update(item.ruleset)
        stale = len(set(self._rulesets) - set(new_rulesets))
        added = {n: d for n, d in new_rulesets.items() if n not in self._rulesets}
        self._install(compiled, new_rulesets)
        for index, worker in enumerate(self._slots):
            if worker is None:
                continue
            worker.stale_rulesets += stale
            if worker.stale_rulesets > RECYCLE_AFTER_STALE:
                self._discard(index)
            elif added:
                try:
                    self._checked(worker.call({"op": "load", "rulesets": added}, self.timeout_s))
                except WorkerDied:
                    self._discard(index)  # the next call starts a fresh one with everything
        return compiled

    def _install(self, compiled: list[CompiledRule], rulesets: dict[str, Any]) -> None:
        routes: dict[tuple[str, Any], list[CompiledRule]] = defaultdict(list)
        sequence_watch: dict[str, list] = defaultdict(list)
        absence_watch: dict[str, list] = defaultdict(list)
        for item in compiled:
            routes[_route(item.rule["trigger"]["type"], item.rule)].append(item)
            for plan in item.windows:
                if plan.mode == "sequence":
                    sequence_watch[plan.term["first"]].append((item, plan))
            if item.absence is not None:
                absence_watch[item.absence.term["then"]].append((item, item.absence))
        for items in routes.values():
            items.sort(key=lambda c: (-c.priority, c.key))
        self._rules = {c.key: c for c in compiled}
        self._routes, self._rulesets = dict(routes), rulesets
        self._sequence_watch, self._absence_watch = dict(sequence_watch), dict(absence_watch)

    # -- matching ----------------------------------------------------------------------
    def match(self, events: Sequence[Mapping[str, Any]]) -> list[MatchResult]:
        """Results in event order (then priority); failed posts carry `error`."""
        posts: list[list[Any]] = []
        meta: list[tuple[CompiledRule, Any, int]] = []
        results: list[tuple[int, MatchResult]] = []
        pipeline = Pipeline(self) if self._executor is None else None
        for position, event in enumerate(events):
            self._prepare(position, event, posts, meta, results)
            if pipeline is not None and len(posts) - pipeline.sent >= self.pipeline_chunk:
                pipeline.submit(posts)
        if pipeline is None:
            return self._ordered(results + self._run(posts, meta))
        pipeline.submit(posts)
        return self._ordered(results + self._results(pipeline.finish(), meta))

    def _ordered(self, results: list[tuple[int, MatchResult]]) -> list[MatchResult]:
        priority = {c.key: c.priority for c in self._rules.values()}
        results.sort(key=lambda pr: (pr[0], -priority.get(pr[1].rule_key, 0), pr[1].rule_key))
        return [r for _, r in results]

    def _prepare(self, position: int, event: Mapping[str, Any], posts: list, meta: list,
                 results: list[tuple[int, MatchResult]]) -> None:
        candidates = self._routes.get(_event_route(event), ())
        try:
            ets = max(self.windows.clock, timestamp_ms(event["ts"]))
        except (KeyError, ValueError, TypeError) as exc:
            results.extend((position, MatchResult(c.key, c.version, event.get("ref"),
                                                  error=f"bad event time: {exc}"))
                           for c in candidates)
            return
        self.windows.clock = ets
        today = self._today(ets)
        for compiled in candidates:
            try:
                if not self._trigger_holds(compiled, event):
                    continue
                values = {p.index: self.windows.aggregate(compiled, p, event, ets)
                          for p in compiled.windows}
                if compiled.absence is not None:
                    self.windows.add_absence(compiled, compiled.absence, event, ets)
                    continue
                message = encode_event(compiled, event, today, self.tz, values)
            except (ValueError, TypeError, KeyError) as exc:
                results.append((position, MatchResult(
                    compiled.key, compiled.version, event.get("ref"),
                    error=f"cannot evaluate the event: {exc}")))
                continue
            posts.append([compiled.name, message])
            meta.append((compiled, event.get("ref"), position))
        if event.get("trigger") == "event":
            kind = event.get("type")
            try:
                for compiled, plan in self._sequence_watch.get(kind, ()):
                    self.windows.observe_sequence_first(compiled, plan, event, ets)
                for compiled, plan in self._absence_watch.get(kind, ()):
                    self.windows.cancel_absences(compiled, plan, event, ets)
            except (ValueError, TypeError) as exc:
                results.extend((position, MatchResult(c.key, c.version, event.get("ref"),
                                                      error=f"bad pattern key: {exc}"))
                               for c, _ in self._sequence_watch.get(kind, ()))

    def _today(self, ets: int) -> dt.date:
        """local_date(ets) memoized per second: most events of a batch share their second."""
        second = ets // 1000
        if self._today_cache[0] != second:
            self._today_cache = (second, local_date(ets, self.tz))
        return self._today_cache[1]

    @staticmethod
    def _trigger_holds(compiled: CompiledRule, event: Mapping[str, Any]) -> bool:
        trigger = compiled.rule["trigger"]
        if trigger["type"] == "step_reached" and event.get("step") != trigger["step"]:
            return False
        if trigger["type"] == "field_changed":
            name = trigger["field"]
            category = category_of(compiled.fields[name]) or ""
            new = parse_value(category, (event.get("data") or {}).get(name))
            old = parse_value(category, (event.get("old") or {}).get(name))
            return new != old
        return True

    def advance_clock(self, now_s: Any) -> list[MatchResult]:
        """Move the explicit clock to `now_s` (epoch seconds) and fire absence rules whose
        deadline passed without the awaited event. The platform calls this on a timer."""
        self.windows.clock = max(self.windows.clock, timestamp_ms(now_s))
        today = local_date(self.windows.clock, self.tz)
        posts: list[list[Any]] = []
        meta: list[tuple[CompiledRule, Any, int]] = []
        results: list[tuple[int, MatchResult]] = []
        for compiled in self._rules.values():
            if compiled.absence is None:
                continue
            for event in self.windows.due_absences(compiled.key):
                position = len(posts) + len(results)
                try:
                    message = encode_event(compiled, event, today, self.tz, {}, True)
                except (ValueError, TypeError, KeyError) as exc:
                    results.append((position, MatchResult(compiled.key, compiled.version,
                                                          event.get("ref"), error=str(exc))))
                    continue
                posts.append([compiled.name, message])
                meta.append((compiled, event.get("ref"), position))
        return self._ordered(results + self._run(posts, meta))

    def _run(self, posts: list[list[Any]], meta: list[tuple[CompiledRule, Any, int]]
             ) -> list[tuple[int, MatchResult]]:
        chunks = [range(i, min(i + self.batch_size, len(posts)))
                  for i in range(0, len(posts), self.batch_size)]
        if self._executor is None or len(chunks) < 2:
            outcomes = [self._run_chunk(0, [posts[i] for i in chunk]) for chunk in chunks]
        else:
            n = len(self._slots)
            by_slot = [[c for k, c in enumerate(chunks) if k % n == s] for s in range(n)]
            per_slot = list(self._executor.map(
                lambda s: [self._run_chunk(s, [posts[i] for i in c]) for c in by_slot[s]],
                range(n)))
            outcomes = [per_slot[k % n][k // n] for k in range(len(chunks))]
        return self._results([(c, *o) for c, o in zip(chunks, outcomes, strict=True)], meta)

    @staticmethod
    def _results(outcomes: list[tuple[range, list, str | None]],
                 meta: list[tuple[CompiledRule, Any, int]]) -> list[tuple[int, MatchResult]]:
        results: list[tuple[int, MatchResult]] = []
        for chunk, fired, error in outcomes:
            branches: dict[int, set[int]] = defaultdict(set)
            for local, branch in fired:
                branches[chunk.start + local].add(branch)
            for i in chunk:
                compiled, ref, position = meta[i]
                if error is not None:
                    results.append((position, MatchResult(compiled.key, compiled.version, ref,
                                                          error=error)))
                elif i in branches:
                    paths = sorted({p for b in branches[i] for p in compiled.branch_paths(b)})
                    results.append((position, MatchResult(compiled.key, compiled.version, ref,
                                                          tuple(paths))))
        return results

    def _run_chunk(self, slot: int, posts: list[list[Any]], attempts: int = 2,
                   last_error: str = "") -> tuple[list, str | None]:
        for _attempt in range(attempts):
            try:
                worker = self._ensure(slot)
                reply = self._checked(worker.call({"op": "match", "posts": posts},
                                                  self.timeout_s))
                return reply["fired"], None
            except WorkerDied as exc:
                last_error = str(exc)
                self._discard(slot)
        return [], (f"rule worker failed twice on this batch, events not matched: "
                    f"{last_error}")

    # -- workers -----------------------------------------------------------------------
    @staticmethod
    def _checked(reply: dict[str, Any]) -> dict[str, Any]:
        if not reply.get("ok"):
            raise WorkerDied(f"rule worker error: {reply.get('error')}")
        return reply

    def _ensure(self, slot: int) -> WorkerProcess:
        worker = self._slots[slot]
        if worker is None:
            try:
                worker = WorkerProcess(self._argv, self.memory_limit_mb)
            except OSError as exc:
                raise RuleWorkerError(f"cannot start a rule worker: {exc}") from exc
            self._slots[slot] = worker
            if self._rulesets:
                self._checked(worker.call({"op": "load", "rulesets": self._rulesets},
                                          self.timeout_s))
        return worker

    def _discard(self, slot: int) -> None:
        worker, self._slots[slot] = self._slots[slot], None
        if worker is not None:
            worker.stop()

    def worker_pids(self) -> list[int]:
        """Pids of the live workers (starting them if needed), for supervision and tests."""
        return [self._ensure(s).pid for s in range(len(self._slots))]

    # -- state -------------------------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        """Window/absence state as JSON-serializable data, to restore after a restart."""
        return self.windows.export()

    def restore_state(self, snapshot: Mapping[str, Any]) -> None:
        self.windows.restore(snapshot)

    def close(self) -> None:
        for slot in range(len(self._slots)):
            worker, self._slots[slot] = self._slots[slot], None
            if worker is not None:
                worker.stop(graceful=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def __enter__(self) -> RuleWorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = ["MatchResult", "RuleWorkerPool"]
