"""Single-worker matching with one batch in flight (used by RuleWorkerPool.match)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from engines.rule.process import WorkerDied

if TYPE_CHECKING:
    from engines.rule.worker import RuleWorkerPool


class Pipeline:
    """Single-worker matching with one batch in flight: while the worker matches chunk k
    the parent encodes chunk k+1. A failed chunk gets its one retry synchronously."""

    def __init__(self, pool: RuleWorkerPool) -> None:
        self.pool = pool
        self.sent = 0
        self.pending: tuple[range, list, float] | None = None
        self.outcomes: list[tuple[range, list, str | None]] = []

    def submit(self, posts: list[list[Any]]) -> None:
        if self.sent == len(posts):
            return
        chunk, self.sent = range(self.sent, len(posts)), len(posts)
        batch = posts[chunk.start:chunk.stop]
        self._collect()
        pool = self.pool
        deadline = time.monotonic() + pool.timeout_s
        try:
            pool._ensure(0).send({"op": "match", "posts": batch}, deadline, pool.timeout_s)
            self.pending = (chunk, batch, deadline)
        except WorkerDied as exc:
            pool._discard(0)
            self.outcomes.append((chunk, *pool._run_chunk(0, batch, 1, str(exc))))

    def _collect(self) -> None:
        if self.pending is None:
            return
        (chunk, batch, deadline), self.pending = self.pending, None
        pool = self.pool
        try:
            worker = pool._slots[0]
            if worker is None:
                raise WorkerDied("rule worker went away")
            reply = pool._checked(worker.receive(deadline, pool.timeout_s))
            self.outcomes.append((chunk, reply["fired"], None))
        except WorkerDied as exc:
            pool._discard(0)
            self.outcomes.append((chunk, *pool._run_chunk(0, batch, 1, str(exc))))

    def finish(self) -> list[tuple[range, list, str | None]]:
        self._collect()
        return self.outcomes
