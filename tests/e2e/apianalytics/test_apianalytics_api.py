"""The API request analytics service over HTTP: keys, ingestion, the data API's filters and errors,
privacy levels on what is stored, deletion, tenant isolation, dashboard stats and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/119.0.0.0 Safari/537.36")


def rec(**kw: Any) -> dict[str, Any]:
    base = {"path": "/a", "method": "GET", "status": 200, "response_time": 10,
            "created_at": datetime.now(UTC).isoformat(), "hostname": "h.example", "user_agent": CHROME_MAC}
    base.update(kw)
    return base


def ingest(key: Any, records: list[dict[str, Any]], privacy_level: int = 0, framework: str = "Tornado") -> None:
    r = key.post("/api/requests", json={"framework": framework, "privacy_level": privacy_level, "requests": records})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["stored"] == len(records)


def test_key_is_shown_once_and_stored_hashed(api, key, platform_db):
    assert key.key.startswith("tt_") and len(key.key) > 40
    row = platform_db.query_one("SELECT key_hash, tenant_id FROM platform.api_keys WHERE id = CAST(:i AS uuid)",
                                i=key.id)
    assert row["tenant_id"] == "demo" and key.key not in row["key_hash"] and len(row["key_hash"]) == 64
    listed = api.get("/api/keys")
    assert listed.status_code == 200 and key.id in {k["id"] for k in listed.json()["data"]}
    assert key.key not in listed.text
    assert api.post("/api/keys", tenant=None).status_code == 401


def test_x_auth_token_is_required_and_checked(api, key):
    for method, path in (("GET", "/api/data"), ("DELETE", "/api/data"), ("POST", "/api/requests"),
                         ("GET", "/api/stats"), ("GET", "/api/monitors"), ("GET", "/api/uptime")):
        missing = api.request(method, path, tenant=None, json={"requests": []})
        assert missing.status_code == 401 and "X-AUTH-TOKEN" in missing.json()["message"], (method, path)
        wrong = api.request(method, path, tenant=None, headers={"X-AUTH-TOKEN": "tt_not-a-key"}, json={"requests": []})
        assert wrong.status_code == 401, (method, path)


def test_ingest_validation_names_the_fields(key):
    r = key.post("/api/requests", json={"privacy_level": 3, "requests": [
        rec(status=42), rec(method="not a method"), rec(ip_address="300.1.1.1"), {"path": "/x"}]})
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert "privacy_level" in errors
    assert "requests.0.status" in errors and "requests.1.method" in errors
    assert "requests.3.created_at" in errors
    assert "requests.2.ip_address" not in errors  # a bad address costs its record only the IP (below)
    assert key.post("/api/requests", data="not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert key.data() == []


def test_a_value_that_is_not_an_ip_costs_only_that_field(key):
    """X-Forwarded-For: unknown, as a mapper may well return: five good records and one bad are all
    stored, the bad one without an IP (or a country)."""
    good = [rec(path=f"/ok{i}", ip_address="81.2.69.142") for i in range(5)]
    ingest(key, [*good, rec(path="/bad", ip_address="unknown")])
    rows = {r["path"]: r for r in key.data()}
    assert len(rows) == 6
    assert (rows["/bad"]["ip_address"], rows["/bad"]["location"], rows["/bad"]["status"]) == (None, None, 200)
    assert {(rows[f"/ok{i}"]["ip_address"], rows[f"/ok{i}"]["location"]) for i in range(5)} == {("81.2.69.142", "GB")}


def test_ip_addresses_are_matched_in_one_spelling(key):
    ingest(key, [rec(path="/v6", ip_address="2001:DB8:0:0::1"), rec(path="/v4", ip_address=" 8.8.8.8 ")])
    assert [r["ip_address"] for r in key.data(ipAddress="2001:db8::1")] == ["2001:db8::1"]
    assert [r["path"] for r in key.data(ipAddress="2001:0DB8::0001")] == ["/v6"]
    assert [r["path"] for r in key.data(ipAddress="8.8.8.8")] == ["/v4"]


def test_columnar_batches_as_the_client_sends_them(key):
    fields = ["created_at", "method", "path", "status", "response_time", "hostname", "user_agent", "user_id",
              "ip_address"]
    now = datetime.now(UTC).isoformat()
    r = key.post("/api/requests", json={"framework": "Tornado", "privacy_level": 1, "fields": fields, "rows": [
        [now, "GET", "/c", 200, 5, "h.example", CHROME_MAC, "u1", "81.2.69.142"],
        [now, "POST", "/c", 503, 7, "h.example", None, None, None]]})
    assert r.status_code == 201, r.text
    rows = sorted(key.data(), key=lambda x: x["method"])
    assert [(x["method"], x["status"], x["user_id"], x["location"], x["ip_address"]) for x in rows] == [
        ("GET", 200, "u1", "GB", None), ("POST", 503, None, None, None)]
    row = [now, "GET", "/c", 999, 5, None, None, None, None]
    bad = key.post("/api/requests", json={"fields": fields, "rows": [row, [now, "GET"]]})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"rows.1"}
    bad = key.post("/api/requests", json={"fields": fields, "rows": [row]})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"rows.0.status"}
    bad = key.post("/api/requests", json={"fields": ["path", "colour"], "rows": []})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"fields"}


def test_data_filters_and_their_errors(key):
    day1 = datetime(2026, 1, 10, 12, tzinfo=UTC)
    day2 = day1 + timedelta(days=1)
    now = datetime.now(UTC)
    if day2 > now:  # the ingest API accepts a year back; keep the fixed days inside it
        day1, day2 = now - timedelta(days=3), now - timedelta(days=2)
    ingest(key, [
        rec(created_at=day1.isoformat(), hostname="a.example", ip_address="81.2.69.142", status=200, user_id="u1"),
        rec(created_at=day1.isoformat(), hostname="b.example", ip_address="8.8.8.8", status=500, path="/b"),
        rec(created_at=day2.isoformat(), hostname="a.example", ip_address="8.8.8.8", status=201, user_id="u1"),
    ])
    d1, d2 = day1.date().isoformat(), day2.date().isoformat()
    assert len(key.data()) == 3
    assert len(key.data(date=d1)) == 2 and len(key.data(date=d2)) == 1
    assert len(key.data(dateFrom=d2)) == 1 and len(key.data(dateTo=d1)) == 2
    assert len(key.data(dateFrom=d1, dateTo=d2)) == 3
    assert [r["path"] for r in key.data(hostname="b.example")] == ["/b"]
    assert len(key.data(ipAddress="8.8.8.8")) == 2
    assert [r["status"] for r in key.data(status=500)] == [500]
    assert len(key.data(location="GB")) == 1 and len(key.data(location="US")) == 2
    assert len(key.data(user_id="u1")) == 2
    assert key.data(page=2) == []
    rows = key.data(date=d1, hostname="a.example")
    assert len(rows) == 1 and rows[0]["browser"] == "Chrome" and rows[0]["os"] == "Mac OS X"
    assert "user_agent" not in rows[0]

    bad = key.get("/api/data", params={"page": "0", "date": "10/01/2026", "dateFrom": "x", "status": "999",
                                       "ipAddress": "nope", "location": "GBR"})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"page", "date", "dateFrom", "status", "ipAddress", "location"}
    backwards = key.get("/api/data", params={"dateFrom": d2, "dateTo": d1})
    assert backwards.status_code == 400 and "dateFrom" in backwards.json()["errors"]


def test_pages_hold_50000_rows(key):
    n = 50_001
    t = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for start in range(0, n, 5000):
        ingest(key, [rec(created_at=t, path=f"/p{i}") for i in range(start, min(n, start + 5000))])
    r = key.get("/api/data", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"
    assert len(r.json()) == 50_000
    assert len(key.data(page=2)) == 1
    # Uncompressed, a full page is over what a Lambda reply can carry: a 406 that says what to send.
    plain = key.get("/api/data", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 406, plain.status_code
    assert "Accept-Encoding: gzip" in plain.json()["message"] and "--compressed" in plain.json()["message"]
    small = key.get("/api/data", params={"page": "2"}, headers={"Accept-Encoding": "identity"})
    assert small.status_code == 200 and small.headers.get("content-encoding") is None and len(small.json()) == 1


def test_the_raw_user_agent_is_parsed_then_dropped(key, platform_db):
    """Spec 002 records the client's OS and browser, not the user agent string they come from."""
    ingest(key, [rec(user_agent=CHROME_MAC)])
    [row] = key.data()
    assert (row["browser"], row["os"]) == ("Chrome", "Mac OS X") and "user_agent" not in row
    columns = {r["column_name"] for r in platform_db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'platform'"
        " AND table_name = 'api_requests'")}
    assert "user_agent" not in columns and {"browser", "os"} <= columns


@pytest.mark.parametrize("level", [0, 1, 2])
def test_privacy_levels_on_what_is_stored(key, platform_db, level):
    ingest(key, [rec(ip_address="81.2.69.142")], privacy_level=level)
    row = key.data()[0]
    expected = {0: ("81.2.69.142", "GB"), 1: (None, "GB"), 2: (None, None)}[level]
    assert (row["ip_address"], row["location"]) == expected
    stored = platform_db.query("SELECT ip_address, location FROM platform.api_requests"
                               " WHERE api_key_id = CAST(:k AS uuid)", k=key.id)
    assert [(r["ip_address"], (r["location"] or "").strip() or None) for r in stored] == [expected]


def test_keys_are_isolated_per_key_and_tenant(new_key):
    mine, theirs = new_key("demo"), new_key("other")
    ingest(mine, [rec(path="/mine")])
    ingest(theirs, [rec(path="/theirs")])
    assert [r["path"] for r in mine.data()] == ["/mine"]
    assert [r["path"] for r in theirs.data()] == ["/theirs"]
    assert theirs.delete("/api/data").status_code == 200
    assert [r["path"] for r in mine.data()] == ["/mine"]


def test_delete_removes_all_data_of_the_key(key):
    ingest(key, [rec(), rec(path="/b")])
    r = key.delete("/api/data")
    assert r.status_code == 200 and r.json()["data"]["deleted"]["requests"] == 2
    assert key.data() == []
    ingest(key, [rec()])  # the key itself still works
    assert len(key.data()) == 1


def test_delete_refuses_parameters_rather_than_delete_more_than_asked(key):
    ingest(key, [rec(), rec(path="/b")])
    r = key.delete("/api/data?date=2024-01-01")
    assert r.status_code == 400 and "date" in r.json()["errors"]
    assert len(key.data()) == 2  # nothing was deleted


def test_stats_for_the_dashboard(key):
    t = datetime.now(UTC) - timedelta(minutes=5)
    ingest(key, [
        rec(created_at=t.isoformat(), response_time=10, ip_address="81.2.69.142"),
        rec(created_at=t.isoformat(), response_time=20, ip_address="8.8.8.8", status=404, path="/nope"),
        rec(created_at=t.isoformat(), response_time=30, ip_address="8.8.8.8", hostname="other.example"),
        rec(created_at=t.isoformat(), response_time=40, user_id="carol"),
    ])
    r = key.get("/api/stats")
    assert r.status_code == 200, r.text
    s = r.json()["data"]
    assert s["totals"]["requests"] == 4 and s["totals"]["success_rate"] == 0.75
    assert s["totals"]["users"] == 3  # 81.2.69.142, 8.8.8.8, carol
    assert s["totals"]["p50"] == 25 and s["totals"]["avg_response_time"] == 25
    assert sum(p["requests"] for p in s["timeline"]["points"]) == 4 and s["timeline"]["bucket"] == "hour"
    assert {(e["path"], e["requests"]) for e in s["endpoints"]} == {("/a", 3), ("/nope", 1)}
    assert {c["status"]: c["requests"] for c in s["status_codes"]} == {200: 3, 404: 1}
    assert {x["name"]: x["requests"] for x in s["locations"]} == {"US": 2, "GB": 1, None: 1}
    assert s["browsers"][0] == {"name": "Chrome", "requests": 4}
    assert sorted(s["hostnames"]) == ["h.example", "other.example"]
    only = key.get("/api/stats", params={"hostname": "other.example"}).json()["data"]
    assert only["totals"]["requests"] == 1 and sorted(only["hostnames"]) == ["h.example", "other.example"]
    assert key.get("/api/stats", params={"dateFrom": "bad"}).status_code == 400


def test_retention_deletes_keys_idle_for_six_months(api, local_stack, new_key, platform_db):
    idle, active = new_key(), new_key()
    ingest(idle, [rec()])
    ingest(active, [rec()])
    platform_db.query("UPDATE platform.api_keys SET last_used_at = now() - interval '6 months 1 day'"
                      " WHERE id = CAST(:i AS uuid)", i=idle.id)
    result = local_stack.runtime.invoke(local_stack.template.function("retention"), {})
    assert result["keys_deleted"] >= 1
    assert idle.get("/api/data").status_code == 401
    assert platform_db.query("SELECT 1 FROM platform.api_requests WHERE api_key_id = CAST(:i AS uuid)", i=idle.id) == []
    assert len(active.data()) == 1


def test_out_of_range_and_unknown_parameters_are_400s_naming_them(key, monkeypatch):
    mid = key.post("/api/monitors", json={"url": "http://127.0.0.1:9/health"}).json()["data"]["id"]
    cases = [
        ("/api/data", {"date": "9999-12-31"}, {"date"}),
        ("/api/data", {"dateTo": "9999-12-31"}, {"dateTo"}),
        ("/api/stats", {"date": "9999-12-31"}, {"date"}),
        ("/api/stats", {"dateFrom": "0001-01-01", "dateTo": "9999-12-31"}, {"dateFrom", "dateTo"}),
        ("/api/data", {"page": "100000000000000000000"}, {"page"}),
        ("/api/data", {"status": "\uff12\uff10\uff10"}, {"status"}),  # full-width 200
        ("/api/data", {"page": "\uff11"}, {"page"}),
        ("/api/data", {"statuss": "200"}, {"statuss"}),
        ("/api/stats", {"hostnme": "a"}, {"hostnme"}),
        ("/api/uptime", {"dateTo": "9999-12-31"}, {"dateTo"}),
        ("/api/uptime", {"dateFrom": "20240101"}, {"dateFrom"}),
        ("/api/uptime", {"hostname": "a"}, {"hostname"}),
        (f"/api/monitors/{mid}/results", {"dateTo": "9999-12-31"}, {"dateTo"}),
        (f"/api/monitors/{mid}/results", {"limit": "\uff15"}, {"limit"}),
    ]
    for path, params, names in cases:
        r = key.get(path, params=params)
        assert r.status_code == 400, (path, params, r.status_code, r.text)
        assert set(r.json()["errors"]) == names, (path, params, r.text)
        assert all(n in r.json()["message"] for n in names)
    unknown = key.get("/api/data", params={"statuss": "200"}).json()["errors"]["statuss"][0]
    assert "accepted: page, date, dateFrom, dateTo, hostname, ipAddress, status, location, user_id" in unknown
    assert key.get("/api/data", params={"dateTo": "9998-12-31", "page": "20000"}).status_code == 200
    assert key.get("/api/uptime", params={"dateFrom": "2026-01-01", "dateTo": "9998-12-31"}).status_code == 200


def test_a_revoked_key_stops_working_at_once(api, new_key, platform_db):
    mine, theirs = new_key("demo"), new_key("other")
    ingest(mine, [rec()])
    assert len(mine.data()) == 1
    # Another tenant cannot revoke it (404, as for a key that does not exist), nor can an anonymous caller.
    assert api.delete(f"/api/keys/{mine.id}", tenant="other").status_code == 404
    assert api.delete(f"/api/keys/{mine.id}", tenant=None).status_code == 401
    assert api.delete("/api/keys/not-a-uuid").status_code == 404
    assert len(mine.data()) == 1

    r = api.delete(f"/api/keys/{mine.id}", tenant="demo")
    assert r.status_code == 200, r.text
    for method, path in (("GET", "/api/data"), ("POST", "/api/requests"), ("GET", "/api/stats")):
        gone = api.request(method, path, tenant=None, headers=mine.headers, json={"requests": [rec()]})
        assert gone.status_code == 401, (method, path, gone.text)
    assert mine.id not in {k["id"] for k in api.get("/api/keys").json()["data"]}
    assert platform_db.query("SELECT 1 FROM platform.api_requests WHERE api_key_id = CAST(:k AS uuid)",
                             k=mine.id) == []
    assert api.delete(f"/api/keys/{mine.id}", tenant="demo").status_code == 404
    assert len(theirs.data()) == 0 and theirs.get("/api/data").status_code == 200
