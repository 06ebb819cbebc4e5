"""Scheduler leader election: of all the processes that want to run the scheduler, one
does; the others wait and take over when it dies.

Why: scheduled work (flow timers, scheduled rules) must run once per install, yet a
deployment may start the scheduler in several places (every gunicorn worker with
``SCHEDULER_ENABLED``, two copies of ``flask run-scheduler`` by mistake, a standby node).
Starting two must be harmless.

How: on PostgreSQL, a session-level advisory lock (``pg_try_advisory_lock``) taken on a
dedicated connection held for the process lifetime. The server drops the lock the moment
that connection ends (a crash, ``kill -9``, a terminated backend), so a standby wins it
on its next try. The lock is per database; its second key is a hash of the connection's
``search_path`` option, so installs in different schemas of one database do not share a
leader. On SQLite (one machine) an exclusive ``flock`` on a file beside the database
file (instance/loom.db.scheduler.lock). A background thread re-checks the lock every few
seconds: the leader steps down if it lost it (connection gone), a standby tries to win.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger("loom.leader")
LOCK_CLASS = 0x4C4F4F4D  # "LOOM": first key of the two-key advisory lock
CHECK_SECONDS = 5.0


def _identity() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def lock_key(database_url: str) -> int:
    """Second advisory-lock key: stable for every node of one install (it ignores host,
    port and credentials, which differ between nodes) but distinct per schema."""
    options = make_url(database_url).query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    digest = hashlib.sha256(f"loom-scheduler|{options}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class PostgresLock:
    """The advisory lock on a connection of its own (not from the app's pool, which would
    hand it to requests and reset it)."""

    def __init__(self, url: str, key: int | None = None):
        self.key = key if key is not None else lock_key(url)
        me = _identity()
        self._engine = sa.create_engine(url, poolclass=NullPool, connect_args={
            "application_name": f"loom-scheduler {me['host']}:{me['pid']}"[:63]})
        self._conn: sa.Connection | None = None

    def try_acquire(self) -> bool:
        self.release()
        try:
            conn = self._engine.connect()
            won = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:a, :b)"),
                                    {"a": LOCK_CLASS, "b": self.key}).scalar())
            conn.commit()  # the session-level lock outlives the transaction
        except sa.exc.DBAPIError as exc:
            log.warning("scheduler lock: database unreachable (%s)", exc.__class__.__name__)
            return False
        if won:
            self._conn = conn
        else:
            conn.close()
        return won

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            held = self._conn.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND classid = :a AND objid = :b AND objsubid = 2"),
                {"a": LOCK_CLASS, "b": self.key}).scalar()
            self._conn.commit()
            return bool(held)
        except sa.exc.DBAPIError:
            self._conn = None  # the connection died: the server released the lock
            return False

    def holder(self, engine: sa.Engine) -> dict[str, Any] | None:
        """Who holds the lock (any process, any node), from pg_locks."""
        with engine.connect() as conn:
            row = conn.execute(sa.text(
                "SELECT l.pid, a.application_name, a.backend_start FROM pg_locks l "
                "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :a "
                "AND l.objid = :b AND l.objsubid = 2 AND l.database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"a": LOCK_CLASS, "b": self.key}).first()
        if row is None:
            return None
        started = row.backend_start.isoformat(timespec="seconds") if row.backend_start else None
        return {"backend_pid": row.pid, "name": row.application_name, "since": started}

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # ending the session releases its advisory locks
            except sa.exc.DBAPIError:
                pass
            self._conn = None

    def dispose(self) -> None:
        self.release()
        self._engine.dispose()


class FileLock:
    """An exclusive flock on ``<database file>.scheduler.lock`` (instance/loom.db.scheduler
    .lock by default; instance/scheduler-<hash>.lock for an in-memory database). The
    holder writes who it is into the file so that health checks elsewhere can name it."""

    def __init__(self, instance_path: str, database_url: str):
        database = make_url(database_url).database
        if database and database != ":memory:":
            self.path = Path(database).resolve().with_name(Path(database).name +
                                                           ".scheduler.lock")
        else:
            name = hashlib.sha256(database_url.encode()).hexdigest()[:12]
            self.path = Path(instance_path) / f"scheduler-{name}.lock"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self.release()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_identity()).encode(), 0)
        self._fd = fd
        return True

    def still_held(self) -> bool:
        if self._fd is None:
            return False
        try:  # the same file still on disk (not deleted or replaced under us)
            return os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except OSError:
            return False

    def holder(self, _engine: sa.Engine | None = None) -> dict[str, Any] | None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            try:  # a separate open file: conflicts with the holder even in this process
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                text = os.pread(fd, 4096, 0).decode(errors="replace")
                try:
                    return json.loads(text)
                except ValueError:
                    return {"name": "unknown"}
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None

    def dispose(self) -> None:
        self.release()


def make_lock(app: Flask) -> PostgresLock | FileLock:
    url = app.config["DATABASE_URL"]
    if url.startswith("postgresql"):
        key = app.config.get("SCHEDULER_LOCK_KEY")
        return PostgresLock(url, int(key) if key is not None else None)
    return FileLock(app.instance_path, url)


class Leadership:
    """This process's standing: leader or standby, with a watcher thread that re-checks
    the lock, calls ``on_elected`` when it wins and ``on_lost`` when it loses."""

    def __init__(self, app: Flask, on_elected: Callable[[], Any],
                 on_lost: Callable[[], None] | None = None):
        self.lock = make_lock(app)
        self.on_elected, self.on_lost = on_elected, on_lost
        self.interval = float(app.config.get("SCHEDULER_LEADER_CHECK_SECONDS", CHECK_SECONDS))
        self.is_leader = False
        self.last_check = 0.0  # time.monotonic() of the last successful look at the lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def campaign(self) -> Any | None:
        """Try once now (returns on_elected's result when won), then keep watching."""
        result = self._try_to_lead()
        self._thread = threading.Thread(target=self._watch, name="loom-leader", daemon=True)
        self._thread.start()
        return result

    def _try_to_lead(self) -> Any | None:
        if not self.lock.try_acquire():
            self.last_check = time.monotonic()
            return None
        self.is_leader, self.last_check = True, time.monotonic()
        log.info("this process (pid %s) is the scheduler leader", os.getpid())
        return self.on_elected()

    def check(self) -> None:
        """One round of the watcher: step down if the lock is gone, else try to win."""
        if self.is_leader:
            if self.lock.still_held():
                self.last_check = time.monotonic()
                return
            log.warning("scheduler leadership lost (lock connection gone); standing by")
            self.is_leader = False
            self.lock.release()
            if self.on_lost is not None:
                self.on_lost()
        self._try_to_lead()

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watcher must survive a bad round
                log.exception("scheduler leader check failed")

    def is_fresh(self) -> bool:
        """The lock was looked at recently (the in-process heartbeat)."""
        return time.monotonic() - self.last_check < 3 * self.interval + 5

    def stop(self) -> None:
        """Stop watching and give the lock up (a clean shutdown: a standby takes over
        on its next check instead of waiting for a connection timeout)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.interval + 5)
        if self.is_leader and self.on_lost is not None:
            self.on_lost()
        self.is_leader = False
        self.lock.dispose()


def campaign(app: Flask, on_elected: Callable[[], Any],
             on_lost: Callable[[], None] | None = None) -> Any | None:
    """Run ``on_elected`` in the one process that wins the scheduler lock; returns its
    result when this process won right away, else None (it keeps trying in the
    background). A second call for the same app reuses its standing."""
    current: Leadership | None = app.extensions.get("loom_leader")
    if current is not None and not current._stop.is_set():
        if current.is_leader and current.on_lost is not None:
            current.on_lost()  # stop what the previous call started before starting anew
        current.on_elected, current.on_lost = on_elected, on_lost
        return on_elected() if current.is_leader else None
    leadership = Leadership(app, on_elected, on_lost)
    app.extensions["loom_leader"] = leadership
    return leadership.campaign()


def leader_status(app: Flask, engine: sa.Engine) -> dict[str, Any]:
    """For /healthz and /metrics: is a scheduler leader known, and who. This process's
    own standing counts when its heartbeat is fresh; otherwise the lock is asked."""
    mine: Leadership | None = app.extensions.get("loom_leader")
    if mine is not None and mine.is_leader and mine.is_fresh():
        return {"ok": True, "leader": "this process", **_identity()}
    lock = mine.lock if mine is not None else app.extensions.get("loom_leader_probe")
    if lock is None:  # never acquired: only used to name the lock and read its holder
        lock = app.extensions["loom_leader_probe"] = make_lock(app)
    holder = lock.holder(engine)
    return {"ok": holder is not None, "leader": holder}
