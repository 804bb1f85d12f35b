"""Superset: a BI sync against a replay of Superset's REST API v1, then aggregation over HTTP."""

from __future__ import annotations

import time
from typing import Any

from usage_helpers import bi_queries, make_connector, make_space, run_sync
from usage_replay import Once, ReplayServer, Request, Tokens

SAVED = [
    {"id": 7, "label": "Weekly revenue by region", "schema": "sales", "db_id": 1,
     "database": {"id": 1, "database_name": "warehouse"},
     "sql": "SELECT r.name, SUM(o.amount) FROM sales.orders o JOIN sales.regions r ON o.region_id = r.id "
            "WHERE o.customer_code = 'C-1234' AND o.amount > 1000 GROUP BY 1",
     "changed_by": {"id": 3, "first_name": "Ada", "last_name": "Lovelace"}},
    {"id": 8, "label": "Big orders", "schema": "sales", "database": {"id": 1, "database_name": "warehouse"},
     "sql": "select * from orders where amount > 3.14",
     "created_by": {"id": 4, "first_name": "Alan", "last_name": "T"}},
    {"label": "malformed: no id", "sql": "select 1"},
    {"id": 9, "label": "Broken SQL", "sql": "SELEC oops FROM WHERE 'secret-value' (((",
     "changed_by": {"id": 3, "first_name": "Ada", "last_name": "Lovelace"}},
]
CHARTS = [
    {"id": 42, "slice_name": "Revenue by region", "viz_type": "echarts_timeseries_bar", "datasource_id": 12,
     "datasource_type": "table", "url": "/explore/?slice_id=42", "changed_on_utc": "2025-02-03T08:00:00.000000+0000",
     "owners": [{"id": 3, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}],
     "dashboards": [{"id": 5, "dashboard_title": "Sales overview"}],
     "params": "{\"datasource\":\"12__table\"}"},
    {"id": 43, "slice_name": "Customers", "datasource_id": 13, "datasource_type": "table",
     "owners": [{"id": 4, "first_name": "Alan", "last_name": "T", "email": "alan@example.com"}], "dashboards": []},
]
DATASETS = {
    12: {"id": 12, "table_name": "orders_enriched", "kind": "virtual", "schema": "sales",
         "sql": "SELECT o.*, c.segment FROM sales.orders o JOIN crm.customers c USING (customer_id) WHERE c.ltv > 500",
         "database": {"id": 1, "database_name": "warehouse", "backend": "postgresql"}},
    13: {"id": 13, "table_name": "customers", "kind": "physical", "schema": "crm", "sql": None,
         "database": {"id": 1, "database_name": "warehouse", "backend": "postgresql"}},
}
QUERIES = [
    {"id": 301, "sql": "select * from sales.orders limit 100", "executed_sql": "select * from sales.orders limit 100",
     "status": "success", "schema": "sales", "tab_name": "Untitled Query 1", "database": {"database_name": "warehouse"},
     "user": {"id": 3, "first_name": "Ada", "last_name": "Lovelace"}, "start_time": 1738742400123.0},
]


def superset_fake(server: ReplayServer, *, page_size: int) -> dict[str, Any]:
    tokens = Tokens(expire_after=4)
    once = Once()
    state: dict[str, Any] = {"tokens": tokens}

    @server.route("POST", "/api/v1/security/login")
    def login(req: Request) -> tuple:
        body = req.json()
        if body.get("username") != "svc" or body.get("password") != "pw" or body.get("provider") != "db":
            return 401, {"message": "Not authorized"}
        return 200, {"access_token": tokens.issue(), "refresh_token": "r"}

    def authed(fn: Any) -> Any:
        def wrapper(req: Request) -> tuple:
            token = (req.headers.get("authorization") or "").removeprefix("Bearer ")
            if not tokens.valid(token):
                return 401, {"msg": "Token has expired"}
            return fn(req)
        return wrapper

    def lister(items: list[Any], name: str) -> Any:
        @authed
        def handle(req: Request) -> tuple:
            q = req.arg("q") or ""
            page = int(q.split("page:")[1].split(",")[0])
            size = int(q.split("page_size:")[1].rstrip(")"))
            if page == 1 and once.first(name):
                return 429, {"message": "Too many requests"}, {"Retry-After": "0"}
            chunk = items[page * size:(page + 1) * size]
            return 200, {"count": len(items), "ids": [i.get("id") for i in chunk], "result": chunk,
                         "list_columns": [], "label_columns": {}, "description_columns": {}, "order_columns": [],
                         "list_title": name}
        return handle

    server.routes[("GET", "/api/v1/saved_query/")] = lister(SAVED, "saved")
    server.routes[("GET", "/api/v1/chart/")] = lister(CHARTS, "charts")
    server.routes[("GET", "/api/v1/query/")] = lister(QUERIES, "queries")
    for ds_id, ds in DATASETS.items():
        server.routes[("GET", f"/api/v1/dataset/{ds_id}")] = authed(lambda req, ds=ds: (200, {"id": ds["id"],
                                                                                               "result": ds}))
    return state


def test_superset_sync_end_to_end(api: Any, platform_db: Any, replay: ReplayServer) -> None:
    state = superset_fake(replay, page_size=2)
    conn = make_connector(api, "superset", {"base_url": replay.url, "page_size": 2},
                          {"username": "svc", "password": "pw"})
    assert "credentials" not in conn and "pw" not in str(conn)

    job = run_sync(api, conn["id"])  # 202 with a queued job, run by the queue worker
    assert job["kind"] == "bi_sync" and job["status"] == "partial", job
    # 4 saved queries (one malformed) + 2 charts + 1 dashboard tile + 1 SQL Lab query
    assert (job["items_seen"], job["items_failed"], job["items_upserted"]) == (8, 1, 7), job
    assert any("saved_query" in e for e in job["errors"])
    assert job["finished_at"] is not None

    # Pagination: 4 saved queries at page_size 2 = 2 pages, and page 1 was retried after a 429.
    pages = [r.arg("q") for r in replay.hits("GET", "/api/v1/saved_query/")]
    assert pages.count("(page:1,page_size:2)") == 2 and "(page:0,page_size:2)" in pages
    # The first session expired mid-scrape: a second login happened and the sync carried on.
    assert len(state["tokens"].issued) == 2

    rows = {(q["resource_type"], q["resource_id"]): q for q in bi_queries(api, conn["id"])}
    sq = rows[("saved_query", "7")]
    assert sq["title"] == "Weekly revenue by region"
    assert "C-1234" not in sq["sql_text"] and "1000" not in sq["sql_text"] and "?" in sq["sql_text"]
    assert sorted(sq["referenced_tables"]) == ["sales.orders", "sales.regions"]
    assert {"name", "amount", "region_id", "customer_code"} <= set(sq["referenced_columns"])
    assert sq["executed_by"] == "Ada Lovelace"
    # Unqualified tables take the saved query's schema.
    assert rows[("saved_query", "8")]["referenced_tables"] == ["sales.orders"]
    broken = rows[("saved_query", "9")]
    assert broken["parse_failed"] is True and "secret-value" not in broken["sql_text"]

    chart = rows[("chart", "42")]
    assert sorted(chart["referenced_tables"]) == ["crm.customers", "sales.orders"]
    assert "500" not in chart["sql_text"]
    assert chart["dashboard_id"] == "5" and chart["dashboard_title"] == "Sales overview"
    assert chart["executed_by"] == "ada@example.com"
    tile = rows[("dashboard_chart", "5:42")]
    assert tile["dashboard_url"] == replay.url + "/superset/dashboard/5/"
    # A chart on a physical dataset has no SQL: its table comes from the dataset metadata.
    assert rows[("chart", "43")]["referenced_tables"] == ["crm.customers"]
    assert rows[("chart", "43")]["sql_text"] is None
    log = rows[("query_log", "301")]
    assert log["executed_at"].startswith("2025-02-05T08:00:00") and "100" not in log["sql_text"]

    # The connector shows its last sync; the job is readable on its own and in the connector's list.
    last = api.get(f"/connectors/{conn['id']}").json()["last_sync"]
    assert last["id"] == job["id"] and last["status"] == "partial"
    assert api.get(f"/sync-jobs/{job['id']}").json()["id"] == job["id"]
    jobs = api.get(f"/connectors/{conn['id']}/sync-jobs").json()
    assert jobs["items"][0]["id"] == job["id"]

    # A job left 'running' by a run that died is closed as failed when the next sync starts.
    platform_db.query("INSERT INTO usage.sync_jobs (tenant_id, connector_id, kind, started_at)"
             " VALUES ('demo', CAST(:c AS uuid), 'bi_sync', now() - interval '1 hour')", c=conn["id"])
    # A second sync updates rows in place; an unchanged query-log row is not rewritten.
    before = len(rows)
    job2 = run_sync(api, conn["id"])
    assert job2["items_upserted"] == 6 and len(bi_queries(api, conn["id"])) == before
    statuses = [j["status"] for j in api.get(f"/connectors/{conn['id']}/sync-jobs").json()["items"]]
    assert statuses == ["partial", "partial", "failed"]  # newest first; the interrupted one is closed

    # Aggregation over the synced rows: orders is used, regions by one saved query, inventory by nothing.
    slug, _ids = make_space(api, {"Orders": ["SALES.ORDERS"], "Regions": ["sales.regions"],
                                 "Inventory": ["ops.inventory"]})
    r = api.post(f"/spaces/{slug}/usage/aggregate")
    assert r.status_code == 200 and r.json() == {"products_updated": 3}
    usage = {u["product_name"]: u for u in api.get(f"/spaces/{slug}/usage").json()}
    # Superset says when SQL Lab ran a query, not when a chart was viewed: its charts and saved queries are
    # present but not executed, and the one SQL Lab run is from 2025 (outside the window, yet the latest).
    assert usage["Orders"]["query_count_30d"] == 0
    assert usage["Orders"]["last_queried_at"].startswith("2025-02-05T08:00:00")
    assert usage["Inventory"]["query_count_30d"] == 0 and usage["Inventory"]["popularity_score"] == 0
    # Present definitions still reference their products: only Inventory is unused.
    unused = api.get(f"/spaces/{slug}/usage/unused").json()
    assert [p["name"] for p in unused] == ["Inventory"]
    popular = api.get(f"/spaces/{slug}/usage/popular-queries?days=3650").json()
    assert popular and all("C-1234" not in p["sql_text"] for p in popular)


def test_bi_sync_errors(api: Any) -> None:
    assert api.post("/connectors/00000000-0000-0000-0000-000000000000/bi-sync").status_code == 404
    assert api.post("/connectors/not-a-uuid/bi-sync").status_code == 404
    pg = make_connector(api, "postgres", {"host": "127.0.0.1", "database": "x"}, {"user": "u"})
    r = api.post(f"/connectors/{pg['id']}/bi-sync")
    assert r.status_code == 400 and "not a BI type" in r.json()["message"]
    # Another tenant cannot see the connector.
    assert api.post(f"/connectors/{pg['id']}/bi-sync", tenant="other").status_code == 404
    assert api.post(f"/connectors/{pg['id']}/bi-sync", tenant=None).status_code == 401


def test_one_queued_sync_per_connector(api: Any, platform_db: Any) -> None:
    """A second request while a job waits is a 409; a job no worker ever picked up stops blocking after a
    while (it is closed as failed, "never started")."""
    conn = make_connector(api, "superset", {"base_url": "http://localhost:1"}, {"username": "u", "password": "p"})
    platform_db.query("INSERT INTO usage.sync_jobs (tenant_id, connector_id, kind, status, queued_at)"
                      " VALUES ('demo', CAST(:c AS uuid), 'bi_sync', 'queued', now())", c=conn["id"])
    r = api.post(f"/connectors/{conn['id']}/bi-sync")
    assert r.status_code == 409 and "already queued" in r.json()["message"]
    platform_db.query("UPDATE usage.sync_jobs SET queued_at = now() - interval '2 hours'"
                      " WHERE connector_id = CAST(:c AS uuid)", c=conn["id"])
    job = run_sync(api, conn["id"])
    assert job["status"] == "failed"  # nothing listens on localhost:1
    jobs = api.get(f"/connectors/{conn['id']}/sync-jobs").json()["items"]
    stale = [j for j in jobs if j["id"] != job["id"]]
    assert stale[0]["status"] == "failed" and "never started" in stale[0]["errors"][0]


def test_sync_replies_as_spec_001_says(api: Any, replay: ReplayServer, setting: Any) -> None:
    """A sync over within TELLTALE_USAGE_SYNC_WAIT_S answers 200 with the finished SyncJob (spec 001); one
    still running answers 202 with the job, which the worker finishes all the same."""
    superset_fake(replay, page_size=50)
    conn = make_connector(api, "superset", {"base_url": replay.url}, {"username": "svc", "password": "pw"})
    r = api.post(f"/connectors/{conn['id']}/bi-sync")
    assert r.status_code == 200, r.text
    job = r.json()
    assert job["status"] == "partial" and job["items_upserted"] == 7 and job["finished_at"], job
    assert api.get(f"/sync-jobs/{job['id']}").json() == job

    setting("TELLTALE_USAGE_SYNC_WAIT_S", "0")
    r = api.post(f"/connectors/{conn['id']}/bi-sync")
    assert r.status_code == 202 and r.json()["status"] == "queued", r.text
    deadline = time.monotonic() + 60
    while (job := api.get(f"/sync-jobs/{r.json()['id']}").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "partial" and job["items_upserted"] == 6, job  # the unchanged log row is skipped
