"""The dashboard in headless Chromium (Debian's chromium, driven by Playwright): the page loads from the
local stack, charts render the ingested numbers, and the hostname and date filters change them."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36")


@pytest.fixture(scope="module")
def browser() -> Any:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (scripts/system-deps.sh installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def seed(key: Any, platform_db: Any, local_stack: Any, monkeypatch: Any) -> tuple[str, str]:
    today = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0)
    old = today - timedelta(days=3)
    recs = []
    for i in range(6):  # today: 6 on api.example.com, 5 ok + 1 error
        recs.append({"path": "/users" if i % 2 else "/orders", "method": "GET", "status": 500 if i == 0 else 200,
                     "response_time": 20 + 10 * i, "created_at": today.isoformat(), "hostname": "api.example.com",
                     "ip_address": "81.2.69.142" if i % 2 else "8.8.8.8", "user_agent": UA})
    for _ in range(3):  # three days ago: 3 on admin.example.com
        recs.append({"path": "/admin", "method": "POST", "status": 201, "response_time": 100,
                     "created_at": old.isoformat(), "hostname": "admin.example.com", "ip_address": "8.8.8.8",
                     "user_agent": UA})
    r = key.post("/api/requests", json={"framework": "Tornado", "requests": recs})
    assert r.status_code == 201, r.text
    # A monitor with two checks, one up and one down: 50% uptime on the dashboard.
    m = key.post("/api/monitors", json={"url": "http://127.0.0.1:9/health", "interval_minutes": 1440})
    assert m.status_code == 201, m.text
    mid = m.json()["data"]["id"]
    platform_db.query("UPDATE platform.api_monitors SET last_checked_at = now() WHERE id = CAST(:m AS uuid)", m=mid)
    platform_db.query(
        "INSERT INTO platform.api_monitor_results (tenant_id, monitor_id, status, response_time, up)"
        " VALUES ('demo', CAST(:m AS uuid), 200, 40, true), ('demo', CAST(:m AS uuid), 503, 60, false)", m=mid)
    return today.date().isoformat(), old.date().isoformat()


def test_dashboard_renders_ingested_numbers_and_filters_change_them(api, key, browser, platform_db, local_stack,
                                                                    monkeypatch):
    from playwright.sync_api import expect

    today, _old = seed(key, platform_db, local_stack, monkeypatch)
    page = browser.new_page(viewport={"width": 1400, "height": 1500})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Only the page's own failures count: the wrong-key attempt below answers 401 on purpose.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "401" not in m.text else None)
    resp = page.goto(api.url + "/dashboard")
    assert resp is not None and resp.status == 200
    assert page.title() == "Telltale · API analytics"
    page.wait_for_selector("body[data-state=\'ready\']")

    page.fill("#api-key", "tt_wrong")
    page.click("#load")
    page.wait_for_selector("body[data-state=\'error\']")
    assert "unknown API key" in page.text_content("#error")

    page.fill("#api-key", key.key)
    page.click("#load")
    page.wait_for_selector("body[data-state=\'loaded\']")
    assert page.text_content("#stat-requests") == "9"
    assert page.text_content("#stat-success") == "88.9%"  # 8 of 9 below 400
    assert page.text_content("#stat-users") == "2"
    assert page.get_attribute("#chart-requests", "data-total") == "9"
    assert page.locator("#chart-requests canvas").count() >= 1
    assert page.locator("#chart-latency canvas").count() >= 1
    drawn = page.evaluate("window.telltaleDashboard.charts['chart-requests'].data[1].reduce((a, b) => a + b, 0)")
    assert drawn == 9
    endpoints = dict(zip(page.locator("#endpoints .bar-row").evaluate_all("rs => rs.map(r => r.dataset.name)"),
                         page.locator("#endpoints .bar-row").evaluate_all("rs => rs.map(r => r.dataset.count)"),
                         strict=True))
    assert endpoints == {"GET /orders": "3", "GET /users": "3", "POST /admin": "3"}
    assert page.locator("#locations .bar-row[data-name='US']").get_attribute("data-count") == "6"
    assert page.locator("#browsers .bar-row[data-name='Chrome']").get_attribute("data-count") == "9"
    assert page.locator("#os .bar-row[data-name='Windows']").get_attribute("data-count") == "9"
    assert page.locator("#status-codes .bar-row[data-name='500']").get_attribute("data-count") == "1"
    assert page.locator("#uptime-table tr").count() == 1
    assert page.text_content("#uptime-table tr td:nth-child(2)") == "50.0%"
    # Uptime over time: one bucket holding both checks, one up and one down, drawn as 50% on a 0-100 axis.
    assert page.locator("#chart-uptime-pct canvas").count() >= 1
    assert page.get_attribute("#chart-uptime-pct", "data-points") == "1"
    uptime = page.evaluate("(() => { const c = window.telltaleDashboard.charts['chart-uptime-pct'];"
                           " return {y: c.data[1], label: c.series[1].label,"
                           " range: [c.scales.y.min, c.scales.y.max]}; })()")
    assert uptime == {"y": [50], "label": "http://127.0.0.1:9/health", "range": [0, 100]}
    latency = page.evaluate("window.telltaleDashboard.charts['chart-uptime'].data[1]")
    assert latency == [50]  # the average of the two checks' 40 and 60 ms
    # The ranked lists are lists to assistive technology, each item named with its count.
    assert page.get_attribute("#endpoints", "role") == "list"
    assert page.locator("#endpoints [role=listitem][aria-label='GET /orders: 3 requests']").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "apianalytics-dashboard.png"), full_page=True)

    # Hostname filter: only admin.example.com.
    page.select_option("#hostname", "admin.example.com")
    expect(page.locator("#stat-requests")).to_have_text("3")
    page.wait_for_selector("body[data-state=\'loaded\']")
    assert page.get_attribute("#chart-requests", "data-total") == "3"
    assert page.text_content("#stat-success") == "100.0%"
    assert page.locator("#endpoints .bar-row").count() == 1

    # Date range: today only, all hostnames.
    page.select_option("#hostname", "")
    expect(page.locator("#stat-requests")).to_have_text("9")
    page.fill("#date-from", today)
    page.fill("#date-to", today)
    page.click("#load")
    expect(page.locator("#stat-requests")).to_have_text("6")
    assert page.get_attribute("#chart-requests", "data-total") == "6"
    page.screenshot(path=str(ARTIFACTS / "apianalytics-dashboard-filtered.png"), full_page=True)

    # Monitoring: register an endpoint from the page, then remove it.
    page.fill("#monitor-url", "http://127.0.0.1:9/other")
    page.select_option("#monitor-interval", "15")
    page.click("#add-monitor")
    expect(page.locator("#uptime-table tr")).to_have_count(2)
    listed = {m["url"]: m for m in key.get("/api/monitors").json()["data"]}
    assert listed["http://127.0.0.1:9/other"]["interval_minutes"] == 15
    page.locator("#uptime-table tr[data-url='http://127.0.0.1:9/other'] .remove-monitor").click()
    expect(page.locator("#uptime-table tr")).to_have_count(1)
    # A URL the API refuses: the page shows the API's message naming the field.
    page.fill("#monitor-url", "http://user:pw@example.com/")
    page.click("#add-monitor")
    page.wait_for_selector("body[data-state='error']")
    assert "url" in page.text_content("#error")

    # Delete all data (after confirming the browser's dialog).
    page.on("dialog", lambda d: d.accept())
    page.fill("#date-from", "")
    page.fill("#date-to", "")
    page.click("#delete-data")
    expect(page.locator("#stat-requests")).to_have_text("0")
    assert key.data() == []
    # Expected failures above (the refused monitor's 400) are the page reporting the API, not a bug.
    assert [e for e in errors if "400" not in e] == []
    page.close()
