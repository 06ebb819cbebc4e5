#!/usr/bin/env bash
# The whole suite: SQLite always; PostgreSQL too when LOOM_TEST_POSTGRES_URL is set;
# browser tests need /usr/bin/chromium (skipped with a visible reason otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check app_platform engines tests bench
exec .venv/bin/python -m pytest "$@"
