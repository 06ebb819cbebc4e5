"""Regenerate the README screenshots (docs/images/home.png, records.png, dashboard.png).

Run from the repository root:  .venv/bin/python tests/browser/make_screenshots.py

It serves the real app on a throw-away SQLite database, fills it through the REST API
with two apps and a settlement ledger in Chinese, and photographs the pages in Debian's
Chromium (1280x800, zh-CN) with the same harness as the browser tests, so the pictures
show what users get, not a mock-up.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = REPO_ROOT / "docs" / "images"

APPS = [
    {"key": "merchant_ledger", "name": "商户结算台账",
     "description": "各分行商户结算单汇总"},
]
LEDGER = {
    "key": "settlement",
    "label": "商户结算单",
    "fields": [
        {"key": "merchant", "label": "商户名称", "type": "text", "required": True},
        {"key": "city", "label": "城市", "type": "text"},
        {"key": "amount", "label": "结算金额", "type": "money", "currency": "CNY"},
        {"key": "fee", "label": "手续费", "type": "money", "currency": "CNY"},
        {"key": "status", "label": "状态", "type": "select",
         "options": ["待对账", "已对账", "差错"]},
    ],
}
ROWS = [
    ("北京王府井百货有限责任公司", "北京", "1284500.00", "7707.00", "已对账"),
    ("上海第一八佰伴有限公司", "上海", "986320.50", "5917.92", "已对账"),
    ("广州天河城百货有限公司", "广州", "452180.00", "2713.08", "待对账"),
    ("深圳万象城商业管理有限公司", "深圳", "2310045.80", "13860.27", "已对账"),
    ("杭州银泰百货有限公司", "杭州", "318760.00", "1912.56", "差错"),
    ("成都太古里商业有限公司", "成都", "774210.40", "4645.26", "待对账"),
    ("南京德基广场有限公司", "南京", "1502300.00", "9013.80", "已对账"),
]


def _harness() -> ModuleType:
    """tests/browser/conftest.py by path: one definition of server, browser and login."""
    # The repository root first: the editable install may map app_platform as a namespace
    # package when run from elsewhere.
    sys.path.insert(0, str(REPO_ROOT))
    spec = importlib.util.spec_from_file_location(
        "loom_browser_harness", Path(__file__).with_name("conftest.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fill(api: Any) -> None:
    for app in APPS:
        response = api.post("/api/v1/apps", data=app)
        assert response.status == 201, response.text()
    base = f"/api/v1/apps/{APPS[0]['key']}/entities"
    response = api.post(base, data=LEDGER)
    assert response.status == 201, response.text()
    for merchant, city, amount, fee, status in ROWS:
        response = api.post(f"{base}/{LEDGER['key']}/records", data={
            "merchant": merchant, "city": city, "amount": amount, "fee": fee,
            "status": status})
        assert response.status == 201, response.text()


def _install_templates(api: Any) -> None:
    """The shipped templates with sample data, as `make run` installs them."""
    for key in ("customer_settlement", "credit_approval"):
        response = api.post(f"/api/v1/templates/{key}/install",
                            data={"with_sample_data": True})
        assert response.status == 201, response.text()


def main() -> None:
    harness = _harness()
    reason = harness.chromium_missing_reason()
    if reason:
        raise SystemExit(reason)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch, harness.serve_app(Path(scratch)) as url, \
            sync_playwright() as playwright:
        api = harness.rest_client(playwright, url, "admin")
        _install_templates(api)
        _fill(api)
        api.dispose()
        browser = harness.launch_chromium(playwright)
        page = harness.new_page(browser, url)
        harness.login(page, url, "admin")
        page.locator(".card").nth(len(APPS) + 1).wait_for()
        print(harness.take_screenshot(page, "home", OUTPUT))
        page.goto(f"/apps/{APPS[0]['key']}/entities/{LEDGER['key']}")
        page.locator("table.grid tbody tr").nth(len(ROWS) - 1).wait_for()
        page.wait_for_function("document.getElementById('total').textContent !== ''")
        print(harness.take_screenshot(page, "records", OUTPUT))
        page.goto("/apps/customer_settlement/dashboards/settlement_overview")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1500)  # let echarts finish its entry animation
        print(harness.take_screenshot(page, "dashboard", OUTPUT))
        browser.close()


if __name__ == "__main__":
    main()
