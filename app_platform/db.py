"""The database extension: one SQLAlchemy engine per app, one session per request.

Each request's writes are one transaction: services commit at the end of their unit of
work, and the teardown rolls back whatever was not committed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask, g
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(engine: sa.Engine) -> None:
    """SQLite: real transactions around DDL too (the driver's implicit transaction handling
    would commit DDL on its own), WAL for concurrent readers, foreign keys on."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        # an AUTOCOMMIT connection must stay outside a transaction: a BEGIN here would
        # never be committed and its writes would be lost silently
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN")


def make_engine(url: str, echo: bool = False) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, echo=echo)
        _sqlite_pragmas(engine)
        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def refresh_statistics(conn: sa.Connection, table: str | None = None) -> None:
    """Let the query planner see the data as it is now. SQLite keeps no statistics until
    ANALYZE runs, and without them a filtered, sorted page over a large table takes the
    wrong index (hundreds of ms instead of a few). A sampled ANALYZE (``analysis_limit``)
    and ``PRAGMA optimize`` were both measured and both left the bad plan in place, so
    this is a full ANALYZE: run after an import job and hourly by the scheduler, not per
    write. PostgreSQL's autovacuum does this by itself."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f'ANALYZE "{table}"' if table else "ANALYZE")


class Database:
    def __init__(self) -> None:
        self._engines: dict[int, sa.Engine] = {}

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"], bool(app.config.get("DB_ECHO")))
        app.extensions["loom_db"] = {
            "engine": engine,
            "sessionmaker": sessionmaker(bind=engine, expire_on_commit=False),
        }
        app.teardown_appcontext(self._teardown)

    @staticmethod
    def _state() -> dict[str, Any]:
        from flask import current_app

        return current_app.extensions["loom_db"]

    @property
    def engine(self) -> sa.Engine:
        return self._state()["engine"]

    @property
    def session(self) -> Session:
        session = g.get("_loom_session")
        if session is None:
            session = self._state()["sessionmaker"]()
            g._loom_session = session
        return session

    @staticmethod
    def _teardown(_exc: BaseException | None) -> None:
        session = g.pop("_loom_session", None)
        if session is not None:
            session.rollback()
            session.close()
