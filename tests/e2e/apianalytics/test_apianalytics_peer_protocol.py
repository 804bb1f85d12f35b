"""POST /api/log-request over HTTP, as tom-draper/api-analytics' clients speak it: the key in the body, the
peer's reply shape, privacy levels enforced here, bad rows skipped and counted, big batches stored whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")


def row(**kw: Any) -> dict[str, Any]:
    """One request as the peer's Python clients send it: naive local time (this machine's zone is UTC)."""
    base: dict[str, Any] = {"hostname": "api.example.com", "ip_address": "81.2.69.142", "path": "/v1/items",
                            "user_agent": CHROME_WIN, "method": "GET", "status": 200, "response_time": 12,
                            "user_id": None,
                            "created_at": datetime.now(UTC).replace(tzinfo=None).isoformat()}
    base.update(kw)
    return base


def log(api: Any, body: Any, headers: dict[str, str] | None = None) -> Any:
    return api.post("/api/log-request", tenant=None, json=body, headers=headers or {})


def body_for(key: Any, requests: list[Any], privacy_level: int = 0, framework: str = "Flask") -> dict[str, Any]:
    return {"api_key": key.key, "framework": framework, "privacy_level": privacy_level, "requests": requests}


def test_a_batch_is_stored_with_every_field_and_the_peer_reply(api, key):
    naive = datetime.now(UTC).replace(tzinfo=None, microsecond=123000) - timedelta(minutes=5)
    offset = "2026-01-01T00:00:00+01:00"
    if datetime.fromisoformat(offset) < datetime.now(UTC) - timedelta(days=300):
        offset = (datetime.now(UTC) - timedelta(days=2)).astimezone().replace(microsecond=0).isoformat()
    r = log(api, body_for(key, [
        row(created_at=naive.isoformat(), user_id="u-1"),
        row(path="/v2/orders", method="POST", status=503, response_time=250, ip_address="8.8.8.8",
            hostname="b.example", created_at=offset, user_agent=None),
        row(path="/z", created_at=naive.isoformat() + "Z", method="delete"),
    ], framework="Django"))
    assert r.status_code == 201, r.text
    assert r.json() == {"status": 201, "message": "API requests logged successfully.", "stored": 3, "skipped": 0}
    rows = {x["path"]: x for x in key.data()}
    assert {k: v for k, v in rows["/v1/items"].items() if k != "created_at"} == {
        "hostname": "api.example.com", "ip_address": "81.2.69.142", "path": "/v1/items", "method": "GET",
        "status": 200, "response_time": 12, "browser": "Chrome", "os": "Windows", "location": "GB",
        "user_id": "u-1", "framework": "Django"}
    assert datetime.fromisoformat(rows["/v1/items"]["created_at"]) == naive.replace(tzinfo=UTC)
    assert datetime.fromisoformat(rows["/z"]["created_at"]) == naive.replace(tzinfo=UTC)
    assert datetime.fromisoformat(rows["/v2/orders"]["created_at"]) == datetime.fromisoformat(offset)
    o = rows["/v2/orders"]
    assert (o["method"], o["status"], o["response_time"], o["hostname"], o["ip_address"], o["location"],
            o["browser"], o["os"]) == ("POST", 503, 250, "b.example", "8.8.8.8", "US", None, None)
    assert rows["/z"]["method"] == "DELETE"


def test_the_key_may_come_in_x_auth_token_and_the_body_key_wins(api, key, new_key):
    other = new_key(name="other")
    r = log(api, {"framework": "Express", "requests": [row(path="/h")]}, headers={"X-AUTH-TOKEN": key.key})
    assert r.status_code == 201, r.text
    r = log(api, body_for(other, [row(path="/b")]), headers={"X-AUTH-TOKEN": key.key})
    assert r.status_code == 201, r.text
    assert [x["path"] for x in key.data()] == ["/h"]
    assert [x["path"] for x in other.data()] == ["/b"]


def test_what_the_peer_refuses_whole_is_a_400_in_its_shape(api, key):
    cases = [
        ({"framework": "Flask", "requests": [row()]}, 401, "API key required"),
        ({"api_key": "", "framework": "Flask", "requests": [row()]}, 401, "API key required"),
        (body_for(key, []), 400, "Payload contains no logged requests."),
        ({"api_key": key.key, "framework": "Flask"}, 400, "Payload contains no logged requests."),
        ({"api_key": key.key, "requests": [row()]}, 400, "Unsupported API framework"),
        ({**body_for(key, [row()]), "privacy_level": "high"}, 400, "privacy_level"),
        ({**body_for(key, [row()]), "requests": "all"}, 400, "requests must be an array"),
        ([row()], 401, "API key required"),  # the key is judged first: nothing else is told without it
        (body_for(key, [row(status="ok"), "x"]), 400, "None of the 2 logged requests could be stored"),
    ]
    for body, status, message in cases:
        r = log(api, body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["status"] == status and message in r.json()["message"], (body, r.text)
    r = log(api, [row()], headers={"X-AUTH-TOKEN": key.key})
    assert r.status_code == 400 and "must be a JSON object" in r.json()["message"], r.text
    r = log(api, {"api_key": "tt_no-such-key", "framework": "Nope", "requests": "all"})
    assert r.status_code == 401, r.text  # a wrong key is not told what else is wrong
    # A body that cannot be read carries no key: a 401 without one, the 400 only for a caller with a key.
    for unreadable in ("{not json", b"\xa9\xfd\x64"):
        r = api.post("/api/log-request", tenant=None, data=unreadable, headers={"Content-Type": "application/json"})
        assert r.status_code == 401 and "X-AUTH-TOKEN" in r.json()["message"], r.text
        r = api.post("/api/log-request", tenant=None, data=unreadable,
                     headers={"Content-Type": "application/json", "X-AUTH-TOKEN": key.key})
        assert r.status_code == 400 and r.json()["status"] == 400, r.text
    r = api.post("/api/log-request", tenant=None, data=b"\xa9", headers={"X-AUTH-TOKEN": "tt_no-such-key"})
    assert r.status_code == 401, r.text  # a wrong key in the header is judged before the body
    unknown = log(api, {"api_key": "tt_no-such-key", "framework": "Flask", "requests": [row()]})
    assert unknown.status_code == 401 and unknown.json()["status"] == 401
    assert key.data() == []


@pytest.mark.parametrize(("level", "ip", "location"), [
    (0, "81.2.69.142", "GB"), (1, None, "GB"), (2, None, None), (7, None, None), (-1, "81.2.69.142", "GB")])
def test_privacy_levels_are_enforced_whatever_the_client_sent(api, key, level, ip, location):
    """The client sent the IP at every level here: level 1 keeps only its country, 2 (or more) neither."""
    r = log(api, body_for(key, [row(ip_address="81.2.69.142")], privacy_level=level))
    assert r.status_code == 201, r.text
    [stored] = key.data()
    assert (stored["ip_address"], stored["location"]) == (ip, location)
    assert key.data(ipAddress="81.2.69.142") == ([stored] if ip else [])


def test_rows_that_cannot_be_stored_are_skipped_and_counted(api, key):
    long = "/" + "p" * 400
    good = [
        row(path=long, hostname="h" * 300, user_id="u" * 300, user_agent="x" * 400),  # cut at 255
        row(path="/num-user", user_id=42),
        row(path="/bad-ip", ip_address="unknown"),
        row(path="/float", response_time=12.6, status=200.0),
        row(path="/empty", hostname="", user_agent="", user_id="", ip_address=""),
        row(path="/propfind", method="PROPFIND"),
        row(path="/no-ua", user_agent=None, hostname=None),
    ]
    bad_rows = [
        row(status="200"),  # a string: in the peer, this fails the binding of the whole batch
        row(path=""),
        row(created_at="yesterday"),
        row(created_at=None),
        row(path="/nul\x00"),
        row(response_time=-1),
        row(method=5),
        "not a row",
        row(status=42),
        row(created_at=(datetime.now(UTC) + timedelta(days=3)).isoformat()),
        {k: v for k, v in row().items() if k != "path"},
    ]
    rows: list[Any] = []
    bad: set[int] = set()
    for i in range(max(len(good), len(bad_rows))):  # good and bad interleaved
        rows.extend(good[i:i + 1])
        if i < len(bad_rows):
            bad.add(len(rows))
            rows.append(bad_rows[i])
    r = log(api, body_for(key, rows))
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["status"], body["stored"], body["skipped"]) == (201, len(good), len(bad))
    assert set(body["errors"]) == {f"requests.{i}" for i in bad}
    first_bad, third_bad = sorted(bad)[0], sorted(bad)[2]
    assert "status" in body["errors"][f"requests.{first_bad}"][0]
    assert "created_at" in body["errors"][f"requests.{third_bad}"][0]
    stored = {x["path"]: x for x in key.data()}
    assert set(stored) == {long[:255], "/num-user", "/bad-ip", "/float", "/empty", "/propfind", "/no-ua"}
    cut = stored[long[:255]]
    assert (len(cut["hostname"]), len(cut["user_id"])) == (255, 255)
    assert stored["/num-user"]["user_id"] == "42"
    assert (stored["/bad-ip"]["ip_address"], stored["/bad-ip"]["location"]) == (None, None)
    assert (stored["/float"]["response_time"], stored["/float"]["status"]) == (13, 200)
    e = stored["/empty"]
    assert (e["hostname"], e["user_id"], e["ip_address"], e["browser"]) == (None, None, None, None)
    assert stored["/propfind"]["method"] == "PROPFIND"


def test_twenty_thousand_requests_with_a_few_bad_rows_store_every_good_row(api, key):
    """One batch far over /api/requests' 5,000 (the peer's Python client sends a whole minute's worth, and
    the peer's server would drop all but 2,000): split server-side, nothing good lost."""
    n = 20_000
    t = (datetime.now(UTC) - timedelta(minutes=30)).replace(tzinfo=None).isoformat()
    bad_at = {17, 4_999, 5_000, 12_345, 19_999}
    rows = [row(path="/bad", status="x") if i in bad_at else
            {"hostname": "h", "ip_address": "8.8.8.8", "path": f"/r{i}", "user_agent": CHROME_WIN, "method": "GET",
             "status": 200, "response_time": i % 300, "user_id": f"u{i % 50}", "created_at": t}
            for i in range(n)]
    r = log(api, body_for(key, rows, framework="FastAPI"))
    assert r.status_code == 201, r.text
    assert (r.json()["stored"], r.json()["skipped"]) == (n - len(bad_at), len(bad_at))
    got = key.get("/api/data", headers={"Accept-Encoding": "gzip"})
    assert got.status_code == 200
    paths = {x["path"] for x in got.json()}
    assert paths == {f"/r{i}" for i in range(n) if i not in bad_at}


def test_the_data_api_takes_the_peer_servers_parameters_too(api, key):
    """ip and userID (the peer server's spellings of ipAddress and user_id) and compact=true (its column
    names first, then one array a row), beside spec 002's own."""
    r = log(api, body_for(key, [row(path="/a", ip_address="8.8.8.8", user_id="u-1"),
                                row(path="/b", ip_address="81.2.69.142", user_id="u-2"),
                                row(path="/c", ip_address="8.8.8.8", user_id="u-2")]))
    assert r.status_code == 201, r.text
    assert [x["path"] for x in key.data(ip="8.8.8.8")] == [x["path"] for x in key.data(ipAddress="8.8.8.8")]
    assert sorted(x["path"] for x in key.data(ip="8.8.8.8")) == ["/a", "/c"]
    assert sorted(x["path"] for x in key.data(userID="u-2")) == ["/b", "/c"]
    assert [x["path"] for x in key.data(userID="u-2", ip="8.8.8.8")] == ["/c"]
    assert len(key.data(ip="8.8.8.8", ipAddress="8.8.8.8")) == 2  # the same value twice is one filter

    compact = key.get("/api/data", params={"compact": "true", "userID": "u-2"})
    assert compact.status_code == 200, compact.text
    header, *rows = compact.json()
    assert header == ["created_at", "hostname", "ip_address", "path", "method", "status", "response_time", "browser",
                      "os", "location", "user_id", "framework"]
    plain = key.data(userID="u-2")
    assert rows == [[x[c] for c in header] for x in plain] and len(rows) == 2
    assert key.get("/api/data", params={"compact": "false"}).json() == key.data()

    bad = key.get("/api/data", params={"ip": "8.8.8.8", "ipAddress": "1.1.1.1", "userID": "a", "user_id": "b",
                                       "compact": "yes"})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"ip", "userID", "compact"}
    assert key.get("/api/data", params={"ip": "not-an-ip"}).status_code == 400
    stats = key.get("/api/stats", params={"userID": "u-2"})
    assert stats.status_code == 200 and stats.json()["data"]["totals"]["requests"] == 2
    assert key.get("/api/stats", params={"compact": "true"}).status_code == 400  # /api/data only


def test_stats_carry_what_the_peers_dashboard_draws(api, key):
    """Activity by day of week and hour, the response-time distribution, device types and API versions."""
    monday_10 = datetime.now(UTC).replace(hour=10, minute=5, second=0, microsecond=0)
    monday_10 -= timedelta(days=monday_10.weekday() + 7)  # last week's Monday, 10:05 UTC
    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/17.1 Mobile/15E148 Safari/604.1")
    r = log(api, body_for(key, [
        row(path="/v1/items", response_time=20, created_at=monday_10.isoformat()),
        row(path="/v1/items/3", response_time=120, created_at=monday_10.isoformat(), user_agent=iphone),
        row(path="/v2/orders", response_time=3000, created_at=(monday_10 + timedelta(days=2, hours=5)).isoformat()),
        row(path="/health", response_time=60, created_at=(monday_10 + timedelta(days=2, hours=5)).isoformat(),
            user_agent=None),
    ]))
    assert r.status_code == 201, r.text
    s = key.get("/api/stats")
    assert s.status_code == 200, s.text
    data = s.json()["data"]
    assert data["activity"] == [{"weekday": 1, "hour": 10, "requests": 2}, {"weekday": 3, "hour": 15, "requests": 2}]
    assert [b["requests"] for b in data["response_times"]] == [1, 1, 1, 0, 0, 0, 1]
    assert (data["response_times"][0]["from_ms"], data["response_times"][-1]["to_ms"]) == (0, None)
    assert {d["name"]: d["requests"] for d in data["devices"]} == {"desktop": 2, "mobile": 1, "unknown": 1}
    assert data["versions"] == [{"name": "v1", "requests": 2}, {"name": "v2", "requests": 1}]
    # One endpoint (the dashboard's drill-down): path and method narrow both /api/data and /api/stats.
    assert [x["path"] for x in key.data(path="/v1/items", method="get")] == ["/v1/items"]
    assert key.get("/api/stats", params={"path": "/v1/items/3"}).json()["data"]["totals"]["requests"] == 1
    assert key.data(path="/v1/items", method="POST") == []
    bad = key.get("/api/data", params={"method": "not a method"})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"method"}
    filtered = key.get("/api/stats", params={"status": "200", "user_id": "nobody"}).json()["data"]
    assert (filtered["activity"], filtered["devices"], filtered["versions"]) == ([], [], [])
