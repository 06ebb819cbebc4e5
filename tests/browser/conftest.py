"""Browser-test harness: the real app served on 127.0.0.1 in a thread, driven by Debian's
Chromium through Playwright's sync API.

Why Debian's Chromium and never `playwright install`: CI machines get the browser from apt
(no download from Playwright's CDN at test time), so every run uses one known binary.

The helpers below are plain functions so tests/browser/make_screenshots.py can reuse them
outside pytest; the fixtures only wrap them with the right scope and teardown.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    Page,
    Playwright,
    sync_playwright,
)
from werkzeug.serving import WSGIRequestHandler, make_server

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
LOCALE = "zh-CN"
# Fail fast: a page that needs longer than this on a loaded 2-core CI box is itself a bug.
TIMEOUT_MS = 10_000


def _platform_fixtures() -> ModuleType:
    """tests/platform/conftest.py, loaded by path: its users, password and migration
    helper are the single definition of a prepared test database. (tests/ is not a package
    and pytest runs with --import-mode=importlib, so it cannot be imported by name.)"""
    path = REPO_ROOT / "tests" / "platform" / "conftest.py"
    spec = importlib.util.spec_from_file_location("loom_browser_platform_setup", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PLATFORM = _platform_fixtures()
PASSWORD: str = PLATFORM.PASSWORD
TEST_CONFIG: dict[str, Any] = PLATFORM.TEST_CONFIG


class _QuietRequestHandler(WSGIRequestHandler):
    """Keeps werkzeug's one-line-per-request access log out of test output; errors are
    still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@contextmanager
def serve_app(directory: Path) -> Iterator[str]:
    """Run the real app on a migrated SQLite file in ``directory``; yield its base URL.

    A threaded werkzeug server on a free port: the browser opens several connections at
    once, and pages fetch the REST API while the document is still being served."""
    from app_platform import create_app
    from app_platform.extensions import db

    url = f"sqlite:///{directory / 'loom.db'}"
    PLATFORM._prepare(url)
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url})
    server = make_server("127.0.0.1", 0, app, threaded=True,
                         request_handler=_QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="loom-live-server",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


def chromium_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not os.access(CHROMIUM, os.X_OK):
        return (f"{CHROMIUM} not found: install Debian's chromium package "
                "(apt-get install chromium fonts-noto-cjk); never `playwright install`")
    return None


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with everything that phones home switched off."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=CHROMIUM_ARGS)


def new_page(browser: Browser, base_url: str) -> Page:
    """A page in a fresh context (own cookies), 1280x800, zh-CN; close its context after."""
    context = browser.new_context(viewport=VIEWPORT, locale=LOCALE, base_url=base_url)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def login(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    """Log in through the real form (CSRF field and all) and wait for the apps page."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/")


def take_screenshot(page: Page, name: str, directory: Path = ARTIFACTS) -> Path:
    """Save a full-page PNG as ``directory/name.png`` (tests/artifacts/ is git-ignored)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def rest_client(playwright: Playwright, base_url: str, username: str,
                password: str = PASSWORD) -> APIRequestContext:
    """A REST client acting as ``username`` with a bearer token from /api/v1/auth/login.
    Its own cookie jar, so it never logs a browser page in or out."""
    anonymous = playwright.request.new_context(base_url=base_url)
    try:
        response = anonymous.post("/api/v1/auth/login",
                                  data={"username": username, "password": password})
        assert response.status == 200, response.text()
        token = response.json()["token"]
    finally:
        anonymous.dispose()
    return playwright.request.new_context(
        base_url=base_url, extra_http_headers={"Authorization": f"Bearer {token}"})


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (no trailing slash) of the app served for the whole browser session."""
    with serve_app(tmp_path_factory.mktemp("live")) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    reason = chromium_missing_reason()
    if reason:
        if os.environ.get("LOOM_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LOOM_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    instance = launch_chromium(playwright)
    yield instance
    instance.close()


@pytest.fixture
def page(browser: Browser, live_url: str) -> Iterator[Page]:
    """A page in its own browser context (no cookies shared between tests)."""
    fresh = new_page(browser, live_url)
    yield fresh
    fresh.context.close()


@pytest.fixture
def login_as(live_url: str) -> Callable[..., None]:
    """``login_as(page, username, password=PASSWORD)``: log in through the form."""

    def _login(page: Page, username: str, password: str = PASSWORD) -> None:
        login(page, live_url, username, password)

    return _login


@pytest.fixture
def api_as(playwright: Playwright, live_url: str) -> Iterator[Callable[[str], APIRequestContext]]:
    """``api_as(username)``: a bearer-token REST client, disposed after the test."""
    clients: list[APIRequestContext] = []

    def _client(username: str) -> APIRequestContext:
        clients.append(rest_client(playwright, live_url, username))
        return clients[-1]

    yield _client
    for client in clients:
        client.dispose()


@pytest.fixture(scope="session")
def admin_api(playwright: Playwright, live_url: str) -> Iterator[APIRequestContext]:
    """The admin's REST client for the whole session (setting up apps and records)."""
    client = rest_client(playwright, live_url, "admin")
    yield client
    client.dispose()


@pytest.fixture
def shot() -> Callable[[Page, str], Path]:
    """``shot(page, name)``: a full-page PNG under tests/artifacts/ (for looking at
    failures and the UI by eye; the assertions never depend on it)."""
    return take_screenshot
