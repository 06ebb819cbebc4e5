"""The rule worker subprocess: durable_rules behind a JSON-lines pipe.

Requests (one JSON object per line on stdin), replies on stdout:
  {"op": "load", "rulesets": {name: definition}}     -> {"ok": true, "loaded": n}
  {"op": "match", "posts": [[ruleset, message], ...]} -> {"ok": true, "fired": [[i, b], ...]}
  {"op": "ping"}                                      -> {"ok": true, "pid": ...}
Any other failure replies {"ok": false, "error": ...} and the parent replaces this process.
Run as `python -m engines.rule.worker_main [memory_limit_mb]`.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Callable
from typing import IO, Any

from durable.engine import Host, MessageNotHandledException


class _QuietHost(Host):
    """A Host whose actions only record what fired.

    The stock Host starts two polling threads that may run actions on their own, so a
    post could return before its action ran. We use no timers and run every action
    synchronously inside post(), so the polling loop is not started.
    """

    def __init__(self) -> None:
        self.fired: list[tuple[int, int]] = []
        self.current = -1
        super().__init__()

    def _run(self) -> None:  # no polling threads: see class docstring
        return None

    def get_action(self, action_name: str) -> Callable[[Any], None]:
        branch = int(action_name.rsplit("|", 1)[1])

        def record(closure: Any) -> None:
            self.fired.append((self.current, branch))

        return record


class WorkerState:
    def __init__(self) -> None:
        self.host = _QuietHost()
        self.loaded: set[str] = set()

    def load(self, rulesets: dict[str, Any]) -> int:
        fresh = {name: d for name, d in rulesets.items() if name not in self.loaded}
        if fresh:
            self.host.set_rulesets(copy.deepcopy(fresh))
            self.loaded.update(fresh)
        return len(fresh)

    def match(self, posts: list[list[Any]]) -> list[tuple[int, int]]:
        host = self.host
        host.fired = []
        for index, (ruleset, message) in enumerate(posts):
            host.current = index
            try:
                host.post(ruleset, message)
            except MessageNotHandledException:
                pass
        return host.fired


def handle(state: WorkerState, request: dict[str, Any]) -> dict[str, Any]:
    op = request.get("op")
    if op == "match":
        return {"ok": True, "fired": state.match(request["posts"])}
    if op == "load":
        return {"ok": True, "loaded": state.load(request["rulesets"])}
    if op == "ping":
        return {"ok": True, "pid": os.getpid()}
    return {"ok": False, "error": f"unknown op {op!r}"}


def serve(
    stdin: IO[str],
    stdout: IO[str],
    handler: Callable[[WorkerState, dict[str, Any]], dict[str, Any]] = handle,
) -> None:
    state = WorkerState()
    for line in stdin:
        try:
            reply = handler(state, json.loads(line))
        except BaseException as exc:  # report, then die: the parent starts a fresh worker
            stdout.write(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
            stdout.write("\n")
            stdout.flush()
            raise
        stdout.write(json.dumps(reply, ensure_ascii=False))
        stdout.write("\n")
        stdout.flush()


def limit_memory(megabytes: int) -> None:
    """Cap the address space so a blow-up fails here, not on the whole machine."""
    import resource

    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv: list[str]) -> None:
    if len(argv) > 1 and int(argv[1]) > 0:
        limit_memory(int(argv[1]))
    serve(sys.stdin, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
