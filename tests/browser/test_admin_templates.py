"""The admin's template page in real Chromium: install a shipped template under a key of
one's own, export the installed app as a bundle, and import that bundle again."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_admin_installs_exports_and_imports_an_app(page: Page, login_as: Callable[..., None],
                                                   api_as: Any, shot: Callable,
                                                   tmp_path: Path) -> None:
    login_as(page, "admin")
    page.goto("/admin/templates")
    card = page.locator("[data-template=credit_approval]")
    expect(card).to_be_visible()
    expect(page.locator("[data-template=customer_settlement]")).to_be_visible()
    card.locator("input[name=app_key]").fill("credit_demo")
    card.locator("input[type=checkbox]").uncheck()  # definitions only, no sample data
    card.locator("[data-install=credit_approval]").click()
    expect(page.locator("#admin-notice")).to_contain_text("credit_demo")
    row = page.locator("#app-table tr[data-app=credit_demo]")
    expect(row).to_contain_text("credit_approval@")
    shot(page, "admin_templates_installed")

    api = api_as("admin")
    entities = api.get("/api/v1/apps/credit_demo/entities").json()["items"]
    assert {e["key"] for e in entities} >= {"customer", "credit_application", "sales_order"}
    records = api.get("/api/v1/apps/credit_demo/entities/customer/records").json()
    assert records["total"] == 0  # installed without sample data

    # export from the page's link, then import the bundle again under another key
    with page.expect_download() as download_info:
        row.locator("[data-export=credit_demo]").click()
    bundle = tmp_path / "credit_demo.zip"
    download_info.value.save_as(bundle)
    with zipfile.ZipFile(io.BytesIO(bundle.read_bytes())) as archive:
        manifest = json.loads(archive.read("app.json"))
        assert manifest["key"] == "credit_demo"
        assert "entities/customer.json" in archive.namelist()
    page.set_input_files("#import-form input[type=file]", str(bundle))
    page.fill("#import-form input[name=app_key]", "credit_copy")
    page.click("#import-form button[type=submit]")
    expect(page.locator("#admin-notice")).to_contain_text("credit_copy")
    expect(page.locator("#app-table tr[data-app=credit_copy]")).to_be_visible()
    copied = api.get("/api/v1/apps/credit_copy/entities").json()["items"]
    assert sorted(e["key"] for e in copied) == sorted(e["key"] for e in entities)

    # a broken bundle is refused with the reason, and nothing is created
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("app.json", '{"key": "credit_broken"}')
    page.set_input_files("#import-form input[type=file]", str(broken))
    page.fill("#import-form input[name=app_key]", "")
    page.click("#import-form button[type=submit]")
    expect(page.locator("#admin-error")).to_contain_text("name")
    assert api.get("/api/v1/apps/credit_broken").status == 404
    shot(page, "admin_templates_import_refused")

    # members do not get the page
    page.context.clear_cookies()
    login_as(page, "member")
    response = page.goto("/admin/templates")
    assert response is not None and response.status == 403
