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


IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.1 Mobile/15E148 Safari/604.1")


def _bars(page: Any, panel: str) -> dict[str, str]:
    rows = page.locator(f"#{panel} .bar-row")
    names = rows.evaluate_all("rs => rs.map(r => r.dataset.name)")
    counts = rows.evaluate_all("rs => rs.map(r => r.dataset.count)")
    return dict(zip(names, counts, strict=True))


def _png(path: Path) -> tuple[int, int]:
    """A screenshot's width and height, read from its PNG header (so a blank or missing file fails)."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_dashboard_parity_panels_drill_down_explorer_and_hints(api, key, new_key, browser):
    """What the peer's dashboard shows, from data an api-analytics client sent to /api/log-request."""
    from playwright.sync_api import expect

    t10 = (datetime.now(UTC) - timedelta(days=1)).replace(hour=10, minute=5, second=0, microsecond=0)
    t15 = t10.replace(hour=15)
    reqs = []
    for _ in range(60):
        reqs.append({"path": "/v1/items", "method": "GET", "status": 200, "response_time": 20,
                     "hostname": "api.example", "ip_address": "81.2.69.142", "user_agent": UA, "user_id": "alice",
                     "created_at": t10.isoformat()})
    for _ in range(40):
        reqs.append({"path": "/v2/orders", "method": "POST", "status": 201, "response_time": 300,
                     "hostname": "api.example", "ip_address": "81.2.69.142", "user_agent": IPHONE, "user_id": "bob",
                     "created_at": t15.isoformat()})
    for i in range(20):
        reqs.append({"path": "/health", "method": "GET", "status": 503 if i < 5 else 200, "response_time": 3000,
                     "hostname": "api.example", "ip_address": "8.8.8.8", "user_agent": None, "user_id": None,
                     "created_at": t15.isoformat()})
    r = api.post("/api/log-request", tenant=None, json={"api_key": key.key, "framework": "FastAPI",
                                                        "privacy_level": 0, "requests": reqs})
    assert r.status_code == 201 and r.json()["stored"] == 120, r.text

    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    assert page.goto(api.url + "/dashboard").status == 200
    page.wait_for_selector("body[data-state='ready']")
    # The empty page says how to get a key.
    assert page.locator("#key-hint").is_visible() and "POST /api/keys" in page.text_content("#key-hint")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "apianalytics-dashboard-empty.png"))

    page.fill("#api-key", key.key)
    page.click("#load")
    page.wait_for_selector("body[data-state='loaded']")
    assert not page.locator("#key-hint").is_visible() and not page.locator("#empty-hint").is_visible()
    day = t10.date().isoformat()
    assert page.text_content("#range") == f"Showing all time: {day} to {day} (UTC)"
    assert page.text_content("#stat-requests") == "120"
    # Activity: ISO weekday and UTC hour of each request.
    wd = t10.isoweekday()
    cell = page.locator(f"#activity td[data-weekday='{wd}'][data-hour='10']")
    assert cell.get_attribute("data-count") == "60"
    assert page.locator(f"#activity td[data-weekday='{wd}'][data-hour='15']").get_attribute("data-count") == "60"
    assert page.get_attribute("#activity", "data-total") == "120"
    assert page.locator("#activity td").count() == 7 * 24
    assert _bars(page, "response-times") == {"0-50 ms": "60", "250-500 ms": "40", "2,500 ms and over": "20"}
    assert _bars(page, "devices") == {"desktop": "60", "mobile": "40", "unknown": "20"}
    assert _bars(page, "versions") == {"v1": "60", "v2": "40"}
    assert _bars(page, "users") == {"alice": "60", "bob": "40", "8.8.8.8": "20"}

    # The raw-request explorer: 50 rows a view, paged.
    assert page.locator("#requests-table tr").count() == 50
    assert page.text_content("#page-info") == "Rows 1-50 of 120"
    assert page.is_disabled("#prev-page")
    first = page.locator("#requests-table tr").first.locator("td").all_text_contents()
    assert first[1:5] == ["GET", "/v1/items", "200", "20 ms"] and first[5:9] == ["api.example", "81.2.69.142", "GB",
                                                                                "alice"]
    page.click("#next-page")
    expect(page.locator("#page-info")).to_have_text("Rows 51-100 of 120")
    page.click("#next-page")
    expect(page.locator("#page-info")).to_have_text("Rows 101-120 of 120")
    assert page.locator("#requests-table tr").count() == 20 and page.is_disabled("#next-page")
    page.click("#prev-page")
    expect(page.locator("#page-info")).to_have_text("Rows 51-100 of 120")
    page.fill("#x-status", "503")
    page.click("#x-apply")
    expect(page.locator("#page-info")).to_have_text("Rows 1-5 of 5")
    assert set(page.locator("#requests-table tr td:nth-child(3)").all_text_contents()) == {"/health"}
    page.fill("#x-status", "")
    page.click("#x-apply")
    expect(page.locator("#page-info")).to_have_text("Rows 1-50 of 120")
    page.screenshot(path=str(ARTIFACTS / "apianalytics-dashboard-parity.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / "apianalytics-dashboard-parity-top.png"))  # docs/images/ holds a copy
    for panel in ("activity", "response-times", "devices", "versions", "users", "requests-table"):
        shot = ARTIFACTS / f"apianalytics-panel-{panel}.png"
        page.locator(f"#{panel}").screenshot(path=str(shot))
        w, h = _png(shot)
        assert w > 50 and h > 10, (panel, w, h)

    # Endpoint drill-down: a click filters everything to it; "Show all endpoints" undoes it.
    page.locator("#endpoints .bar-row[data-name='POST /v2/orders']").click()
    expect(page.locator("#stat-requests")).to_have_text("40")
    page.wait_for_selector("body[data-state='loaded']")
    assert page.text_content("#drill-name") == "POST /v2/orders" and page.locator("#drill").is_visible()
    assert _bars(page, "devices") == {"mobile": "40"} and _bars(page, "versions") == {"v2": "40"}
    assert page.text_content("#page-info") == "Rows 1-40 of 40"
    assert page.get_attribute("#activity", "data-total") == "40"
    page.screenshot(path=str(ARTIFACTS / "apianalytics-dashboard-drilldown.png"), full_page=True)
    page.click("#drill-clear")
    expect(page.locator("#stat-requests")).to_have_text("120")
    page.wait_for_selector("body[data-state='loaded']")
    assert not page.locator("#drill").is_visible()

    # A chosen date range is shown as chosen.
    page.fill("#date-from", day)
    page.fill("#date-to", day)
    page.click("#load")
    expect(page.locator("#range")).to_have_text(f"Showing {day} to {day} (UTC)")
    page.wait_for_selector("body[data-state='loaded']")
    assert page.text_content("#stat-requests") == "120"

    # A key with nothing logged: the empty hint says what to check.
    empty = new_key(name="empty")
    page.fill("#date-from", "")
    page.fill("#date-to", "")
    page.fill("#api-key", empty.key)
    page.click("#load")
    expect(page.locator("#stat-requests")).to_have_text("0")
    page.wait_for_selector("body[data-state='loaded']")  # the explorer loads after the stats
    assert page.locator("#empty-hint").is_visible() and "server URL" in page.text_content("#empty-hint")
    assert page.locator("#requests-empty").is_visible()
    assert _png(ARTIFACTS / "apianalytics-dashboard-parity.png")[1] > 1000
    assert errors == []
    page.close()
