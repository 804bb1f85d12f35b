"""The recency factor at its edges, through the aggregation service with a fixed "as of" time.

One product, one query at time T (count 1, one user), so raw = 0.5*log2(2) + 0.3*1 + 0.2*recency:
    as of T        -> recency 1.0 -> score 10.0
    as of T+15d    -> recency 0.5 -> score  9.0
    as of T+30d    -> recency 0.0 -> score  8.0 (still inside the window: >= now - 30 days)
    as of T+40d    -> outside the window: no queries, recency 0 -> score 0
    as of T-1d     -> a query "in the future" counts as now: recency 1.0 -> 10.0
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from usage_helpers import make_connector, make_space


@pytest.mark.parametrize(("offset_days", "expected"), [(0, 10.0), (15, 9.0), (30, 8.0), (40, 0.0), (-1, 10.0)])
def test_recency_edges(api: Any, platform_db: Any, offset_days: int, expected: float) -> None:
    from telltale.usage import aggregate

    conn = make_connector(api, "postgres", {"host": "127.0.0.1", "database": "x"}, {"user": "u"})
    table = f"edge{uuid.uuid4().hex[:8]}.t"
    slug, _ = make_space(api, {"P": [table]})
    t0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    platform_db.query(
        "INSERT INTO usage.bi_queries (tenant_id, connector_id, resource_type, resource_id, referenced_tables,"
        " executed_by, executed_at) VALUES ('demo', CAST(:c AS uuid), 'query_log', :r, CAST(:tb AS text[]), 'u1', :at)",
        c=conn["id"], r=uuid.uuid4().hex, tb=[table], at=t0)
    assert aggregate.aggregate_space("demo", slug, as_of=t0 + timedelta(days=offset_days)) == 1
    row = api.get(f"/spaces/{slug}/usage").json()[0]
    assert row["popularity_score"] == pytest.approx(expected, abs=1e-9)
    assert row["last_queried_at"].startswith("2025-03-01T12:00:00")
