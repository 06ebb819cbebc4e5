"""Fixtures shared by every test directory."""

import os

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a real PostgreSQL server; tests that need one are skipped with a reason."""
    url = os.environ.get("LOOM_TEST_POSTGRES_URL")
    if not url and os.environ.get("LOOM_REQUIRE_POSTGRES") == "1":
        pytest.fail("LOOM_REQUIRE_POSTGRES=1 but LOOM_TEST_POSTGRES_URL is not set")
    if not url:
        pytest.skip("LOOM_TEST_POSTGRES_URL is not set: PostgreSQL tests need a real server")
    return url
