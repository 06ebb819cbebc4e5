"""A real deployment on loopback for the system tests and the load benchmark: a fresh
PostgreSQL schema migrated with ``flask --app wsgi db upgrade``, users, ``gunicorn -w N``
serving ``wsgi:app``, scheduler processes, and a TCP proxy in front of PostgreSQL that
can be cut to simulate a database outage without stopping the shared server.

Why subprocesses and not the Flask test client: the things proven here (several worker
processes sharing one database, a worker killed mid-request, the master respawning it,
leader election between processes) only exist with real processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "correct-horse-42"
USERS = {  # username: (roles, department, manager)
    "admin": (["admin"], None, None), "designer": (["designer"], None, None),
    "member": (["member"], "retail", "head"), "member2": (["member"], "retail", "head"),
    "integrator": (["integrator"], None, None), "outsider": ([], None, None),
    "head": (["member"], "retail", None), "locked": (["member"], None, None),
}
SECRET_KEY = "system-test-secret-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def schema_url(base: str, schema: str, tag: str, host_port: str | None = None) -> str:
    """``base`` pointed at ``schema`` (search_path) with an application_name that lets a
    test find this deployment's connections, optionally through another host:port."""
    url = sa.engine.make_url(base)
    if host_port:
        host, port = host_port.split(":")
        url = url.set(host=host, port=int(port))
    text = url.render_as_string(hide_password=False)
    sep = "&" if "?" in text else "?"
    return f"{text}{sep}options={quote(f'-csearch_path={schema}')}&application_name={tag}"


class Database:
    """A fresh schema in the PostgreSQL of ``base`` (dropped by ``drop``)."""

    def __init__(self, base: str):
        self.base = base
        self.schema = f"sys_{uuid.uuid4().hex[:10]}"
        self.tag = f"loom-{self.schema}"
        self.url = schema_url(base, self.schema, self.tag)
        self.admin = sa.create_engine(base)
        with self.admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))

    def url_via(self, host_port: str) -> str:
        return schema_url(self.base, self.schema, self.tag, host_port)

    def engine(self) -> sa.Engine:
        return sa.create_engine(self.url, pool_pre_ping=True)

    def drop(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :tag AND pid <> pg_backend_pid()"), {"tag": self.tag})
            conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


def base_env(database_url: str, instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOM_")}
    env.update({
        "LOOM_DATABASE_URL": database_url, "LOOM_INSTANCE_PATH": str(instance),
        "LOOM_SECRET_KEY": SECRET_KEY, "LOOM_PASSWORD_HASH": "pbkdf2:sha256:1000",
        "LOOM_LOG_FORMAT": "json", "LOOM_ACCESS_LOG": "true",
        "LOOM_METRICS_DIR": str(instance / "metrics"), "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def prepare(database: Database, instance: Path) -> None:
    """Migrate with the documented command, then create the users of USERS (in this
    process: one app import fewer than another command)."""
    from app_platform import create_app
    from app_platform.extensions import db
    from app_platform.services.users import create_user

    instance.mkdir(parents=True, exist_ok=True)
    env = base_env(database.url, instance)
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)
    app = create_app({"DATABASE_URL": database.url, "SECRET_KEY": SECRET_KEY,
                      "PASSWORD_HASH": env["LOOM_PASSWORD_HASH"]})
    with app.app_context():
        for name, (roles, department, manager) in USERS.items():
            create_user(db.session, {"username": name, "password": PASSWORD, "roles": roles,
                                     "display_name": name, "department": department,
                                     "manager": manager})
        db.engine.dispose()


class Gunicorn:
    """``gunicorn -w N -b 127.0.0.1:<port> wsgi:app`` with its log in ``instance``."""

    def __init__(self, database_url: str, instance: Path, workers: int = 4, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.instance = instance
        self.log_path = instance / f"gunicorn-{self.port}.log"
        self.env = base_env(database_url, instance, **env)
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Gunicorn:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", str(self.workers), "-b", f"127.0.0.1:{self.port}",
             "--timeout", "60", "--graceful-timeout", "5", "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=5).status_code in (200, 503) and \
                        len(self.worker_pids()) == self.workers:
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start: {self.log_text()[-3000:]}")

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return children(self.process.pid)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # quick shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def children(pid: int) -> list[int]:
    """Live child process ids of ``pid`` (from /proc; zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def start_scheduler(database_url: str, instance: Path, name: str, **env: str) -> Any:
    """``python scheduler_main.py`` with its log at instance/<name>.log."""
    log = open(instance / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it open
    process = subprocess.Popen([sys.executable, "scheduler_main.py"], cwd=ROOT,
                               env=base_env(database_url, instance, **env), stdout=log,
                               stderr=subprocess.STDOUT)
    log.close()
    return process


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` closes every connection and
    refuses new ones (the database is "down"), ``restore()`` listens again."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def login(base_url: str, username: str, password: str = PASSWORD) -> str:
    response = httpx.post(f"{base_url}/api/v1/auth/login", timeout=30,
                          json={"username": username, "password": password})
    response.raise_for_status()
    return response.json()["token"]


def api(base_url: str, token: str | None, **kw: Any) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=f"{base_url}/api/v1", headers=headers, timeout=60, **kw)


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
