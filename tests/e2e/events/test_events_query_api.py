"""The query DSL end to end on both stores: the same events ingested over HTTP into a PostgreSQL tenant and
a ClickHouse tenant, every granularity, operator and aggregation queried over HTTP, identical results,
checked against values computed here in Python."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from events_e2e_helpers import wait_for_count

ET = "dsl" + uuid.uuid4().hex[:8] + ".created"
BASE = datetime(2026, 4, 1, tzinfo=UTC)
RANGE = {"from": "2026-04-01T00:00:00Z", "to": "2026-05-31T23:59:59Z"}
ACTORS = ["TS-A", "TS-B", "ts-c", "Z-D"]
PLANS = ["free", "pro", "Team"]


def _dataset(tenant: str) -> list[dict[str, Any]]:
    rnd = random.Random(42)
    events: list[dict[str, Any]] = []
    for i in range(120):
        ts = BASE + timedelta(days=rnd.randint(0, 58), hours=rnd.randint(0, 23), minutes=rnd.randint(0, 59),
                              seconds=rnd.randint(0, 59), milliseconds=rnd.randint(0, 999))
        ev: dict[str, Any] = {
            "eventId": str(uuid.UUID(int=rnd.getrandbits(128))), "eventType": ET, "tenantId": tenant,
            "occurredAt": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
            "actorType": rnd.choice(["TENANT_STAFF", "TENANT_STAFF", "CONTACT", "SYSTEM"]),
            "actorId": rnd.choice(ACTORS), "entityType": rnd.choice(["CONTACT", "NOTE"]),
            "entityId": f"C{rnd.randint(1, 15):03d}", "schemaVersion": rnd.choice([1, 1, 2]),
            "attributes": {"amount": str(rnd.randint(1, 200)), "plan": rnd.choice(PLANS)},
        }
        if i % 10 == 0:
            ev["attributes"] = {"amount": "n/a"}  # no plan; a non-numeric amount is ignored by SUM/AVG
        if i % 17 == 0:
            del ev["entityId"]
        events.append(ev)
    # An event of another type and one outside the range must never be counted.
    events.append({**events[1], "eventId": str(uuid.uuid4()), "eventType": ET + ".other"})
    events.append({**events[2], "eventId": str(uuid.uuid4()), "occurredAt": "2026-06-05T00:00:00Z"})
    return events


@pytest.fixture(scope="module")
def tenants(api: Any, clickhouse_tenant: str) -> dict[str, Any]:
    out = {}
    for tenant in ("demo", clickhouse_tenant):
        data = _dataset(tenant)
        r = api.post("/api/analytics/events", json=data, tenant=tenant)
        assert r.status_code == 202, r.text
        # Replaying the whole batch changes nothing (idempotent on eventId).
        assert api.post("/api/analytics/events", json=data[:30], tenant=tenant).status_code == 202
        out[tenant] = data
    for tenant in out:
        assert wait_for_count(api, ET, 120, tenant=tenant, time_range=(RANGE["from"], RANGE["to"])) == 120
    # Let the replayed copies reach the store too before comparing anything.
    import time

    time.sleep(1.5)
    return {"pg": "demo", "ch": clickhouse_tenant, "events": out["demo"][:120]}


def _query(api: Any, tenant: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post("/api/analytics/query", json={"eventType": ET, "timeRange": RANGE, **body}, tenant=tenant)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["stats"]["rowCount"] == len(out["rows"])
    assert isinstance(out["stats"]["queryTimeMs"], int)
    assert out["generatedAt"].endswith("Z")
    return out


def _both(api: Any, tenants: dict[str, Any], body: dict[str, Any]) -> list[list[Any]]:
    pg = _query(api, tenants["pg"], body)
    ch = _query(api, tenants["ch"], body)
    assert pg["columns"] == ch["columns"]
    assert pg["rows"] == ch["rows"], f"stores differ for {body}"
    return [r["values"] for r in pg["rows"]]


def _ts(ev: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(ev["occurredAt"].replace("Z", "+00:00"))


def test_spec_example_shape_and_values(api: Any, tenants: dict[str, Any]) -> None:
    body = {"granularity": "DAY", "filters": [{"field": "actorType", "op": "EQ", "value": "TENANT_STAFF"}],
            "groupBy": [{"field": "actorId"}],
            "aggregations": [{"function": "COUNT", "alias": "total_events"},
                             {"function": "COUNT", "field": "entityId", "alias": "unique_contacts", "distinct": True}],
            "sort": [{"field": "total_events", "ascending": False}], "limit": 100}
    out = _query(api, tenants["pg"], body)
    assert out["columns"] == [
        {"name": "time_bucket", "label": "Date", "type": "TIMESTAMP", "role": "TIME"},
        {"name": "actorId", "label": "Actor", "type": "STRING", "role": "DIMENSION"},
        {"name": "total_events", "label": "Total Events", "type": "NUMBER", "role": "METRIC", "primary": True},
        {"name": "unique_contacts", "label": "Unique Contacts", "type": "NUMBER", "role": "METRIC"},
    ]
    rows = _both(api, tenants, body)
    expected: dict[tuple[str, str], list[Any]] = {}
    for ev in tenants["events"]:
        if ev["actorType"] != "TENANT_STAFF":
            continue
        key = (_ts(ev).strftime("%Y-%m-%dT00:00:00Z"), ev["actorId"])
        expected.setdefault(key, [0, set()])
        expected[key][0] += 1
        if ev.get("entityId"):
            expected[key][1].add(ev["entityId"])
    got = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    assert got == {k: (v[0], len(v[1])) for k, v in expected.items()}
    counts = [r[2] for r in rows]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("granularity,fmt", [
    ("NONE", None), ("MINUTE", "%Y-%m-%dT%H:%M:00Z"), ("HOUR", "%Y-%m-%dT%H:00:00Z"), ("DAY", "%Y-%m-%dT00:00:00Z"),
    ("WEEK", "week"), ("MONTH", "%Y-%m-01T00:00:00Z"),
])
def test_every_granularity(api: Any, tenants: dict[str, Any], granularity: str, fmt: str | None) -> None:
    rows = _both(api, tenants, {"granularity": granularity, "aggregations": [{"function": "COUNT", "alias": "n"}]})
    if fmt is None:
        assert rows == [[120]]
        return
    expected: dict[str, int] = {}
    for ev in tenants["events"]:
        ts = _ts(ev)
        monday = ts - timedelta(days=ts.weekday())
        key = monday.strftime("%Y-%m-%dT00:00:00Z") if fmt == "week" else ts.strftime(fmt)
        expected[key] = expected.get(key, 0) + 1
    assert {r[0]: r[1] for r in rows} == expected
    assert [r[0] for r in rows] == sorted(expected)  # default order: time ascending


def _match(ev: dict[str, Any], field: str, op: str, value: Any) -> bool:
    attrs = ev.get("attributes") or {}
    if field.startswith("attributes."):
        raw = attrs.get(field.split(".", 1)[1])
        if op in ("GT", "GTE", "LT", "LTE"):
            try:
                v: Any = float(raw) if raw is not None else None
            except ValueError:
                v = None
        else:
            v = raw
    elif field == "occurredAt":
        v = _ts(ev)
        value = [datetime.fromisoformat(x.replace("Z", "+00:00")) for x in value] if isinstance(value, list) \
            else datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        v = ev.get(field)
    if v is None:
        return False  # SQL: comparisons with NULL are never true
    return {"EQ": lambda: v == value, "NEQ": lambda: v != value, "GT": lambda: v > value, "GTE": lambda: v >= value,
            "LT": lambda: v < value, "LTE": lambda: v <= value, "IN": lambda: v in value,
            "NOT_IN": lambda: v not in value}[op]()


@pytest.mark.parametrize("field,op,value", [
    ("actorType", "EQ", "CONTACT"),
    ("entityType", "NEQ", "NOTE"),
    ("schemaVersion", "GT", 1),
    ("schemaVersion", "GTE", 2),
    ("attributes.amount", "LT", 50),
    ("attributes.amount", "LTE", 50),
    ("occurredAt", "GTE", "2026-05-01T00:00:00Z"),
    ("attributes.plan", "IN", ["pro", "Team"]),
    ("actorId", "NOT_IN", ["TS-A", "Z-D"]),
    ("attributes.plan", "EQ", "free"),
    ("entityId", "IN", ["C001", "C002", "C003"]),
])
def test_every_operator(api: Any, tenants: dict[str, Any], field: str, op: str, value: Any) -> None:
    rows = _both(api, tenants, {"filters": [{"field": field, "op": op, "value": value}],
                                "aggregations": [{"function": "COUNT", "alias": "n"}]})
    expected = sum(1 for ev in tenants["events"] if _match(ev, field, op, value))
    assert rows == [[expected]]
    assert 0 < expected < 120


def test_every_aggregation(api: Any, tenants: dict[str, Any]) -> None:
    body = {"groupBy": [{"field": "attributes.plan"}], "aggregations": [
        {"function": "COUNT", "alias": "n"},
        {"function": "COUNT", "field": "entityId", "alias": "with_entity"},
        {"function": "COUNT_DISTINCT", "field": "entityId", "alias": "entities"},
        {"function": "SUM", "field": "attributes.amount", "alias": "total"},
        {"function": "AVG", "field": "attributes.amount", "alias": "mean"},
        {"function": "MIN", "field": "attributes.amount", "alias": "smallest"},
        {"function": "MAX", "field": "occurredAt", "alias": "last_seen"},
        {"function": "MIN", "field": "actorId", "alias": "first_actor"},
        {"function": "SUM", "field": "schemaVersion", "alias": "versions"},
    ], "sort": [{"field": "attributes.plan", "ascending": True}]}
    out = _query(api, tenants["pg"], body)
    assert [c["type"] for c in out["columns"]] == ["STRING", "NUMBER", "NUMBER", "NUMBER", "NUMBER", "NUMBER",
                                                  "NUMBER", "TIMESTAMP", "STRING", "NUMBER"]
    rows = _both(api, tenants, body)
    groups: dict[Any, list[dict[str, Any]]] = {}
    for ev in tenants["events"]:
        groups.setdefault(ev["attributes"].get("plan"), []).append(ev)
    # Byte-wise order ("Team" < "free" < "pro"), NULLs last, on both stores.
    assert [r[0] for r in rows] == ["Team", "free", "pro", None]
    for row in rows:
        evs = groups[row[0]]
        amounts = [int(e["attributes"]["amount"]) for e in evs if e["attributes"]["amount"].isdigit()]
        assert row[1] == len(evs)
        assert row[2] == sum(1 for e in evs if e.get("entityId"))
        assert row[3] == len({e["entityId"] for e in evs if e.get("entityId")})
        assert row[4] == (sum(amounts) if amounts else None)
        assert row[5] == (pytest.approx(sum(amounts) / len(amounts)) if amounts else None)
        assert row[6] == (min(amounts) if amounts else None)
        last = max(_ts(e) for e in evs)
        assert row[7] == last.strftime("%Y-%m-%dT%H:%M:%S.") + f"{last.microsecond // 1000:03d}Z" or \
            row[7] == last.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert row[8] == min(e["actorId"] for e in evs)
        assert row[9] == sum(e["schemaVersion"] for e in evs)


def test_sort_and_limit(api: Any, tenants: dict[str, Any]) -> None:
    body = {"groupBy": [{"field": "entityId"}], "aggregations": [{"function": "COUNT", "alias": "n"}],
            "sort": [{"field": "n", "ascending": True}, {"field": "entityId", "ascending": False}], "limit": 5}
    rows = _both(api, tenants, body)
    assert len(rows) == 5
    counts = [r[1] for r in rows]
    assert counts == sorted(counts)
