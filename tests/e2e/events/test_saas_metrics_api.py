"""SaaS analysis (spec 003) end to end: events ingested over HTTP feed every operation; errors are
``{"type", "message"}``."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

A = "/api/analysis"


def _tenant() -> str:
    """Each test gets its own platform tenant, so counts are exact whatever else the session stored."""
    return "saas" + uuid.uuid4().hex[:10]


def _ingest(api: Any, tenant: str, events: list[dict[str, Any]]) -> None:
    for e in events:
        e.setdefault("tenantId", tenant)
    r = api.post("/api/analytics/events", json=events, tenant=tenant)
    assert r.status_code == 202, r.text


def _wait(fetch: Any, ok: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_page_statistics(api: Any) -> None:
    t = _tenant()
    base = datetime(2023, 12, 5, 12, tzinfo=UTC)
    views = [("/home", "u1"), ("/home", "u2"), ("/home", "u1"), ("/pricing", "u3"), ("/docs", "u1")]
    _ingest(api, t, [{"eventType": "page.viewed", "actorType": "CONTACT", "actorId": u, "attributes": {"page": p},
                      "occurredAt": (base + timedelta(minutes=i)).isoformat()} for i, (p, u) in enumerate(views)]
            + [{"eventType": "page.viewed", "actorId": "u9", "attributes": {"page": "/home"},
                "occurredAt": "2024-02-01T00:00:00Z"}])  # outside the period
    params = {"start_timestamp": 1701388800, "end_timestamp": 1704067199}
    r = _wait(lambda: api.get(f"{A}/page-statistics", params=params, tenant=t),
              lambda r: r.status_code != 200 or r.json()["total_page_views"] >= 5)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "start_date": 1701388800, "end_date": 1704067199, "total_page_views": 5, "total_unique_users": 3,
        "page_statistics": [{"page": "/home", "page_views": 3, "unique_users": 2},
                            {"page": "/docs", "page_views": 1, "unique_users": 1},
                            {"page": "/pricing", "page_views": 1, "unique_users": 1}],
    }
    bad = api.get(f"{A}/page-statistics", params={"start_timestamp": "yesterday", "end_timestamp": 1}, tenant=t)
    assert bad.status_code == 400
    assert bad.json()["type"] == "invalid_parameter" and "start_timestamp" in bad.json()["message"]
    missing = api.get(f"{A}/page-statistics", params={"start_timestamp": 1}, tenant=t)
    assert missing.status_code == 400 and "end_timestamp" in missing.json()["message"]
    backwards = api.get(f"{A}/page-statistics", params={"start_timestamp": 10, "end_timestamp": 1}, tenant=t)
    assert backwards.status_code == 400


@pytest.mark.parametrize("metrics_type,event_type", [
    ("create_tenant", "tenant.created"), ("create_saas_user", "saas_user.created"),
    ("create_tenant_user", "tenant_user.created"),
])
def test_metrics_every_type(api: Any, metrics_type: str, event_type: str) -> None:
    t = _tenant()
    s1, s2 = str(uuid.uuid4()), str(uuid.uuid4())
    _ingest(api, t, [
        {"eventType": event_type, "occurredAt": "2025-01-01T10:00:00Z", "attributes": {"tenant_id": s1}},
        {"eventType": event_type, "occurredAt": "2025-01-01T11:00:00Z", "attributes": {"tenant_id": s2}},
        {"eventType": event_type, "occurredAt": "2025-01-03T23:59:59Z", "attributes": {"tenant_id": s1}},
        {"eventType": "other.thing", "occurredAt": "2025-01-02T10:00:00Z", "attributes": {"tenant_id": s1}},
    ])
    params = {"metrics_type": metrics_type, "start_date": "2025-01-01", "end_date": "2025-01-03"}
    r = _wait(lambda: api.get(f"{A}/metrics", params=params, tenant=t),
              lambda r: sum(m["count"] for m in r.json()["metrics"]) >= 3)
    assert r.status_code == 200, r.text
    assert r.json()["metrics"] == [{"date": "2025-01-01", "count": 2}, {"date": "2025-01-02", "count": 0},
                                   {"date": "2025-01-03", "count": 1}]
    # tenant_ids as a repeated parameter: one row per tenant and day.
    r = api.get(f"{A}/metrics", params={**params, "tenant_ids": [s1]}, tenant=t)
    assert r.status_code == 200, r.text
    assert [m["count"] for m in r.json()["metrics"]] == [1, 0, 1]
    assert {m["tenant_id"] for m in r.json()["metrics"]} == {s1}


def test_metrics_validation(api: Any) -> None:
    t = _tenant()
    r = api.get(f"{A}/metrics", params={"metrics_type": "create_universe", "start_date": "2025-01-01",
                                        "end_date": "2025-01-31"}, tenant=t)
    assert r.status_code == 400 and r.json()["type"] == "invalid_parameter"
    assert "metrics_type" in r.json()["message"]
    assert set(r.json()) == {"type", "message"}
    r = api.get(f"{A}/metrics", params={"metrics_type": "create_tenant", "start_date": "2025-13-01",
                                        "end_date": "2025-01-31"}, tenant=t)
    assert r.status_code == 400 and "start_date" in r.json()["message"]
    r = api.get(f"{A}/metrics", params={"metrics_type": "create_tenant", "start_date": "2025-01-01"}, tenant=t)
    assert r.status_code == 400 and "end_date" in r.json()["message"]
    r = api.get(f"{A}/metrics", params={"metrics_type": "create_tenant", "start_date": "2025-01-01",
                                        "end_date": "2025-01-02", "tenant_ids": "not-a-uuid"}, tenant=t)
    assert r.status_code == 400 and "tenant_ids" in r.json()["message"]
    r = api.get(f"{A}/metrics", params={"metrics_type": "create_tenant"}, tenant=None)
    assert r.status_code == 401
    r = api.get(f"{A}/metrics", params={"metrics_type": "create_tenant", "start_date": "2025-01-01",
                                        "end_date": "2025-01-02"}, tenant=t, headers={"x-tenant-uuid": "someone-else"})
    assert r.status_code == 403 and r.json()["type"] == "permission_denied"


def test_userinfo_calls(api: Any) -> None:
    t = _tenant()
    s1 = str(uuid.uuid4())
    _ingest(api, t, [{"eventType": "userinfo.called", "occurredAt": f"2025-01-0{d}T08:00:00Z",
                      "attributes": {"tenant_id": s1}} for d in (1, 1, 2)])
    params = {"start_date": "2025-01-01", "end_date": "2025-01-02", "tenant_ids": s1}
    r = _wait(lambda: api.get(f"{A}/userinfo-calls", params=params, tenant=t),
              lambda r: sum(m["count"] for m in r.json()["metrics"]) >= 3)
    assert r.status_code == 200, r.text
    assert r.json() == {"metrics": [{"date": "2025-01-01", "tenant_id": s1, "count": 2},
                                    {"date": "2025-01-02", "tenant_id": s1, "count": 1}]}
    assert api.get(f"{A}/userinfo-calls", params={"start_date": "2025-01-01"}, tenant=t).status_code == 400


def test_active_users_computed_and_upserted(api: Any) -> None:
    t = _tenant()
    s1 = str(uuid.uuid4())
    ev = [("2025-01-01T01:00:00Z", "u1", "CONTACT", "1"), ("2025-01-01T02:00:00Z", "u1", "CONTACT", "1"),
          ("2025-01-01T03:00:00Z", "u2", "TENANT_STAFF", "2"), ("2025-01-02T03:00:00Z", "u3", "CONTACT", "1"),
          ("2025-01-02T04:00:00Z", "sys", "SYSTEM", "1"), ("2025-02-10T04:00:00Z", "u4", "CONTACT", "1")]
    _ingest(api, t, [{"eventType": "login.success", "occurredAt": ts, "actorId": u, "actorType": at,
                      "attributes": {"tenant_id": s1, "env_id": env}} for ts, u, at, env in ev])
    daily = {"type": "daily", "date_from": "2025-01-01", "date_to": "2025-01-03"}
    r = _wait(lambda: api.get(f"{A}/active-users", params=daily, tenant=t),
              lambda r: [d["active_users"] for d in r.json()["data"]] == [2, 1, 0])
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [{"date": "2025-01-01", "active_users": 2, "source": "events"},
                                {"date": "2025-01-02", "active_users": 1, "source": "events"},
                                {"date": "2025-01-03", "active_users": 0, "source": "events"}]
    monthly = api.get(f"{A}/active-users", params={"type": "monthly", "date_from": "2025-01", "date_to": "2025-02"},
                      tenant=t).json()["data"]
    assert [(d["date"], d["active_users"]) for d in monthly] == [("2025-01", 3), ("2025-02", 1)]
    env1 = api.get(f"{A}/active-users", params={**daily, "tenant_id": s1, "env_id": 1}, tenant=t).json()["data"]
    assert [d["active_users"] for d in env1] == [1, 1, 0]
    assert env1[0]["tenant_id"] == s1 and env1[0]["env_id"] == 1
    # Upsert: a hand-set value wins over the computed one, and a second PUT replaces the first.
    body = {"type": "daily", "date": "2025-01-03", "tenant_id": s1, "env_id": 1, "active_users": 100}
    assert api.put(f"{A}/active-users", json=body, tenant=t).status_code == 200
    assert api.put(f"{A}/active-users", json={**body, "active_users": 120}, tenant=t).status_code == 200
    env1 = api.get(f"{A}/active-users", params={**daily, "tenant_id": s1, "env_id": 1}, tenant=t).json()["data"]
    assert [(d["active_users"], d["source"]) for d in env1] == [(1, "events"), (1, "events"), (120, "manual")]
    # Validation: every parameter named.
    for params, field in [({"date_from": "2025-01-01"}, "type"),
                          ({"type": "weekly", "date_from": "2025-01-01"}, "type"),
                          ({"type": "daily"}, "date_from"), ({"type": "daily", "date_from": "2025-01"}, "date_from"),
                          ({"type": "monthly", "date_from": "2025-01-01"}, "date_from"),
                          ({"type": "daily", "date_from": "2025-01-01", "env_id": 1}, "env_id"),
                          ({"type": "daily", "date_from": "2025-01-01", "tenant_id": s1, "env_id": "x"}, "env_id")]:
        r = api.get(f"{A}/active-users", params=params, tenant=t)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["type"] == "invalid_parameter" and field in r.json()["message"], (params, r.json())
    no_env = {k: v for k, v in body.items() if k != "env_id"}
    for bad, field in [({**body, "type": "yearly"}, "type"), ({**body, "date": "2025-01"}, "date"),
                       ({**body, "active_users": -1}, "active_users"), (no_env, "env_id")]:
        r = api.put(f"{A}/active-users", json=bad, tenant=t)
        assert r.status_code == 400 and field in r.json()["message"], (bad, r.text)


def test_user_behavior_history(api: Any) -> None:
    t = _tenant()
    user = str(uuid.uuid4())
    now = int(datetime.now(UTC).timestamp())
    body = {"timestamp": now, "user_id": user, "histories": [
        {"action": "login"}, {"action": "view", "page": "/billing", "timestamp": now - 60}]}
    r = api.post(f"{A}/user-behavior", json=body, tenant=t)
    assert r.status_code == 200, r.text
    assert r.json() == {"user_id": user, "timestamp": now, "histories": 2}
    # Older than a month: not part of the history.
    _ingest(api, t, [{"eventType": "page.viewed", "actorId": user, "attributes": {"page": "/old"},
                      "occurredAt": (datetime.now(UTC) - timedelta(days=40)).isoformat()}])
    r = _wait(lambda: api.get(f"{A}/user-behavior/{user}", tenant=t), lambda r: len(r.json()["histories"]) >= 2)
    assert r.status_code == 200, r.text
    hist = r.json()["histories"]
    assert [(h["action"], h["page"], h["timestamp"]) for h in hist] == [("login", None, now),
                                                                         ("view", "/billing", now - 60)]
    assert all(h["event_type"] == "user.behavior" for h in hist)
    bad = api.post(f"{A}/user-behavior", json={"user_id": "nope", "histories": []}, tenant=t)
    assert bad.status_code == 400 and "timestamp" in bad.json()["message"] and "user_id" in bad.json()["message"]
