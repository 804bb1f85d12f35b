"""Moving a tenant from PostgreSQL to ClickHouse, end to end: events ingested over HTTP, written to both
stores while the move is on, copied and verified day by day by `telltale events move-tenant` (the command,
in a process of its own), queried through the API with the same answers after the switch, and replays
after the move still counted once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from events_e2e_helpers import wait_for_count

ROOT = Path(__file__).resolve().parents[3]
RANGE = {"from": "2026-03-01T00:00:00Z", "to": "2026-05-31T23:59:59Z"}


def _events(tenant: str, event_type: str, n: int) -> list[dict[str, Any]]:
    base = datetime(2026, 3, 28, 22, tzinfo=UTC)  # across a month's end: two ClickHouse partitions
    return [{"eventId": str(uuid.uuid4()), "eventType": event_type, "tenantId": tenant,
             "occurredAt": (base + timedelta(hours=5 * i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
             "actorType": "TENANT_STAFF", "actorId": f"A{i % 3}", "attributes": {"plan": ["free", "pro"][i % 2]}}
            for i in range(n)]


def _by_day(api: Any, tenant: str, event_type: str) -> list[Any]:
    r = api.post("/api/analytics/query", tenant=tenant, json={
        "eventType": event_type, "timeRange": RANGE, "granularity": "DAY", "groupBy": [{"field": "attributes.plan"}],
        "aggregations": [{"function": "COUNT", "alias": "n"}, {"function": "COUNT_DISTINCT", "field": "actorId"}]})
    assert r.status_code == 200, r.text
    return [row["values"] for row in r.json()["rows"]]


def _move(tenant: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "telltale_local.cli", "events", "move-tenant", "--tenant", tenant],
                          cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300)


def _request_logger(api: Any, api_key: str) -> Any:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=6)

    def log(start: int, n: int) -> None:
        rows = [{"path": f"/v1/p{i % 4}", "method": "GET", "status": [200, 404, 500][i % 3], "response_time": 7 * i,
                 "hostname": "api.example.com", "ip_address": "81.2.69.142", "user_id": f"u{i % 5}",
                 "created_at": (base + timedelta(hours=3 * i)).isoformat()} for i in range(start, start + n)]
        r = api.post("/api/log-request", tenant=None,
                     json={"api_key": api_key, "framework": "Flask", "privacy_level": 0, "requests": rows})
        assert r.status_code == 201 and r.json()["stored"] == n, r.text
    return log


def _request_views(api: Any, api_key: str) -> tuple[Any, Any]:
    views = []
    for route in ("/api/data", "/api/stats"):
        r = api.get(route, tenant=None, headers={"X-AUTH-TOKEN": api_key})
        assert r.status_code == 200, r.text
        views.append(r.json())
    return views[0], views[1]


def test_a_tenant_moves_to_clickhouse_online(api: Any, clickhouse_tenant: str, setting: Any, event_type: str) -> None:
    from telltale.events import move, stores

    setting("TELLTALE_EVENT_STORE_CACHE_S", "0")  # every process reads the placement afresh: no waits
    tenant = "mv" + uuid.uuid4().hex[:8]
    history = _events(tenant, event_type, 40)
    assert api.post("/api/analytics/events", json=history, tenant=tenant).status_code == 202
    assert wait_for_count(api, event_type, 40, tenant=tenant, time_range=(RANGE["from"], RANGE["to"])) == 40
    before = _by_day(api, tenant, event_type)
    assert not stores.uses_clickhouse(tenant)

    # The tenant's API request log moves with its events: a key, and requests over a few days.
    made = api.post("/api/keys", tenant=tenant, json={"name": "move"})
    assert made.status_code == 201, made.text
    api_key = made.json()["data"]["api_key"]
    log = _request_logger(api, api_key)
    log(0, 30)

    # While a move is on, a new event is written to both stores, PostgreSQL still the one read.
    move._place(tenant, "moving")
    log(30, 5)  # and new requests too (PostgreSQL first, then ClickHouse with PostgreSQL's ids)
    requests_before = _request_views(api, api_key)
    during = _events(tenant, event_type, 41)[40:]
    assert api.post("/api/analytics/events", json=during, tenant=tenant).status_code == 202
    assert wait_for_count(api, event_type, 41, tenant=tenant, time_range=(RANGE["from"], RANGE["to"])) == 41
    deadline = time.monotonic() + 30  # the worker writes PostgreSQL first, then ClickHouse
    while sum(move._ch_days(tenant).values()) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(move._ch_days(tenant).values()) == 1
    before = _by_day(api, tenant, event_type)

    out = _move(tenant)  # resumes the move marked above: copies, verifies every day, switches reads
    assert out.returncode == 0, out.stderr + out.stdout
    assert "every day's PostgreSQL events in ClickHouse" in out.stdout and "reads now go to ClickHouse" in out.stdout
    assert stores.uses_clickhouse(tenant)
    assert move._pg_days(tenant) == move._ch_days(tenant) and sum(move._ch_days(tenant).values()) == 41
    assert _by_day(api, tenant, event_type) == before  # the same answers, now from ClickHouse
    from telltale.apianalytics import move as requests_move
    from telltale.apianalytics import stores as request_stores

    assert request_stores.uses_clickhouse(tenant) and "request log: 35 rows in PostgreSQL, 35 in" in out.stdout
    copy = requests_move.RequestLogCopy()
    assert copy.pg_days(tenant) == copy.ch_days(tenant)  # the dual-written five counted once
    assert _request_views(api, api_key) == requests_before  # /api/data and /api/stats, now from ClickHouse
    log(35, 2)  # after the move, ClickHouse alone
    assert sum(copy.ch_days(tenant).values()) == 37 and sum(copy.pg_days(tenant).values()) == 35

    # After the move: a replay of a moved event counts once, a new event counts.
    fresh = _events(tenant, event_type, 1)[0]
    assert api.post("/api/analytics/events", json=[history[0], fresh], tenant=tenant).status_code == 202
    assert wait_for_count(api, event_type, 42, tenant=tenant, time_range=(RANGE["from"], RANGE["to"])) == 42
    time.sleep(1)  # the replay's message too has been through the worker
    total = sum(row[-2] for row in _by_day(api, tenant, event_type))
    assert total == 42
    assert sum(move._pg_days(tenant).values()) == 41  # new events go to ClickHouse alone

    again = _move(tenant)  # running it again only verifies
    assert again.returncode == 0 and "moved already" in again.stdout, again.stderr + again.stdout
    # Deleting a moved tenant's data clears PostgreSQL's copy too: undoing the move brings nothing back.
    deleted = api.delete("/api/data", tenant=None, headers={"X-AUTH-TOKEN": api_key})
    assert deleted.status_code == 200 and deleted.json()["data"]["deleted"]["requests"] == 37, deleted.text
    assert copy.pg_days(tenant) == {} and copy.ch_days(tenant) == {}

    refused = _move(clickhouse_tenant)  # a tenant the settings put on ClickHouse has nothing to move
    assert refused.returncode == 1 and "nothing in PostgreSQL to move" in refused.stderr
