"""The usage activity rule over HTTP (docs/usage-analytics.md, "Activity"): usage is execution (a time the
tool says a resource was run or viewed), a definition's edit time is never usage, and a definition a sync
still sees keeps its product referenced ("unused" is about references). Also: a dataset the tool fails to
return is a counted failure, and a sync whose aggregation fails still finishes, with a warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from usage_helpers import bi_queries, make_connector, make_space, run_sync
from usage_replay import ReplayServer


def _iso(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


def superset(replay: ReplayServer, table: str) -> None:
    """A chart edited yesterday (on a physical dataset), one whose dataset read fails, and a saved query."""
    replay.routes[("POST", "/api/v1/security/login")] = lambda req: (200, {"access_token": "t"})

    def page(items: list[dict[str, Any]]) -> Any:
        return lambda req: (200, {"count": len(items), "result": items if "page:0" in (req.arg("q") or "") else []})

    replay.routes[("GET", "/api/v1/chart/")] = page([
        {"id": 1, "slice_name": "Edited yesterday", "datasource_id": 10, "datasource_type": "table",
         "changed_on_utc": _iso(1), "dashboards": []},
        {"id": 2, "slice_name": "Dataset gone", "datasource_id": 11, "datasource_type": "table", "dashboards": []}])
    replay.routes[("GET", "/api/v1/saved_query/")] = page([
        {"id": 5, "label": "Saved", "sql": f"SELECT * FROM {table} WHERE x = 1", "changed_on": _iso(2),
         "last_run_delta_humanized": "2 days ago"}])
    replay.routes[("GET", "/api/v1/query/")] = page([])
    sch, tbl = table.split(".")
    replay.routes[("GET", "/api/v1/dataset/10")] = lambda req: (200, {"result": {
        "id": 10, "table_name": tbl, "schema": sch, "sql": None}})
    replay.routes[("GET", "/api/v1/dataset/11")] = lambda req: (500, {"message": "boom"})


def test_definitions_are_present_not_executed(api: Any, replay: ReplayServer, platform_db: Any) -> None:
    table = f"act{datetime.now(UTC).strftime('%H%M%S%f')}.orders"
    superset(replay, table)
    conn = make_connector(api, "superset", {"base_url": replay.url}, {"username": "u", "password": "p"})
    slug, _ = make_space(api, {"Orders": [table]})

    for _ in range(2):  # a second sync must not make the saved query look run "now"
        job = run_sync(api, conn["id"])
    # The failed dataset read is one counted failure; its chart is still stored (without tables).
    assert (job["status"], job["items_failed"]) == ("partial", 1), job
    assert any("dataset 11" in e and "500" in e for e in job["errors"]), job["errors"]
    rows = {(q["resource_type"], q["resource_id"]): q for q in bi_queries(api, conn["id"])}
    assert rows[("chart", "2")]["referenced_tables"] == []
    chart, saved = rows[("chart", "1")], rows[("saved_query", "5")]
    # The edit time is kept, as modified_at, never as executed_at.
    assert chart["executed_at"] is None and chart["modified_at"] is not None
    assert saved["executed_at"] is None and saved["modified_at"] is not None

    usage = api.get(f"/spaces/{slug}/usage").json()[0]
    assert (usage["query_count_30d"], usage["unique_users_30d"], usage["last_queried_at"]) == (0, 0, None)
    assert usage["popularity_score"] == 0
    # ...yet the product is referenced by definitions the tool still has: not unused.
    assert api.get(f"/spaces/{slug}/usage/unused").json() == []
    assert api.get(f"/spaces/{slug}/usage/popular-queries").json() == []

    # A definition no sync has seen for longer than the window no longer references anything.
    platform_db.query("UPDATE usage.bi_queries SET last_seen_at = now() - interval '31 days'"
                      " WHERE connector_id = CAST(:c AS uuid)", c=conn["id"])
    assert [p["name"] for p in api.get(f"/spaces/{slug}/usage/unused").json()] == ["Orders"]

    # A view time from a tool that gives one (a Looker Look's last_viewed_at) is usage.
    platform_db.query(
        "INSERT INTO usage.bi_queries (tenant_id, connector_id, resource_type, resource_id, referenced_tables,"
        " executed_by, executed_at, modified_at) VALUES ('demo', CAST(:c AS uuid), 'chart', 'viewed',"
        " CAST(:t AS text[]), 'ada', now() - interval '1 day', now() - interval '700 days')",
        c=conn["id"], t=[table])
    api.post(f"/spaces/{slug}/usage/aggregate")
    usage = api.get(f"/spaces/{slug}/usage").json()[0]
    assert (usage["query_count_30d"], usage["unique_users_30d"]) == (1, 1)
    assert api.get(f"/spaces/{slug}/usage/unused").json() == []


def test_a_failed_aggregation_is_a_warning_on_the_job(api: Any, replay: ReplayServer, monkeypatch: Any) -> None:
    superset(replay, "warn.orders")
    conn = make_connector(api, "superset", {"base_url": replay.url}, {"username": "u", "password": "p"})
    from telltale.usage import aggregate

    def broken(tenant_id: str) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(aggregate, "aggregate_tenant", broken)
    job = run_sync(api, conn["id"])
    assert job["status"] == "partial" and job["items_upserted"] == 3
    assert "recomputing usage failed" in job["warnings"][0] and "database went away" not in str(job)


