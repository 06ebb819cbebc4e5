"""Request metrics shared by every worker process of one node, in Prometheus text format.

Why files: gunicorn runs several worker processes and a scrape reaches one of them, so
counts kept in memory would show a quarter of the traffic, differently on each scrape.
Each process keeps its counters in memory and writes them to ``<dir>/<host>-<pid>.json``
about once a second (a background thread; a write is an atomic rename); a scrape adds up
the files of this host. A dead process's file is folded into ``<host>-retired.json``, so
counters never go backwards while workers come and go. The host in the name keeps nodes
apart when instance/ sits on a shared volume. Without a directory (tests, one process)
the counters of this process are all there is.
"""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import socket
import threading
from pathlib import Path
from typing import Any

# seconds; the web API's requests are mostly 5-100 ms, imports and exports take longer
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FLUSH_SECONDS = 1.0
Series = dict[str, list[float]]  # "method|endpoint|status" -> [count, sum, *buckets]


def _merge(into: Series, other: Series) -> None:
    for key, values in other.items():
        mine = into.setdefault(key, [0.0] * (2 + len(BUCKETS)))
        for index, value in enumerate(values[:len(mine)]):
            mine[index] += value


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RequestMetrics:
    """This process's request counters, written to ``directory`` when there is one."""

    def __init__(self, directory: str | None):
        self.directory = Path(directory) if directory else None
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._series: Series = {}
        self._lock = threading.Lock()
        self._dirty = False
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._file = self.directory / f"{self.host}-{self.pid}.json"
            with self._host_lock():
                if self._file.exists():  # a dead process that had our pid
                    self._retire([self._file])
            threading.Thread(target=self._flusher, name="loom-metrics", daemon=True).start()
            atexit.register(self.flush)

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        key = f"{method}|{endpoint}|{status}"
        with self._lock:
            values = self._series.get(key)
            if values is None:
                values = self._series[key] = [0.0] * (2 + len(BUCKETS))
            values[0] += 1
            values[1] += seconds
            for index, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    values[2 + index] += 1  # stored per bucket; made cumulative on render
                    break
            self._dirty = True

    def snapshot(self) -> Series:
        with self._lock:
            return {key: list(values) for key, values in self._series.items()}

    def flush(self) -> None:
        if self.directory is None:
            return
        with self._lock:
            if not self._dirty:
                return
            data = json.dumps({key: list(v) for key, v in self._series.items()})
            self._dirty = False
        temporary = self._file.with_suffix(f".tmp{threading.get_ident()}")
        temporary.write_text(data, encoding="utf-8")
        os.replace(temporary, self._file)

    def _flusher(self) -> None:
        stop = threading.Event()
        while not stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except OSError:
                pass  # a full or missing disk must not take the worker down

    def _host_lock(self) -> Any:
        assert self.directory is not None
        return _Flock(self.directory / f"{self.host}.lock")

    def _retire(self, files: list[Path]) -> None:
        """Fold the files of dead processes into the host's retired counts (under the
        host lock, so two scrapes do not count a file twice)."""
        retired_file = self.directory / f"{self.host}-retired.json"
        retired = _read(retired_file)
        for path in files:
            _merge(retired, _read(path))
        temporary = retired_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(retired), encoding="utf-8")
        os.replace(temporary, retired_file)
        for path in files:
            path.unlink(missing_ok=True)

    def collect(self) -> Series:
        """Every process of this host, the dead ones included."""
        if self.directory is None:
            return self.snapshot()
        self.flush()
        total: Series = {}
        with self._host_lock():
            dead = []
            for path in self.directory.glob(f"{self.host}-*.json"):
                pid = path.stem[len(self.host) + 1:]
                if pid.isdigit() and int(pid) != self.pid and not _alive(int(pid)):
                    dead.append(path)
            if dead:
                self._retire(dead)
            for path in self.directory.glob(f"{self.host}-*.json"):
                if path != self._file:
                    _merge(total, _read(path))
        _merge(total, self.snapshot())
        return total


class _Flock:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *_exc: object) -> None:
        os.close(self.fd)


def _read(path: Path) -> Series:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


_registry: RequestMetrics | None = None
_registry_guard = threading.Lock()


def registry(directory: str | None) -> RequestMetrics:
    """This process's registry, made on first use (after gunicorn forked the worker)."""
    global _registry
    with _registry_guard:
        if _registry is None or _registry.pid != os.getpid():
            _registry = RequestMetrics(directory)
        return _registry


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_requests(series: Series) -> list[str]:
    """Counter + histogram lines for the request series."""
    lines = ["# HELP loom_http_requests_total HTTP requests by method, endpoint "
             "template and status.", "# TYPE loom_http_requests_total counter"]
    parsed = []
    for key in sorted(series):
        method, endpoint, status = key.split("|", 2)
        labels = f'method="{_label(method)}",endpoint="{_label(endpoint)}",status="{status}"'
        parsed.append((labels, series[key]))
        lines.append(f"loom_http_requests_total{{{labels}}} {int(series[key][0])}")
    lines += ["# HELP loom_http_request_duration_seconds Time to answer a request.",
              "# TYPE loom_http_request_duration_seconds histogram"]
    for labels, values in parsed:
        running = 0.0
        for index, bound in enumerate(BUCKETS):
            running += values[2 + index]
            lines.append(f'loom_http_request_duration_seconds_bucket{{{labels},le="{bound}"}}'
                         f" {int(running)}")
        lines.append(f'loom_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} '
                     f"{int(values[0])}")
        lines.append(f"loom_http_request_duration_seconds_sum{{{labels}}} {values[1]:.6f}")
        lines.append(f"loom_http_request_duration_seconds_count{{{labels}}} {int(values[0])}")
    return lines
