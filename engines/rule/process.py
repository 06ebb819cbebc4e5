"""One supervised worker subprocess: JSON-lines calls with a hard per-call deadline."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import engines


class WorkerDied(Exception):
    """The worker crashed, hung past its deadline, or replied garbage."""


def default_worker_argv() -> list[str]:
    return [sys.executable, "-m", "engines.rule.worker_main"]


class WorkerProcess:
    def __init__(self, argv: list[str], memory_limit_mb: int) -> None:
        env = dict(os.environ)
        root = str(Path(engines.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [*argv, str(memory_limit_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=env, bufsize=0,
        )
        os.set_blocking(self.proc.stdin.fileno(), False)
        self._buffer = b""
        self.stale_rulesets = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 600))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def _died(self, what: str) -> WorkerDied:
        code = self.proc.poll()
        status = f"exit code {code}" if code is not None else "still running"
        if code is not None and code < 0:
            status = f"killed by signal {-code}"
        tail = self._stderr_tail()
        return WorkerDied(f"{what} ({status}){': ' + tail[-300:] if tail else ''}")

    def call(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        self.send(request, deadline, timeout_s)
        return self.receive(deadline, timeout_s)

    def send(self, request: dict[str, Any], deadline: float, timeout_s: float) -> None:
        """Write one request; with receive() split out so the caller can prepare the next
        batch while this one is matched (one request in flight at most)."""
        payload = (json.dumps(request, ensure_ascii=False) + "\n").encode()
        stdin_fd = self.proc.stdin.fileno()
        while payload:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._died(f"rule worker did not accept the batch within {timeout_s}s")
            _, writable, _ = select.select([], [stdin_fd], [], remaining)
            if writable:
                try:
                    payload = payload[os.write(stdin_fd, payload):]
                except BlockingIOError:
                    continue
                except (BrokenPipeError, OSError) as exc:
                    raise self._died(f"rule worker pipe closed ({exc})") from exc

    def receive(self, deadline: float, timeout_s: float) -> dict[str, Any]:
        stdout_fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._died(f"rule worker did not answer within {timeout_s}s")
            readable, _, _ = select.select([stdout_fd], [], [], remaining)
            if readable:
                chunk = os.read(stdout_fd, 1 << 20)
                if not chunk:
                    self.proc.wait(timeout=5)
                    raise self._died("rule worker exited")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError as exc:
            raise self._died(f"rule worker replied garbage: {line[:80]!r}") from exc

    def stop(self, graceful: bool = False) -> None:
        """End the process and release its pipes (no zombie, no ResourceWarning)."""
        proc = self.proc
        if graceful and proc.poll() is None:
            try:
                proc.stdin.close()
                proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._stderr.close()
