"""The report designer and dashboards in a real browser: build a pie and a daily trend by
dragging fields, put both on a dashboard, filter it by date, click a pie slice and land
on the record list filtered to exactly the records behind that slice.

Assertions read the data ECharts actually holds (``echarts.getInstanceByDom(el)
.getOption()``) and compare it with sums computed here from the records we created.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import APIRequestContext, Page, expect

pytestmark = pytest.mark.browser

APP = "dash_sales"
CHANNELS = ["alipay", "wechat", "unionpay"]
ENTITY = {
    "key": "payment",
    "label": "支付流水",
    "fields": [
        {"key": "amount", "label": "金额", "type": "money", "currency": "CNY"},
        {"key": "channel", "label": "渠道", "type": "select", "options": CHANNELS},
        {"key": "paid_at", "label": "支付时间", "type": "datetime"},
    ],
}
# 18 payments over 2024-03-01..09, some just after local midnight (a UTC day would differ)
RECORDS = [
    {"amount": f"{100 + i * 37}.{i * 3 % 100:02d}", "channel": CHANNELS[(i * 2 + i // 4) % 3],
     "paid_at": f"2024-03-{1 + (i * 5 + i // 3) % 9:02d}T{[0, 9, 23][i % 3]:02d}:15:00+08:00"}
    for i in range(18)
]
DATE_FROM, DATE_TO = "2024-03-03", "2024-03-06"


def _day(record: dict) -> str:
    return record["paid_at"][:10]


def _sums(records: list[dict]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for record in records:
        totals[record["channel"]] += Decimal(record["amount"])
    return dict(totals)


IN_RANGE = [r for r in RECORDS if DATE_FROM <= _day(r) <= DATE_TO]

PIE_OPTION = """(selector) => {
  const el = document.querySelector(selector);
  const chart = el && echarts.getInstanceByDom(el);
  if (!chart) return null;
  const series = chart.getOption().series || [];
  if (!series.length || series[0].type !== 'pie') return null;
  return series[0].data.map((d) => [d.name, String(d.value)]);
}"""
LINE_OPTION = """(selector) => {
  const el = document.querySelector(selector);
  const chart = el && echarts.getInstanceByDom(el);
  if (!chart) return null;
  const option = chart.getOption();
  if (!option.series || !option.series.length || option.series[0].type !== 'line') return null;
  const value = (d) => String(Array.isArray(d) ? d[1] : (d && d.value !== undefined ? d.value : d));
  return {x: option.xAxis[0].data, y: option.series[0].data.map(value)};
}"""
SLICE_CENTRE = """([selector, name]) => {
  const el = document.querySelector(selector);
  const chart = echarts.getInstanceByDom(el);
  const data = chart.getModel().getSeriesByIndex(0).getData();
  for (let i = 0; i < data.count(); i++) {
    if (data.getName(i) !== name) continue;
    const s = data.getItemLayout(i);
    const angle = (s.startAngle + s.endAngle) / 2, radius = (s.r0 + s.r) / 2 || s.r * 0.6;
    const box = el.getBoundingClientRect();
    return {x: box.left + s.cx + Math.cos(angle) * radius,
            y: box.top + s.cy + Math.sin(angle) * radius};
  }
  return null;
}"""


@pytest.fixture(scope="module")
def sales(admin_api: APIRequestContext) -> str:
    response = admin_api.post("/api/v1/apps", data={"key": APP, "name": "收单看板"})
    assert response.status == 201, response.text()
    response = admin_api.post(f"/api/v1/apps/{APP}/entities", data=ENTITY)
    assert response.status == 201, response.text()
    for record in RECORDS:
        response = admin_api.post(f"/api/v1/apps/{APP}/entities/payment/records", data=record)
        assert response.status == 201, response.text()
    return APP


def _drag(page: Page, source: str, target: str) -> None:
    """A mouse drag in small steps (SortableJS in fallback mode follows mouse events)."""
    start = page.locator(source).bounding_box()
    end = page.locator(target).bounding_box()
    assert start and end
    x, y = start["x"] + start["width"] / 4, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=4)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=15)
    page.mouse.up()


def _design(page: Page, key: str, name: str, dimension: str, chart: str,
            measure: str | None) -> None:
    page.goto(f"/designer/apps/{APP}/reports/new")
    expect(page.locator("#report-designer")).to_have_attribute("data-ready", "true")
    page.select_option("#rd-entity", "payment")
    expect(page.locator(f"#rd-fields li[data-field={dimension}]")).to_be_visible()
    _drag(page, f"#rd-fields li[data-field={dimension}]", "#rd-dimensions")
    expect(page.locator("#rd-dimensions li.placed")).to_have_count(1)
    if measure:
        _drag(page, f"#rd-fields li[data-field={measure}]", "#rd-measures")
    else:
        page.click("#rd-add-count")
    expect(page.locator("#rd-measures li.placed")).to_have_count(1)
    page.select_option("#rd-chart", chart)
    page.fill("#rd-key", key)
    page.fill("#rd-name", name)


def _pie(page: Page, selector: str) -> dict[str, Decimal]:
    pairs = page.evaluate(PIE_OPTION, selector)
    assert pairs is not None
    return {name: Decimal(value) for name, value in pairs}


def test_designer_dashboard_filter_and_drill(page: Page, sales: str, login_as: Callable,
                                              shot: Callable) -> None:
    login_as(page, "designer")

    # a pie: channel x sum(amount), dragged together in the designer
    _design(page, "pie_channel", "渠道金额", "channel", "pie", "amount")
    page.wait_for_function(f"() => ({PIE_OPTION})('#rd-preview') !== null")
    assert _pie(page, "#rd-preview") == _sums(RECORDS)
    shot(page, "report_designer_pie")
    page.click("#rd-save")
    expect(page.locator("#rd-status")).to_contain_text("v1")

    # a trend line: paid_at by local day x count
    _design(page, "daily", "每日笔数", "paid_at", "line", None)
    page.wait_for_function(f"() => ({LINE_OPTION})('#rd-preview') !== null")
    per_day = Counter(_day(r) for r in RECORDS)
    line = page.evaluate(LINE_OPTION, "#rd-preview")
    assert line == {"x": sorted(per_day), "y": [str(per_day[d]) for d in sorted(per_day)]}
    page.click("#rd-save")
    expect(page.locator("#rd-status")).to_contain_text("v1")

    # both on a dashboard with a date-range filter on paid_at
    page.goto(f"/designer/apps/{APP}/dashboards/new")
    page.fill("input[name=key]", "ops")
    page.fill("input[name=name]", "运营看板")
    page.fill("input[name=date_field]", "paid_at")
    for report in ("pie_channel", "daily"):
        page.select_option("#add-report-select", report)
        page.click("#add-report")
    expect(page.locator("#dash-grid .dash-card")).to_have_count(2)
    page.locator(".dash-card[data-report=daily] .w-plus").click()  # 6 -> 7 wide: next row
    shot(page, "dashboard_editor")
    page.click("#dash-save")
    page.wait_for_url(f"**/apps/{APP}/dashboards/ops")

    pie = ".dash-card[data-report=pie_channel] .card-body"
    trend = ".dash-card[data-report=daily] .card-body"
    page.wait_for_function(f"() => ({PIE_OPTION})('{pie}') !== null")
    page.wait_for_function(f"() => ({LINE_OPTION})('{trend}') !== null")
    assert _pie(page, pie) == _sums(RECORDS)

    page.fill("input[name=period__from]", DATE_FROM)
    page.fill("input[name=period__to]", DATE_TO)
    page.click("#dash-apply")
    expected = _sums(IN_RANGE)
    page.wait_for_function(
        f"([selector, want]) => {{ const p = ({PIE_OPTION})(selector); return p !== null && "
        "p.length === Object.keys(want).length && p.every(([n, v]) => want[n] === v); }",
        arg=[pie, {name: str(value) for name, value in expected.items()}])
    assert _pie(page, pie) == expected
    in_range_days = Counter(_day(r) for r in IN_RANGE)
    # each card refreshes with its own request: wait for the line card too
    page.wait_for_function(
        f"([selector, days]) => {{ const l = ({LINE_OPTION})(selector); return l !== null && "
        "JSON.stringify(l.x) === JSON.stringify(days); }", arg=[trend, sorted(in_range_days)])
    line = page.evaluate(LINE_OPTION, trend)
    assert line == {"x": sorted(in_range_days),
                    "y": [str(in_range_days[d]) for d in sorted(in_range_days)]}
    shot(page, "dashboard_filtered")

    # click the wechat slice: the record list shows exactly its records
    point = page.evaluate(SLICE_CENTRE, [pie, "wechat"])
    assert point is not None
    page.mouse.click(point["x"], point["y"])
    page.wait_for_url(f"**/apps/{APP}/entities/payment?**")
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"channel": ["wechat"], "paid_at__gte": ["2024-03-03T00:00:00+08:00"],
                     "paid_at__lt": ["2024-03-07T00:00:00+08:00"]}
    wechat = [r for r in IN_RANGE if r["channel"] == "wechat"]
    expect(page.locator("#total")).to_contain_text(f"共 {len(wechat)} 条")
    expect(page.locator("#record-list tbody tr")).to_have_count(len(wechat))
    shot(page, "dashboard_drill_records")


def test_broken_report_card_says_it_needs_fixing(page: Page, sales: str, login_as: Callable,
                                                 admin_api: APIRequestContext) -> None:
    report = {"key": "by_channel_count", "name": "渠道笔数", "entity": "payment",
              "dimensions": [{"field": "channel"}], "measures": [{"key": "n", "agg": "count"}],
              "chart": {"type": "bar"}}
    kpi = {"key": "total_amount", "name": "交易总额", "entity": "payment",
           "measures": [{"key": "total", "agg": "sum", "field": "amount"}],
           "chart": {"type": "kpi"}}
    for body in (report, kpi):
        response = admin_api.post(f"/api/v1/apps/{APP}/reports", data=body)
        assert response.status == 201, response.text()
    board = {"key": "health", "name": "健康度", "items": [
        {"report": "total_amount", "x": 0, "y": 0, "w": 4, "h": 2},
        {"report": "by_channel_count", "x": 4, "y": 0, "w": 8, "h": 4}]}
    assert admin_api.post(f"/api/v1/apps/{APP}/dashboards", data=board).status == 201
    fields = [f for f in ENTITY["fields"] if f["key"] != "channel"]
    current = admin_api.get(f"/api/v1/apps/{APP}/entities/payment").json()
    response = admin_api.put(f"/api/v1/apps/{APP}/entities/payment",
                             data={**ENTITY, "fields": fields, "version": current["version"]})
    assert response.status == 200, response.text()
    try:
        login_as(page, "member")
        page.goto(f"/apps/{APP}/dashboards/health")
        alert = page.locator(".dash-card[data-report=by_channel_count] .needs-fixing")
        expect(alert).to_contain_text("this report needs fixing: unknown field 'channel'")
        total = sum(Decimal(r["amount"]) for r in RECORDS)
        expect(page.locator(".dash-card[data-report=total_amount] .kpi-value")) \
            .to_have_text(f"{total:.2f}")
        expect(page.locator("#dash-edit")).to_have_count(0)  # members do not design
        page.goto(f"/apps/{APP}/dashboards")
        expect(page.locator("#dashboard-list a[href$='/dashboards/health']")).to_be_visible()
        response = page.goto(f"/designer/apps/{APP}/reports/new")
        assert response is not None and response.status == 403
    finally:
        admin_api.put(f"/api/v1/apps/{APP}/entities/payment",
                      data={**ENTITY, "version": current["version"] + 1})
