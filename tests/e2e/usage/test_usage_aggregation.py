"""Aggregation and popularity over HTTP against hand-computed values.

Rows are written straight into usage.bi_queries (with times relative to now) so that every expected
number below can be worked out by hand from the spec's formula:
    raw = 0.5 * log2(1 + query_count_30d) + 0.3 * unique_users_30d + 0.2 * recency_factor
    score = min(100, raw / 10 * 100);  recency_factor = max(0, 1 - days_since_last_query / 30)
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from usage_helpers import make_connector, make_space


def insert(db: Any, connector_id: str, tables: list[str], *, user: str | None, days_ago: float,
           columns: list[str] | None = None, count: int = 1, sql: str = "SELECT ?", tenant: str = "demo",
           column_keys: list[str] | None = None) -> None:
    db.query(
        "INSERT INTO usage.bi_queries (tenant_id, connector_id, resource_type, resource_id, sql_text, sql_hash,"
        " referenced_tables, referenced_columns, column_keys, executed_by, executed_at, execution_count)"
        " VALUES (:t, CAST(:c AS uuid), 'query_log', :rid, :qtext, md5(:qtext), CAST(:tb AS text[]),"
        " CAST(:cols AS text[]), CAST(:keys AS text[]), :u, now() - make_interval(secs => :secs), :n)",
        t=tenant, c=connector_id, rid=uuid.uuid4().hex, qtext=sql, tb=tables, cols=columns or [],
        keys=column_keys or [], u=user, secs=days_ago * 86400, n=count,
    )


def score(q: int, u: int, recency: float) -> float:
    return min(100.0, (0.5 * math.log2(1 + q) + 0.3 * u + 0.2 * recency) / 10.0 * 100)


def test_aggregation_hand_computed(api: Any, platform_db: Any) -> None:
    conn = make_connector(api, "postgres", {"host": "127.0.0.1", "database": "x"}, {"user": "u"})
    cid = conn["id"]
    suffix = uuid.uuid4().hex[:6]
    sales, ops, hot = f"sales{suffix}", f"ops{suffix}", f"hot{suffix}"
    orders = f"orders{suffix}"
    slug, ids = make_space(api, {
        "Orders": [f"{sales}.{orders}"],          # matched with or without schema, any case
        "Customers": [f"customers{suffix}"],      # no schema: matches that table in any schema
        "Old": [f"{ops}.legacy"],
        "Unused": [f"{ops}.nothing"],
        "Hot": [f"{hot}.events"],
    })
    q1 = f"SELECT amount FROM {sales}.{orders} WHERE id = ?"
    insert(platform_db, cid, [f"ANALYTICS.{sales.upper()}.{orders.upper()}"], user="alice", days_ago=1,
           columns=["amount", "region"], sql=q1)
    # A join: amount is the orders' column, id the customers' (as the SQL analysis records it).
    insert(platform_db, cid, [f"{sales}.{orders}", f"crm.customers{suffix}"], user="bob", days_ago=2,
           columns=["amount", "id"], sql=q1,
           column_keys=[f"{sales}.{orders}|amount", f"crm.customers{suffix}|id"])
    insert(platform_db, cid, [orders], user="alice", days_ago=10, columns=["amount"], count=3)
    # Outside the 30-day window: counts for last_queried_at only if newest (it is not).
    insert(platform_db, cid, [f"{sales}.{orders}", f"{sales}.{orders}_archive"], user="zed", days_ago=40,
           columns=["x"])
    insert(platform_db, cid, [f"{ops}.legacy"], user="carol", days_ago=45)
    # Another schema's table of the same name is not the product's.
    insert(platform_db, cid, [f"other{suffix}.{orders}"], user="dave", days_ago=1)
    for i in range(40):
        insert(platform_db, cid, [f"{hot}.events"], user=f"user{i}", days_ago=0)

    r = api.post(f"/spaces/{slug}/usage/aggregate")
    assert r.status_code == 200 and r.json() == {"products_updated": 5}
    usage = {u["product_name"]: u for u in api.get(f"/spaces/{slug}/usage").json()}

    o = usage["Orders"]
    assert (o["query_count_30d"], o["unique_users_30d"]) == (5, 2)
    # customers' id is not an Orders column; region's table is unknown, so it counts.
    assert o["top_columns"] == ["amount", "region"]
    assert o["popularity_score"] == pytest.approx(score(5, 2, 1 - 1 / 30), abs=1e-3)
    assert o["popularity_score"] == pytest.approx(20.858, abs=1e-3)  # 0.5*log2(6) + 0.6 + 0.2*29/30 = 2.0858

    c = usage["Customers"]
    assert (c["query_count_30d"], c["unique_users_30d"], c["top_columns"]) == (1, 1, ["id"])
    assert c["popularity_score"] == pytest.approx(9.8667, abs=1e-3)  # 0.5 + 0.3 + 0.2*28/30 = 0.98667

    old = usage["Old"]
    assert (old["query_count_30d"], old["unique_users_30d"], old["popularity_score"]) == (0, 0, 0)
    assert old["last_queried_at"] is not None  # 45 days ago: known, but outside the window

    un = usage["Unused"]
    assert (un["query_count_30d"], un["last_queried_at"], un["popularity_score"], un["top_columns"]) == (0, None, 0, [])
    assert usage["Hot"]["popularity_score"] == 100  # 0.5*log2(41) + 12 + 0.2 > 10: clamped

    # Most popular first.
    assert [u["product_name"] for u in api.get(f"/spaces/{slug}/usage").json()][:2] == ["Hot", "Orders"]

    unused = api.get(f"/spaces/{slug}/usage/unused").json()
    assert sorted(p["name"] for p in unused) == ["Old", "Unused"]
    assert [p["name"] for p in api.get(f"/spaces/{slug}/usage/unused?days=60").json()] == ["Unused"]
    assert api.get(f"/spaces/{slug}/usage/unused?days=0").status_code == 400
    bad = api.get(f"/spaces/{slug}/usage/unused?days=abc")
    assert bad.status_code == 400 and "days" in bad.json()["errors"]

    popular = api.get(f"/spaces/{slug}/usage/popular-queries?limit=2").json()
    assert isinstance(popular, list), popular
    top = popular[0]
    # 40 "hot" rows plus alice's 3 executions of the same pattern on orders (the 40-day-old one is outside).
    assert top["sql_text"] == "SELECT ?" and top["query_count"] == 43 and top["unique_users"] == 41
    second = popular[1]
    assert second["sql_text"] == q1 and second["query_count"] == 2 and sorted(second["users"]) == ["alice", "bob"]
    assert second["products"] == ["Customers", "Orders"]

    # The product's own view carries its stats; other tenants see nothing.
    prod = api.get(f"/spaces/{slug}/products/{ids['Orders']}").json()
    assert prod["usage"]["query_count_30d"] == 5
    assert api.get(f"/spaces/{slug}/usage", tenant="other").status_code == 404
    assert api.post(f"/spaces/{slug}/usage/aggregate", tenant="other").status_code == 404


def test_aggregation_unknown_space(api: Any) -> None:
    r = api.post("/spaces/no-such-space/usage/aggregate")
    assert r.status_code == 404 and "no-such-space" in r.json()["message"]
