"""Product analytics (issue 14) end to end, against an oracle: a generator makes events for a few hundred
actors with known behaviour (ties on timestamps, events on day and week boundaries and outside the range,
null and SYSTEM actors, replays of the same eventId), plain Python computes each metric from its definition
(docs/product-analytics.md), and the routes over HTTP must return exactly that table on PostgreSQL and on
ClickHouse. Plus the 400s, each naming its fields."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from events_e2e_helpers import wait_for_count

RUN = uuid.uuid4().hex[:8]
ET = f"prod{RUN}.used"  # stickiness counts this type
OTHER = f"prod{RUN}.other"  # counted by rolling active users (any type), never by stickiness of ET
# A year no other test writes to: rolling active users counts every event type of the tenant.
DAY_FROM, DAY_TO = date(2031, 2, 1), date(2031, 3, 31)
FIRST, LAST = datetime(2031, 1, 1, tzinfo=UTC), datetime(2031, 4, 10, tzinfo=UTC)
SAAS_TENANTS = [str(uuid.UUID(int=i + 1)) for i in range(3)]
STICKY_RANGE = {"from": "2031-02-01T00:00:00Z", "to": "2031-03-31T23:59:59.999Z"}


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _ts(ev: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(ev["occurredAt"].replace("Z", "+00:00"))


def _generate(tenant: str, seed: int = 14) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, replays): ~300 actors, each active on a day with its own probability; replays repeat events
    by eventId (same content)."""
    rnd = random.Random(seed)
    events: list[dict[str, Any]] = []
    days = (LAST - FIRST).days
    tie = datetime(2031, 2, 10, 12, 0, 0, tzinfo=UTC)
    for a in range(300):
        actor = f"user-{a:03d}"
        p = rnd.choice([0.02, 0.05, 0.15, 0.4, 0.8])
        saas = rnd.choice(SAAS_TENANTS)
        actor_type = rnd.choice(["CONTACT", "TENANT_STAFF", "TENANT_STAFF"]) if a % 50 else None
        for d in range(days):
            if rnd.random() >= p:
                continue
            for _ in range(rnd.randint(1, 3)):
                kind = rnd.random()
                if kind < 0.1:
                    ts = FIRST + timedelta(days=d)  # midnight: the first instant of the day
                elif kind < 0.2:
                    ts = FIRST + timedelta(days=d + 1) - timedelta(milliseconds=1)  # the last instant
                elif kind < 0.25:
                    ts = tie  # many actors, many events, one instant
                else:
                    ts = FIRST + timedelta(days=d, seconds=rnd.randint(0, 86_399), milliseconds=rnd.randint(0, 999))
                ev: dict[str, Any] = {
                    "eventId": str(uuid.UUID(int=rnd.getrandbits(128))), "eventType": rnd.choice([ET, ET, OTHER]),
                    "tenantId": tenant, "occurredAt": _iso(ts), "actorId": actor,
                    "entityType": "CONTACT", "entityId": f"C{rnd.randint(1, 60):03d}",
                    "attributes": {"plan": rnd.choice(["free", "pro"]), "tenant_id": saas},
                }
                if actor_type:
                    ev["actorType"] = actor_type
                if rnd.random() < 0.05:
                    del ev["entityId"]
                events.append(ev)
    # Events without an actor, and SYSTEM actors: never counted by rolling active users.
    for i in range(80):
        ts = FIRST + timedelta(days=rnd.randint(0, days - 1), seconds=rnd.randint(0, 86_399))
        base = {"eventId": str(uuid.UUID(int=rnd.getrandbits(128))), "eventType": ET, "tenantId": tenant,
                "occurredAt": _iso(ts), "entityType": "CONTACT", "entityId": f"C{rnd.randint(1, 60):03d}",
                "attributes": {"plan": "pro", "tenant_id": SAAS_TENANTS[0]}}
        events.append({**base, "actorType": "SYSTEM", "actorId": f"sys-{i % 4}"} if i % 2 else base)
    replays = rnd.sample(events, 400)
    return events, replays


# ------------------------------------------------------------------------------------------------- oracles
def _rolling_oracle(events: list[dict[str, Any]], start: date, end: date,
                    saas_tenant: str | None = None) -> list[list[Any]]:
    active: dict[str, set[date]] = {}
    for ev in events:
        if not ev.get("actorId") or ev.get("actorType") in (None, "SYSTEM"):
            continue
        if saas_tenant and ev["attributes"].get("tenant_id") != saas_tenant:
            continue
        active.setdefault(ev["actorId"], set()).add(_ts(ev).date())
    rows = []
    d = start
    while d <= end:
        def within(n: int, day: date = d) -> int:
            return sum(1 for days in active.values() if any(day - timedelta(days=n - 1) <= x <= day for x in days))
        dau, wau, mau28, mau30 = within(1), within(7), within(28), within(30)
        rows.append([f"{d.isoformat()}T00:00:00Z", dau, wau, mau28, mau30, dau / mau30 if mau30 else 0])
        d += timedelta(days=1)
    return rows


def _stickiness_oracle(events: list[dict[str, Any]], period: str, *, time_range: dict[str, str] = STICKY_RANGE,
                       actor_field: str = "actorId", plan: str | None = None) -> list[list[int]]:
    start = datetime.fromisoformat(time_range["from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(time_range["to"].replace("Z", "+00:00"))

    def bucket(d: date) -> date:
        return d - timedelta(days=d.weekday()) if period == "WEEK" else d

    periods: dict[str, set[date]] = {}
    for ev in events:
        actor = ev.get(actor_field)
        if ev["eventType"] != ET or actor is None or not (start <= _ts(ev) <= end):
            continue
        if plan and ev["attributes"].get("plan") != plan:
            continue
        periods.setdefault(actor, set()).add(bucket(_ts(ev).date()))
    total = (bucket(end.date()) - bucket(start.date())).days // (7 if period == "WEEK" else 1) + 1
    counts = [0] * total
    for ps in periods.values():
        counts[len(ps) - 1] += 1
    return [[n + 1, c] for n, c in enumerate(counts)]


# ------------------------------------------------------------------------------------------------- fixture
@pytest.fixture(scope="module")
def stores(api: Any, clickhouse_tenant: str) -> dict[str, Any]:
    """The same behaviour ingested over HTTP for a fresh PostgreSQL tenant and the ClickHouse tenant."""
    out: dict[str, Any] = {}
    pg_tenant = "pgprod" + RUN
    for tenant in (pg_tenant, clickhouse_tenant):
        events, replays = _generate(tenant)
        for i in range(0, len(events), 5000):
            r = api.post("/api/analytics/events", json=events[i:i + 5000], tenant=tenant)
            assert r.status_code == 202, r.text
        assert api.post("/api/analytics/events", json=replays, tenant=tenant).status_code == 202
        out[tenant] = events
    for tenant, events in out.items():
        for et in (ET, OTHER):
            n = sum(1 for e in events if e["eventType"] == et)
            assert wait_for_count(api, et, n, tenant=tenant, timeout=120) == n
    import time

    time.sleep(1.5)  # let the replays reach the stores too: they must change nothing
    for tenant, events in out.items():
        assert wait_for_count(api, ET, 0, tenant=tenant) == sum(1 for e in events if e["eventType"] == ET)
    return {"pg": pg_tenant, "ch": clickhouse_tenant, "events": out[pg_tenant]}


def _both(api: Any, stores: dict[str, Any], method: str, path: str, **kw: Any) -> dict[str, Any]:
    replies = []
    for tenant in (stores["pg"], stores["ch"]):
        r = api.request(method, path, tenant=tenant, **kw)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["stats"]["rowCount"] == len(body["rows"])
        assert isinstance(body["stats"]["queryTimeMs"], int) and body["generatedAt"].endswith("Z")
        replies.append(body)
    pg, ch = replies
    assert pg["columns"] == ch["columns"]
    assert pg["rows"] == ch["rows"], f"stores differ for {path} {kw}"
    return pg


# ------------------------------------------------------------------------------------------ rolling active users
ROLLING = "/api/analysis/active-users/rolling"


def test_rolling_active_users_match_the_oracle_on_both_stores(api: Any, stores: dict[str, Any]) -> None:
    out = _both(api, stores, "GET", ROLLING, params={"date_from": DAY_FROM.isoformat(), "date_to": DAY_TO.isoformat()})
    assert out["columns"] == [
        {"name": "date", "label": "Date", "type": "TIMESTAMP", "role": "TIME"},
        {"name": "dau", "label": "DAU", "type": "NUMBER", "role": "METRIC", "primary": True},
        {"name": "wau", "label": "WAU", "type": "NUMBER", "role": "METRIC"},
        {"name": "mau28", "label": "MAU28", "type": "NUMBER", "role": "METRIC"},
        {"name": "mau30", "label": "MAU30", "type": "NUMBER", "role": "METRIC"},
        {"name": "dau_mau", "label": "DAU/MAU", "type": "NUMBER", "role": "METRIC"},
    ]
    expected = _rolling_oracle(stores["events"], DAY_FROM, DAY_TO)
    assert [r["values"] for r in out["rows"]] == expected
    assert len(expected) == 59 and all(0 < r[1] <= r[2] <= r[3] <= r[4] for r in expected)


def test_rolling_active_users_of_one_saas_tenant_and_an_empty_stretch(api: Any, stores: dict[str, Any]) -> None:
    saas = SAAS_TENANTS[1]
    out = _both(api, stores, "GET", ROLLING, params={"date_from": "2031-03-20", "date_to": "2031-05-20",
                                                      "tenant_id": saas})
    expected = _rolling_oracle(stores["events"], date(2031, 3, 20), date(2031, 5, 20), saas)
    assert [r["values"] for r in out["rows"]] == expected
    # After the last event the windows empty one by one; from 30 days after it, all zero and DAU/MAU 0.
    assert expected[-1] == ["2031-05-20T00:00:00Z", 0, 0, 0, 0, 0]
    assert any(r[1] == 0 and r[4] > 0 for r in expected)


def test_rolling_active_users_one_day(api: Any, stores: dict[str, Any]) -> None:
    out = _both(api, stores, "GET", ROLLING, params={"date_from": "2031-02-10", "date_to": "2031-02-10"})
    assert [r["values"] for r in out["rows"]] == _rolling_oracle(stores["events"], date(2031, 2, 10),
                                                                 date(2031, 2, 10))


# ------------------------------------------------------------------------------------------------- stickiness
STICKY = "/api/analytics/stickiness"


@pytest.mark.parametrize("period", ["DAY", "WEEK"])
def test_stickiness_matches_the_oracle_on_both_stores(api: Any, stores: dict[str, Any], period: str) -> None:
    out = _both(api, stores, "POST", STICKY, json={"eventType": ET, "timeRange": STICKY_RANGE, "period": period})
    noun = "Days" if period == "DAY" else "Weeks"
    assert out["columns"] == [
        {"name": "periods", "label": f"{noun} Active", "type": "NUMBER", "role": "DIMENSION"},
        {"name": "actors", "label": "Actors", "type": "NUMBER", "role": "METRIC", "primary": True},
    ]
    expected = _stickiness_oracle(stores["events"], period)
    assert [r["values"] for r in out["rows"]] == expected
    # 2031-02-01 is a Saturday: the range touches 59 days and 10 ISO weeks (the first and last partly).
    assert len(expected) == (59 if period == "DAY" else 10)
    assert sum(c for _, c in expected) > 250


@pytest.mark.parametrize("period", ["DAY", "WEEK"])
def test_stickiness_with_a_filter_by_entity_over_a_partial_range(api: Any, stores: dict[str, Any],
                                                                 period: str) -> None:
    tr = {"from": "2031-02-03T12:00:00Z", "to": "2031-02-24T23:59:59.999Z"}
    body = {"eventType": ET, "timeRange": tr, "period": period, "actorField": "entityId",
            "filters": [{"field": "attributes.plan", "op": "EQ", "value": "pro"}]}
    out = _both(api, stores, "POST", STICKY, json=body)
    assert [r["values"] for r in out["rows"]] == _stickiness_oracle(stores["events"], period, time_range=tr,
                                                                    actor_field="entityId", plan="pro")


def test_stickiness_reads_only_the_tokens_tenant(api: Any, stores: dict[str, Any]) -> None:
    r = api.post(STICKY, json={"eventType": ET, "timeRange": STICKY_RANGE, "period": "WEEK"},
                 tenant="other" + RUN)
    assert r.status_code == 200, r.text
    assert [v["values"][1] for v in r.json()["rows"]] == [0] * 10


# --------------------------------------------------------------------------------------------------- 400s
def test_stickiness_names_every_bad_field_at_once(api: Any) -> None:
    r = api.post(STICKY, json={"eventType": "nodot", "timeRange": {"from": "2020-01-01", "to": "2026-01-01"},
                               "period": "DAY", "actorField": "sessionId",
                               "filters": [{"field": "nope", "op": "EQ", "value": "x"},
                                           {"field": "actorId", "op": "GT", "value": 1}, {"op": "EQ"}]})
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert set(errors) == {"eventType", "actorField", "filters[0].field", "filters[1].op", "filters[2].field",
                           "timeRange"}
    assert "must be an event type such as note.created" in errors["eventType"][0]
    assert errors["timeRange"] == ["spans 2193 periods of DAY; at most 366"]
    assert "'nope' is not a field" in errors["filters[0].field"][0]
    assert errors["filters[2].field"] == ["Field required"]


@pytest.mark.parametrize("body,field,text", [
    ({"timeRange": STICKY_RANGE, "period": "DAY"}, "eventType", "Field required"),
    ({"eventType": "a.b", "timeRange": STICKY_RANGE, "period": "MONTH"}, "period", "'DAY' or 'WEEK'"),
    ({"eventType": "a.b", "timeRange": {"from": "2031-02-02", "to": "2031-02-01"}, "period": "DAY"}, "timeRange",
     "to must not be before from"),
    ({"eventType": "a.b", "timeRange": {"from": "2020-01-01", "to": "2031-01-01"}, "period": "WEEK"}, "timeRange",
     "periods of WEEK; at most 366"),
    ({"eventType": "a.b", "timeRange": STICKY_RANGE, "period": "DAY", "extra": 1}, "extra", "Extra inputs"),
    ({"eventType": "a.b", "timeRange": STICKY_RANGE, "period": "DAY",
      "filters": [{"field": "actorId", "op": "IN", "value": "x"}]}, "filters[0].value", "takes an array"),
])
def test_stickiness_400s(api: Any, body: dict[str, Any], field: str, text: str) -> None:
    r = api.post(STICKY, json=body)
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert field in errors and text in " ".join(errors[field]), errors


@pytest.mark.parametrize("params,text", [
    ({"date_to": "2031-01-01"}, "date_from"),
    ({"date_from": "2031-01-01"}, "date_to"),
    ({"date_from": "2031-01-01", "date_to": "2031-13-01"}, "date_to"),
    ({"date_from": "2031-02-01", "date_to": "2031-01-01"}, "date_to must not be before date_from"),
    ({"date_from": "2029-12-31", "date_to": "2031-01-01"}, "spans more than 366 days"),
    ({"date_from": "2031-01-01", "date_to": "2031-01-02", "tenant_id": "nope"}, "tenant_id must be a UUID"),
])
def test_rolling_active_users_400s(api: Any, params: dict[str, str], text: str) -> None:
    r = api.get(ROLLING, params=params)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "invalid_parameter" and text in r.json()["message"], r.json()


def test_rolling_active_users_names_every_bad_parameter_at_once(api: Any) -> None:
    r = api.get(ROLLING, params={"date_from": "yesterday", "date_to": "2031-99-01", "tenant_id": "x"})
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert message.startswith("3 problems") and all(p in message for p in ("date_from", "date_to", "tenant_id"))


def test_rolling_active_users_needs_a_token(api: Any) -> None:
    r = api.get(ROLLING, params={"date_from": "2031-01-01", "date_to": "2031-01-02"}, tenant=None)
    assert r.status_code == 401
