"""A part of a tool's answer that fails is counted (a failed item with its message) and the sync goes on:
a Power BI scan batch, a Metabase table lookup, a malformed Metabase collection item. And the bounds that
keep a sync from polling in a tight loop or outliving its Lambda."""

from __future__ import annotations

from typing import Any

import pytest
from usage_helpers import bi_queries, make_connector, run_sync
from usage_replay import ReplayServer, Request


def test_power_bi_one_failed_scan_batch_loses_only_its_workspaces(api: Any, replay: ReplayServer) -> None:
    replay.routes[("POST", "/tenant-1/token")] = lambda req: (200, {"access_token": "t"})
    workspaces = [f"ws-{i}" for i in range(101)]  # two scan batches: 100 and 1

    def get_info(req: Request) -> tuple:
        batch = req.json()["workspaces"]
        return 202, {"id": "scan-ok" if batch == ["ws-100"] else "scan-bad"}

    replay.routes[("POST", "/pbi/admin/workspaces/getInfo")] = get_info
    replay.routes[("GET", "/pbi/admin/workspaces/scanStatus/scan-bad")] = lambda req: (200, {"status": "Failed"})
    replay.routes[("GET", "/pbi/admin/workspaces/scanStatus/scan-ok")] = lambda req: (200, {"status": "Succeeded"})
    replay.routes[("GET", "/pbi/admin/workspaces/scanResult/scan-ok")] = lambda req: (200, {"workspaces": [
        {"id": "ws-100", "reports": [{"id": "rep-1", "name": "Revenue"}]}]})
    config = {"base_url": replay.url + "/pbi", "token_url": replay.url + "/tenant-1/token", "workspaces": workspaces}
    conn = make_connector(api, "power_bi", config, {"client_id": "c", "client_secret": "s"})
    job = run_sync(api, conn["id"])
    assert (job["status"], job["items_seen"], job["items_failed"], job["items_upserted"]) == ("partial", 101, 100, 1)
    assert "scan ended with status Failed" in job["errors"][0]
    assert [q["resource_id"] for q in bi_queries(api, conn["id"])] == ["rep-1"]


def test_metabase_failed_table_and_malformed_collection_item_are_counted(api: Any, replay: ReplayServer) -> None:
    query = {"source-table": 10, "joins": [{"source-table": 11}]}
    card = {"id": 1, "name": "Orders", "dataset_query": {"type": "query", "database": 2, "query": query}}
    replay.routes[("GET", "/api/card")] = lambda req: (200, [card])
    replay.routes[("GET", "/api/table/10")] = lambda req: (200, {"id": 10, "schema": "sales", "name": "orders"})
    replay.routes[("GET", "/api/table/11")] = lambda req: (500, {"message": "boom"})
    replay.routes[("GET", "/api/database/2")] = lambda req: (200, {"id": 2, "engine": "postgres"})
    replay.routes[("GET", "/api/collection/")] = lambda req: (200, [])
    replay.routes[("GET", "/api/collection/root/items")] = lambda req: (200, {"data": ["junk", {"id": 5}], "total": 2})
    replay.routes[("GET", "/api/dashboard/5")] = lambda req: (200, {"id": 5, "name": "D", "dashcards": []})
    conn = make_connector(api, "metabase", {"base_url": replay.url}, {"api_key": "k"})
    job = run_sync(api, conn["id"])
    assert job["status"] == "partial" and job["items_failed"] == 2, job
    assert any(e.startswith("table 11:") for e in job["errors"]), job
    assert any(e.startswith("collection root:") for e in job["errors"]), job
    assert bi_queries(api, conn["id"])[0]["referenced_tables"] == ["sales.orders"]
    assert replay.hits("GET", "/api/dashboard/5")  # the sync went on past the malformed item


@pytest.mark.parametrize(("ctype", "config", "field"), [
    ("power_bi", {"scan_poll_s": 0}, "config.scan_poll_s"),
    ("power_bi", {"scan_timeout_s": 3600}, "config.scan_timeout_s"),
    ("snowflake", {"account": "acme", "poll_s": 0}, "config.poll_s"),
])
def test_polling_bounds(api: Any, ctype: str, config: dict[str, Any], field: str) -> None:
    config = {"base_url": "http://127.0.0.1:9", **config}
    r = api.post("/connectors", json={"name": "n", "type": ctype, "config": config,
                                      "credentials": {"client_id": "c", "client_secret": "s", "token": "t"}})
    assert r.status_code == 400 and field in r.json()["errors"], r.text
