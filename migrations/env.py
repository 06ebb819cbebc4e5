"""Alembic environment for Loom's own tables (entity tables are managed by the form
engine at publish time, not here). The connection comes from `flask db upgrade`, or from
LOOM_DATABASE_URL when alembic is run by hand."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from app_platform.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = os.environ.get("LOOM_DATABASE_URL", "sqlite:///instance/loom.db")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _migrate(conn)


def _migrate(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `flask db upgrade`")
run()
