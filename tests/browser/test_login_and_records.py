"""The browser's view of the platform: login (CSRF), the record list rendered by records.js
from the REST API, Swagger UI from local assets only, and the security headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import APIRequestContext, ConsoleMessage, Page, expect

pytestmark = pytest.mark.browser

APP = {"key": "browser_crm", "name": "浏览器测试客户", "description": "客户额度台账"}
ENTITY = {
    "key": "customer",
    "label": "客户",
    "fields": [
        {"key": "name", "label": "名称", "type": "text", "required": True},
        {"key": "limit", "label": "额度", "type": "money", "currency": "CNY"},
        {"key": "level", "label": "等级", "type": "select", "options": ["A", "B", "C"]},
    ],
}
# Created in this order; the page lists newest first (sort=-id).
RECORDS = [
    {"name": "华为技术有限公司", "limit": "1234.50", "level": "A"},
    {"name": "招商银行股份有限公司", "limit": "88000.00", "level": "B"},
    {"name": "上海浦东发展银行", "limit": "0.05", "level": "C"},
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
Login = Callable[..., None]


@pytest.fixture(scope="module")
def crm(admin_api: APIRequestContext) -> dict[str, Any]:
    """An app with a customer entity and three records, made through the REST API with a
    bearer token; returns the keys and the new records' ids in RECORDS order."""
    response = admin_api.post("/api/v1/apps", data=APP)
    assert response.status == 201, response.text()
    response = admin_api.post(f"/api/v1/apps/{APP['key']}/entities", data=ENTITY)
    assert response.status == 201, response.text()
    ids = []
    for record in RECORDS:
        response = admin_api.post(
            f"/api/v1/apps/{APP['key']}/entities/{ENTITY['key']}/records", data=record)
        assert response.status == 201, response.text()
        ids.append(response.json()["id"])
    return {"app": APP["key"], "entity": ENTITY["key"], "ids": ids,
            "records_path": f"/apps/{APP['key']}/entities/{ENTITY['key']}"}


def _path(page: Page) -> str:
    return urlsplit(page.url).path


# ---------------------------------------------------------------- (a) login


def test_login_form_carries_a_csrf_token(page: Page) -> None:
    response = page.goto("/login")
    assert response is not None and response.status == 200
    field = page.locator("form[action='/login'] input[type=hidden][name=csrf_token]")
    expect(field).to_have_count(1)
    assert len(field.get_attribute("value") or "") >= 16
    expect(page.locator("input[name=username]")).to_be_visible()
    expect(page.locator("input[name=password]")).to_have_attribute("type", "password")


def test_wrong_password_stays_on_login_then_right_one_lands_on_apps(
        page: Page, live_url: str, crm: dict[str, Any], shot: Callable) -> None:
    page.goto("/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("wrong username or password")
    assert _path(page) == "/login"
    shot(page, "login_wrong_password")

    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-42")
    page.click("button[type=submit]")
    page.wait_for_url(live_url + "/")
    expect(page.locator("h1")).to_have_text("我的应用 My apps")
    card = page.locator(f".card a[href='/apps/{crm['app']}']")
    expect(card).to_contain_text(APP["name"])
    expect(card).to_contain_text(APP["description"])
    expect(page.locator(".who")).to_contain_text("Admin")


def test_a_tampered_csrf_token_is_refused(page: Page) -> None:
    page.goto("/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "correct-horse-42")
    page.locator("input[name=csrf_token]").evaluate("node => node.value = 'forged'")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("button[type=submit]")
    assert posted.value.status == 400
    expect(page.get_by_role("alert")).to_contain_text("会话已过期")
    assert page.context.request.get("/api/v1/apps").status == 401


def test_logout_ends_the_session(page: Page, live_url: str, login_as: Login) -> None:
    login_as(page, "member")
    expect(page.locator(".who")).to_contain_text("Member")
    page.get_by_role("button", name=re.compile("退出")).click()
    page.wait_for_url(re.compile(r"/login"))
    expect(page.locator("input[name=username]")).to_be_visible()
    page.goto("/")
    assert _path(page) == "/login", "a logged-out visitor must be sent back to /login"


# ---------------------------------------------------------------- (b) records


def test_record_list_shows_the_api_records_and_search_narrows_it(
        page: Page, login_as: Login, crm: dict[str, Any], shot: Callable) -> None:
    login_as(page, "admin")
    page.goto(crm["records_path"])
    headers = page.locator("table.grid thead th")
    expect(headers).to_have_text(["#", "名称", "额度", "等级"])
    rows = page.locator("table.grid tbody tr")
    newest_first = list(zip(crm["ids"], RECORDS, strict=True))[::-1]
    expect(rows).to_have_count(3)
    for row, (record_id, record) in zip(rows.all(), newest_first, strict=True):
        expect(row.locator("td")).to_have_text(
            [str(record_id), record["name"], record["limit"], record["level"]])
    expect(rows.first.locator("td").nth(2)).to_have_class("num")
    expect(page.locator("#total")).to_have_text("共 3 条 · 3 records")
    shot(page, "records_all")

    page.fill("input[name=q]", "银行")
    page.click("#search-form button[type=submit]")
    expect(rows).to_have_count(2)
    expect(rows.locator("td:nth-child(2)")).to_have_text(
        ["上海浦东发展银行", "招商银行股份有限公司"])
    expect(page.locator("#total")).to_have_text("共 2 条 · 2 records")

    page.fill("input[name=q]", "华为")
    page.press("input[name=q]", "Enter")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td")).to_have_text(
        [str(crm["ids"][0]), "华为技术有限公司", "1234.50", "A"])


# ---------------------------------------------------------------- (c) API docs


def test_api_docs_render_swagger_ui_from_local_assets_only(
        page: Page, login_as: Login, crm: dict[str, Any], shot: Callable) -> None:
    vendor = Path(__file__).resolve().parents[2] / "app_platform/web/static/vendor/swagger-ui"
    assert (vendor / "swagger-ui-bundle.js").exists(), (
        "Swagger UI is not vendored: cd designer_ui && npm ci && node scripts/vendor.mjs")
    login_as(page, "admin")
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: _collect_errors(message, problems))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible()
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    # the logged-in caller's spec includes the entity's record paths
    expect(page.locator(".swagger-ui .opblock-summary-path",
                        has_text=f"/apps/{crm['app']}/entities/{crm['entity']}/records")
           .first).to_be_attached()
    shot(page, "api_docs")
    remote = [url for url in requested if not _is_local(url)]
    assert remote == [], f"the docs page reached beyond localhost: {remote}"
    assert any(url.endswith("/api/v1/openapi.json") for url in requested), requested
    assert problems == [], problems


def _collect_errors(message: ConsoleMessage, sink: list[str]) -> None:
    """Console errors, except the browser's own favicon probe (no favicon is served)."""
    if message.type == "error" and not message.location.get("url", "").endswith(
            "/favicon.ico"):
        sink.append(message.text)


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob"} or parts.hostname in LOCAL_HOSTS


# ---------------------------------------------------------------- (d) headers


def test_every_page_sets_csp_nosniff_and_frame_ancestors(
        page: Page, login_as: Login, crm: dict[str, Any]) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    anonymous = page.goto("/login")
    assert anonymous is not None
    checked = {"/login": anonymous.all_headers()}
    login_as(page, "admin")
    for path in ["/", f"/apps/{crm['app']}", crm["records_path"], "/api/docs"]:
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        assert _path(page) == path
        checked[path] = response.all_headers()
    for path, headers in checked.items():
        csp = headers.get("content-security-policy", "")
        directives = {d.strip().split()[0]: d.strip() for d in csp.split(";") if d.strip()}
        assert directives.get("default-src") == "default-src 'self'", (path, csp)
        assert directives.get("frame-ancestors") == "frame-ancestors 'none'", (path, csp)
        assert headers.get("x-content-type-options") == "nosniff", (path, headers)
    assert [url for url in requested if not _is_local(url)] == []


def test_pages_refuse_to_be_framed(page: Page, live_url: str) -> None:
    """frame-ancestors is enforced by the browser, not just sent: framing /login yields
    Chromium's refusal and its error page instead of the form."""
    page.goto("/login")
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refusal:
        page.set_content(f'<iframe id="victim" src="{live_url}/login"></iframe>')
    assert "blocked" in refusal.value.text
    framed = page.frame_locator("#victim")
    expect(framed.locator("input[name=username]")).to_have_count(0)
    assert page.frames[1].url.startswith("chrome-error://"), page.frames[1].url
