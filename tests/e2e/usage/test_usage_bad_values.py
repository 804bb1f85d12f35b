"""Values PostgreSQL refuses, from a BI tool: a NUL character (text and jsonb reject it) is dropped from
the stored row; a row the database still refuses (a lone UTF-16 surrogate) is one failed item with its
message, the others of its batch are stored, and the sync does not end as an internal error."""

from __future__ import annotations

from typing import Any

from usage_helpers import bi_queries, make_connector, run_sync
from usage_replay import ReplayServer, Request

SAVED = [
    {"id": 1, "label": "nul\u0000title", "database": {"id": 1, "database_name": "warehouse"},
     "sql": "SELECT a\u0000b FROM sales.orders WHERE note = 'x\u0000y' AND name = \"John\u0000Smith\"",
     "changed_by": {"id": 3, "first_name": "Ada\u0000", "last_name": "Lovelace"}},
    {"id": 2, "label": "lone \ud800 surrogate", "sql": "select 1"},
    {"id": 3, "label": "fine", "sql": "select * from sales.orders where amount > 5"},
]


def _superset(server: ReplayServer) -> None:
    @server.route("POST", "/api/v1/security/login")
    def login(req: Request) -> tuple:
        return 200, {"access_token": "t"}

    def lister(items: list[Any]) -> Any:
        def handle(req: Request) -> tuple:
            return 200, {"count": len(items), "result": items}
        return handle

    server.routes[("GET", "/api/v1/saved_query/")] = lister(SAVED)
    server.routes[("GET", "/api/v1/chart/")] = lister([])
    server.routes[("GET", "/api/v1/query/")] = lister([])


def test_nul_is_dropped_and_a_refused_row_is_one_failed_item(api: Any, replay: ReplayServer) -> None:
    _superset(replay)
    conn = make_connector(api, "superset", {"base_url": replay.url}, {"username": "u", "password": "p"})
    job = run_sync(api, conn["id"])
    assert job["status"] == "partial", job
    assert (job["items_seen"], job["items_upserted"], job["items_failed"]) == (3, 2, 1), job
    assert len(job["errors"]) == 1 and job["errors"][0].startswith("saved_query 2: not stored"), job
    assert not any("internal error" in e for e in job["errors"])
    rows = {r["resource_id"]: r for r in bi_queries(api, conn["id"])}
    assert set(rows) == {"1", "3"}
    nul = rows["1"]
    assert nul["title"] == "nultitle" and nul["executed_by"] == "Ada Lovelace"
    assert "\x00" not in nul["sql_text"] and "John" not in nul["sql_text"] and "Smith" not in nul["sql_text"]
    assert nul["sql_text"] == "SELECT ab FROM sales.orders WHERE note = ? AND name = ?"
    assert nul["referenced_tables"] == ["sales.orders"]
    assert "JohnSmith" not in nul["referenced_columns"]
