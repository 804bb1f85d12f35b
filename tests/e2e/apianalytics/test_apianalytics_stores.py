"""The request log on both stores, over HTTP: the same requests logged with a key of a PostgreSQL tenant
and of a ClickHouse tenant give the same /api/data and /api/stats, byte for byte, under every filter; the
rollups answer what the rows would (a filter they lack sends the same question to the rows); pages by
number and by cursor agree; deletion and revocation leave nothing behind on ClickHouse."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.4.0",
    None,
]
PATHS = ["/v1/items", "/v1/items/7", "/v2/orders", "/health", "/v10/x", "/A", "/a", "/ä"]


def requests_over(days: int, n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` varied requests (as the peer's clients send them) over the last ``days`` days: every
    dimension, NULLs included, ties in time, response times in every bucket."""
    rnd = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    out = []
    for i in range(n):
        at = now - timedelta(seconds=rnd.randrange(days * 86_400))
        if i % 50 == 1:
            at = datetime.fromisoformat(out[-1]["created_at"])  # the same instant as the one before
        out.append({
            "path": rnd.choice(PATHS), "method": rnd.choice(["GET", "GET", "POST", "DELETE"]),
            "status": rnd.choice([200, 200, 201, 304, 400, 404, 500, 503]),
            "response_time": rnd.choice([0, 3, 49, 50, 99, 100, 180, 250, 700, 999, 1000, 2499, 2500, 9000]),
            "hostname": rnd.choice(["api.example.com", "b.example", None]),
            "ip_address": rnd.choice(["81.2.69.142", "8.8.8.8", "2001:4860:4860::8888", None]),
            "user_agent": rnd.choice(AGENTS), "user_id": rnd.choice(["u1", "u2", "u3", None]),
            "created_at": at.isoformat(),
        })
    return out


def log(key: Any, rows: list[dict[str, Any]], privacy_level: int = 0) -> None:
    for start in range(0, len(rows), 20_000):
        r = key.api.post("/api/log-request", tenant=None, json={
            "api_key": key.key, "framework": "FastAPI", "privacy_level": privacy_level,
            "requests": rows[start:start + 20_000]})
        assert r.status_code == 201 and r.json()["skipped"] == 0, r.text[:500]


def get(key: Any, route: str, **params: Any) -> Any:
    r = key.get(route, params=params, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200, r.text[:500]
    return r


FILTERS: list[dict[str, str]] = [
    {}, {"status": "500"}, {"location": "gb"}, {"hostname": "b.example"}, {"path": "/v1/items", "method": "GET"},
    {"ipAddress": "8.8.8.8"}, {"user_id": "u2"}, {"ip": "81.2.69.142", "status": "200"},
    {"dateFrom": "{d3}", "dateTo": "{d1}"}, {"date": "{d0}"}, {"date": "{d0}", "userID": "u1"},
    {"dateFrom": "2000-01-01", "dateTo": "2000-01-02"}, {"status": "599"},
]


def _params(f: dict[str, str]) -> dict[str, str]:
    today = datetime.now(UTC).date()
    days = {f"{{d{i}}}": (today - timedelta(days=i)).isoformat() for i in range(5)}
    return {k: days.get(v, v) for k, v in f.items()}


def test_both_stores_answer_the_same_under_every_filter(new_key, clickhouse_request_tenant):
    pg, ch = new_key(), new_key(tenant=clickhouse_request_tenant)
    rows = requests_over(10, 3000)
    log(pg, rows)
    log(ch, rows)
    for f in FILTERS:
        p = _params(f)
        data = [get(k, "/api/data", **p).json() for k in (pg, ch)]
        assert data[0] == data[1], p
        compact = [get(k, "/api/data", compact="true", **p).json() for k in (pg, ch)]
        assert compact[0] == compact[1], p
        stats = [get(k, "/api/stats", **p).json()["data"] for k in (pg, ch)]
        assert stats[0] == stats[1], (p, _first_difference(stats[0], stats[1]))
    everything = get(pg, "/api/stats").json()["data"]
    assert everything["totals"]["requests"] == 3000 and len(get(pg, "/api/data").json()) == 3000
    assert {p["from_ms"] for p in everything["response_times"] if p["requests"]} == {0, 50, 100, 250, 500, 1000,
                                                                                       2500}
    assert {v["name"] for v in everything["versions"]} == {"v1", "v2", "v10"}


def _first_difference(a: Any, b: Any, where: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{where}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    return f"{where}: {a!r} != {b!r}"


def test_the_rollups_answer_what_the_rows_would(store_key):
    """Every request from one address: a filter on it (which the rollups lack, so the rows answer) must
    give what the unfiltered question (which the rollups answer) gives."""
    rows = [{**r, "ip_address": "81.2.69.142"} for r in requests_over(4, 1500, seed=11)]
    log(store_key, rows)
    from_rollups = get(store_key, "/api/stats").json()["data"]
    from_rows = get(store_key, "/api/stats", ipAddress="81.2.69.142").json()["data"]
    assert from_rollups == from_rows, _first_difference(from_rollups, from_rows)
    for f in ({"status": "404"}, {"date": _params({"d": "{d1}"})["d"]}, {"path": "/health", "location": "GB"}):
        a = get(store_key, "/api/stats", **f).json()["data"]  # type: ignore[arg-type]
        b = get(store_key, "/api/stats", ipAddress="81.2.69.142", **f).json()["data"]
        assert a == b, (f, _first_difference(a, b))
    assert from_rollups["totals"]["requests"] == 1500


def test_pages_by_number_and_by_cursor_agree_and_lose_nothing(store_key):
    # 50,000 a page: 100,003 requests over 3 days make three pages, the last of 3 rows.
    rows = requests_over(3, 100_003, seed=5)
    log(store_key, rows)
    first = get(store_key, "/api/data")
    assert len(first.json()) == 50_000 and first.headers["X-Page"] == "1"
    by_cursor = get(store_key, "/api/data", cursor=first.headers["X-Next-Cursor"])
    by_number = get(store_key, "/api/data", page="2")
    assert by_cursor.json() == by_number.json() and len(by_number.json()) == 50_000
    assert by_cursor.headers["X-Next-Cursor"] == by_number.headers["X-Next-Cursor"]
    last = get(store_key, "/api/data", cursor=by_number.headers["X-Next-Cursor"])
    assert len(last.json()) == 3 and "X-Next-Cursor" not in last.headers
    assert last.json() == get(store_key, "/api/data", page="3").json()
    assert get(store_key, "/api/data", page="4").json() == []
    everything = first.json() + by_number.json() + last.json()
    times = [r["created_at"] for r in everything]
    assert times == sorted(times)  # in time order, every row once: the ties of a shared instant too
    assert sorted((r["created_at"], r["path"], r["response_time"]) for r in everything) == sorted(
        (datetime.fromisoformat(r["created_at"]).strftime("%Y-%m-%dT%H:%M:%SZ"), r["path"], r["response_time"])
        for r in rows)
    # A filter the rollups lack pages by offset, a cursor by keyset: the same rows.
    some = get(store_key, "/api/data", user_id="u1")
    if "X-Next-Cursor" in some.headers:
        assert get(store_key, "/api/data", user_id="u1", cursor=some.headers["X-Next-Cursor"]).json() == \
            get(store_key, "/api/data", user_id="u1", page="2").json()


def test_a_bad_cursor_is_a_400_that_says_what_to_send(key):
    for params in ({"cursor": "not-a-cursor"}, {"cursor": "WyIyMDI2LTAzLTA1IiwiLTEiXQ"}):
        r = key.get("/api/data", params=params)
        assert r.status_code == 400 and "X-Next-Cursor" in r.json()["errors"]["cursor"][0], r.text
    r = key.get("/api/data", params={"cursor": "eyJhIjoxfQ", "page": "2"})
    assert r.status_code == 400 and "cursor" in r.json()["errors"], r.text


def test_deleting_and_revoking_leave_nothing_on_clickhouse(api, new_key, clickhouse_request_tenant, clickhouse_server):
    from telltale.platform.config import get_settings

    database = get_settings().clickhouse_database
    kept, emptied, revoked = (new_key(tenant=clickhouse_request_tenant) for _ in range(3))
    for k in (kept, emptied, revoked):
        log(k, requests_over(2, 40, seed=3))

    def counts(k: Any) -> tuple[int, int]:
        client = clickhouse_server.client()
        return tuple(int(client.query(f"SELECT count() FROM `{database}`.{t} WHERE api_key_id = {{k:String}}",
                                      parameters={"k": k.id}).result_rows[0][0])
                     for t in ("api_requests", "api_request_rollups"))

    assert counts(emptied)[0] == 40 and counts(emptied)[1] > 0
    r = emptied.delete("/api/data")
    assert r.status_code == 200 and r.json()["data"]["deleted"]["requests"] == 40, r.text
    assert counts(emptied) == (0, 0) and get(emptied, "/api/data").json() == []
    assert get(emptied, "/api/stats").json()["data"]["totals"]["requests"] == 0
    assert api.delete(f"/api/keys/{revoked.id}", tenant=clickhouse_request_tenant).status_code == 200
    assert counts(revoked) == (0, 0)
    assert counts(kept)[0] == 40 and len(get(kept, "/api/data").json()) == 40


def test_a_call_past_its_time_budget_is_a_503_that_says_what_to_narrow(store_key, setting):
    log(store_key, requests_over(2, 300, seed=9))
    assert get(store_key, "/api/stats").json()["data"]["totals"]["requests"] == 300
    # The budget covers every statement of a call together: a millisecond is spent after the first one.
    setting("TELLTALE_APIANALYTICS_QUERY_BUDGET_S", "0.001")
    r = store_key.get("/api/stats")
    assert r.status_code == 503 and "narrow the date range" in r.json()["message"], r.text[:300]
    setting("TELLTALE_APIANALYTICS_QUERY_BUDGET_S", "25")
    assert get(store_key, "/api/stats").json()["data"]["totals"]["requests"] == 300


def _forged(at: str, ident: str) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps([at, ident]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("at", "ident"), [
    ("2026-03-05T00:00:00+00:00", "9" * 39),                 # past UInt128 (ClickHouse's id type)
    ("2026-03-05T00:00:00+00:00", str(2**128)),
    ("0001-01-01T00:00:00+00:00", "1"),                      # before ClickHouse's DateTime64 range
    ("9999-12-31T23:59:59+00:00", "1"),                      # after it
    ("2026-03-05T00:00:00+00:00", "\u0661\u0662"),           # Arabic-Indic digits: int() reads them
])
def test_a_forged_cursor_is_a_400_on_both_stores(store_key, at, ident):
    """Cursors are not signed: what a client can forge must be a 400, never a 500 from a store that reads
    the value differently from Python (ClickHouse's UInt128 and DateTime64 have ranges, PostgreSQL's do not)."""
    log(store_key, requests_over(1, 3, seed=1))
    r = store_key.get("/api/data", params={"cursor": _forged(at, ident)})
    assert r.status_code == 400 and "cursor" in r.json()["errors"], r.text[:300]


def test_a_cursor_in_another_offset_reads_the_same_instant(store_key):
    rows = requests_over(1, 5, seed=2)
    log(store_key, rows)
    everything = get(store_key, "/api/data").json()
    first = datetime.fromisoformat(everything[0]["created_at"].replace("Z", "+00:00"))
    plus14 = first.astimezone(timezone(timedelta(hours=14))).isoformat()
    after = get(store_key, "/api/data", cursor=_forged(plus14, "0")).json()
    assert after == everything  # the same instant written at +14:00: every row at or after it
    # An id past both stores' ids (PostgreSQL's bigint; ClickHouse's, about 2^105) is bound as one: the rows after
    # that instant, never a 500. The first row's instant with a huge id skips just the rows of that instant.
    huge = _forged(everything[0]["created_at"].replace("Z", "+00:00"), str(2**127))
    skipped = get(store_key, "/api/data", cursor=huge).json()
    assert skipped == [r for r in everything if r["created_at"] > everything[0]["created_at"]]


def test_retention_clears_a_clickhouse_tenants_idle_keys(local_stack, new_key, platform_db, clickhouse_request_tenant,
                                                         clickhouse_server):
    from telltale.platform.config import get_settings

    idle, active = new_key(tenant=clickhouse_request_tenant), new_key(tenant=clickhouse_request_tenant)
    for k in (idle, active):
        log(k, requests_over(1, 20, seed=4))
    platform_db.query("UPDATE platform.api_keys SET last_used_at = now() - interval '6 months 1 day'"
                      " WHERE id = CAST(:i AS uuid)", i=idle.id)
    result = local_stack.runtime.invoke(local_stack.template.function("retention"), {})
    assert result["keys_deleted"] >= 1
    database, client = get_settings().clickhouse_database, clickhouse_server.client()
    left = {t: int(client.query(f"SELECT count() FROM `{database}`.{t} WHERE api_key_id = {{k:String}}",
                                parameters={"k": k.id}).result_rows[0][0])
            for k in (idle,) for t in ("api_requests", "api_request_rollups")}
    assert left == {"api_requests": 0, "api_request_rollups": 0}
    assert len(get(active, "/api/data").json()) == 20
