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


def test_a_tenant_moves_to_clickhouse_online(api: Any, clickhouse_tenant: str, setting: Any, event_type: str) -> None:
    from telltale.events import move, stores

    setting("TELLTALE_EVENT_STORE_CACHE_S", "0")  # every process reads the placement afresh: no waits
    tenant = "mv" + uuid.uuid4().hex[:8]
    history = _events(tenant, event_type, 40)
    assert api.post("/api/analytics/events", json=history, tenant=tenant).status_code == 202
    assert wait_for_count(api, event_type, 40, tenant=tenant, time_range=(RANGE["from"], RANGE["to"])) == 40
    before = _by_day(api, tenant, event_type)
    assert not stores.uses_clickhouse(tenant)

    # While a move is on, a new event is written to both stores, PostgreSQL still the one read.
    move._place(tenant, "moving")
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

    refused = _move(clickhouse_tenant)  # a tenant the settings put on ClickHouse has nothing to move
    assert refused.returncode == 1 and "nothing in PostgreSQL to move" in refused.stderr
