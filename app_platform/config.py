"""Configuration defaults. Order of precedence: these defaults, then ``LOOM_``-prefixed
environment variables (``LOOM_DATABASE_URL``...), then the overrides given to create_app."""

from __future__ import annotations

DEFAULTS: dict[str, object] = {
    # sqlite:///<instance>/loom.db when unset (resolved in create_app)
    "DATABASE_URL": None,
    "SECRET_KEY": None,
    # request bodies larger than this get 413 (bytes); uploads have their own limits
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    "SESSION_TOKEN_HOURS": 12,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_LOCK_MINUTES": 15,
    "PAGE_LIMIT_DEFAULT": 50,
    "PAGE_LIMIT_MAX": 500,
    "BULK_MAX_ROWS": 10_000,
    # list totals are exact up to this many matches, "10000+" beyond (count=exact: always)
    "COUNT_CAP": 10_000,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "JSON_SORT_KEYS": False,
    "DB_ECHO": False,
    # run the in-process APScheduler (flow timers, scheduled rules); `make run` turns it on
    "SCHEDULER_ENABLED": False,
    # imports run in a background thread; tests make them synchronous
    "JOBS_SYNC": False,
    "IMPORT_MAX_BYTES": 200 * 1024 * 1024,
    "IMPORT_MAX_ERRORS": 10_000,
    "IMPORT_TIMEZONE": "Asia/Shanghai",
    "UPLOAD_MAX_BYTES": 10 * 1024 * 1024,
    # werkzeug hash method; tests use a cheap pbkdf2 to stay fast
    "PASSWORD_HASH": "scrypt",
}
