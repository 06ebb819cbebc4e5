"""Loom's platform: the Flask app factory."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from app_platform.config import DEFAULTS


def _secret_key(app: Flask) -> str:
    """LOOM_SECRET_KEY, else the key `flask bootstrap` stored under instance/ (shared by
    every worker of this install), else a throw-away key for this process."""
    path = os.path.join(app.instance_path, "secret_key")
    if os.path.exists(path):
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    import secrets

    return secrets.token_urlsafe(32)


def create_app(config_overrides: dict[str, Any] | None = None) -> Flask:
    """Defaults, then LOOM_-prefixed environment, then ``config_overrides``."""
    app = Flask(__name__, static_folder=None,
                instance_path=os.environ.get("LOOM_INSTANCE_PATH") or None,
                instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("LOOM")
    app.config.update(config_overrides or {})
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "loom.db")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app)
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    from app_platform import cli, errors, health, logs, scheduler, web
    from app_platform.api import init_app as init_api
    from app_platform.extensions import db

    logs.init_app(app)
    errors.init_app(app)
    db.init_app(app)
    init_api(app)
    web.init_app(app)
    cli.init_app(app)
    health.init_app(app)
    scheduler.init_app(app)
    return app
