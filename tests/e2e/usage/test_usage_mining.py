"""Query-log mining: Snowflake (SQL API) and BigQuery (jobs.query / getQueryResults) against replays of their
REST APIs, PostgreSQL against the real embedded server's pg_stat_statements. Each is incremental."""

from __future__ import annotations

import uuid
from typing import Any

from usage_helpers import bi_queries, make_connector, run_mining
from usage_replay import Once, ReplayServer, Request

SF_ROWS = [  # query_id, query_text, user_name, role_name, database_name, schema_name, start_ms
    ["01b2-0001", "SELECT o.id, u.email FROM ANALYTICS.PUBLIC.ORDERS o JOIN ANALYTICS.PUBLIC.USERS u "
                  "ON o.user_id = u.id WHERE o.amount > 250", "LOOKER_SVC", "BI", "ANALYTICS", "PUBLIC",
     "1738743467388"],
    ["01b2-0002", "select count(*) from orders where status = 'open'", "ADA", "ANALYST", "ANALYTICS", "PUBLIC",
     "1738743500000"],
    ["01b2-0003", "SELECT * FROM ANALYTICS.PUBLIC.PAYMENTS", "ADA", "ANALYST", "ANALYTICS", "PUBLIC",
     "1738743600000"],
    ["01b2-0004", "select 1", "ADA", "ANALYST", "ANALYTICS", "PUBLIC", "not-a-time"],
]
SF_COLUMNS = ["QUERY_ID", "QUERY_TEXT", "USER_NAME", "ROLE_NAME", "DATABASE_NAME", "SCHEMA_NAME", "START_MS"]


def test_snowflake_mining(api: Any, replay: ReplayServer) -> None:
    once = Once()
    state: dict[str, Any] = {"rows": list(SF_ROWS)}

    @replay.route("POST", "/api/v2/statements")
    def submit(req: Request) -> tuple:
        if req.headers.get("authorization") != "Bearer sf-token" or \
                req.headers.get("x-snowflake-authorization-token-type") != "PROGRAMMATIC_ACCESS_TOKEN":
            return 401, {"code": "390303", "message": "Invalid OAuth access token."}
        if once.first("submit"):
            return 429, {"message": "Too many requests"}, {"Retry-After": "0"}
        body = req.json()
        assert "ACCOUNT_USAGE.QUERY_HISTORY" in body["statement"].upper()
        since = int(body["bindings"]["1"]["value"])
        state["since"] = since
        rows = [r for r in state["rows"] if not r[6].isdigit() or int(r[6]) >= since]
        state["result"] = rows
        # Still running: the client polls the status URL, then reads partition 1 separately.
        return 202, {"code": "333334", "statementHandle": "h-1", "statementStatusUrl": "/api/v2/statements/h-1"}

    @replay.route("GET", "/api/v2/statements/h-1")
    def status(req: Request) -> tuple:
        rows = state["result"]
        if req.arg("partition") == "1":
            return 200, {"data": rows[2:]}
        parts = [{"rowCount": min(len(rows), 2)}] + ([{"rowCount": len(rows) - 2}] if len(rows) > 2 else [])
        return 200, {"code": "090001", "statementHandle": "h-1", "data": rows[:2], "resultSetMetaData": {
            "numRows": len(rows), "format": "jsonv2", "partitionInfo": parts,
            "rowType": [{"name": c, "type": "text"} for c in SF_COLUMNS]}}

    conn = make_connector(api, "snowflake", {"base_url": replay.url, "warehouse": "WH", "poll_s": 1,
                                             "overlap_minutes": 1, "lookback_days": 3650},
                          {"token": "sf-token", "token_type": "PROGRAMMATIC_ACCESS_TOKEN"})
    body = run_mining(api, conn["id"])
    assert body["kind"] == "query_log_mining" and body["started_at"] and body["finished_at"]
    assert body["rows_upserted"] == 3 and body["items_failed"] == 1 and body["status"] == "partial"
    rows = {q["resource_id"]: q for q in bi_queries(api, conn["id"])}
    first = rows["01b2-0001"]
    assert first["resource_type"] == "query_log" and first["executed_by"] == "LOOKER_SVC"
    assert sorted(first["referenced_tables"]) == ["ANALYTICS.PUBLIC.ORDERS", "ANALYTICS.PUBLIC.USERS"]
    assert "250" not in first["sql_text"] and first["executed_at"].startswith("2025-02-05T08:17:47.388")
    assert rows["01b2-0002"]["referenced_tables"] == ["PUBLIC.orders"]  # the session's schema qualifies it

    # Incremental: the next run starts at the newest start_time minus the overlap; nothing new is counted.
    refund = ["01b2-0005", "SELECT * FROM ANALYTICS.PUBLIC.REFUNDS", "BOB", "R", "A", "PUBLIC", "1738750000000"]
    state["rows"] = [*SF_ROWS[:3], refund]
    assert run_mining(api, conn["id"])["rows_upserted"] == 1
    assert state["since"] == 1738743600000 - 60_000
    assert run_mining(api, conn["id"])["rows_upserted"] == 0


def _bq_row(job_id: str, created: str, user: str, query: str, tables: list[tuple[str, str, str]]) -> dict[str, Any]:
    refs = [{"v": {"f": [{"v": p}, {"v": d}, {"v": t}]}} for p, d, t in tables]
    return {"f": [{"v": job_id}, {"v": created}, {"v": user}, {"v": query}, {"v": "SELECT"}, {"v": refs}]}


BQ_SCHEMA = {"fields": [
    {"name": "job_id", "type": "STRING", "mode": "NULLABLE"},
    {"name": "creation_time", "type": "TIMESTAMP", "mode": "NULLABLE"},
    {"name": "user_email", "type": "STRING", "mode": "NULLABLE"},
    {"name": "query", "type": "STRING", "mode": "NULLABLE"},
    {"name": "statement_type", "type": "STRING", "mode": "NULLABLE"},
    {"name": "referenced_tables", "type": "RECORD", "mode": "REPEATED", "fields": [
        {"name": "project_id", "type": "STRING"}, {"name": "dataset_id", "type": "STRING"},
        {"name": "table_id", "type": "STRING"}]}]}


def test_bigquery_mining(api: Any, replay: ReplayServer) -> None:
    once = Once()
    all_rows = [
        _bq_row("bquxjob_1", "1.738742267388E9", "looker-sa@acme-prod.iam.gserviceaccount.com",
                "SELECT region, SUM(amount) FROM `acme-prod.sales.orders` WHERE region = 'EU' GROUP BY 1",
                [("acme-prod", "sales", "orders"), ("acme-prod", "_0f1e", "anon4b7")]),
        _bq_row("bquxjob_2", "1.738742300000E9", "ada@acme.com",
                "WITH t AS (SELECT * FROM sales.customers) SELECT * FROM t WHERE ltv > 10", []),
        {"f": [{"v": "bquxjob_bad"}]},  # malformed: a row with missing cells
    ]
    seen: dict[str, Any] = {}

    @replay.route("POST", "/bq/projects/acme-prod/queries")
    def query(req: Request) -> tuple:
        if req.headers.get("authorization") != "Bearer bq-token":
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        if once.first("q"):
            return 503, {"error": {"code": 503, "status": "UNAVAILABLE"}}
        body = req.json()
        assert "`acme-prod`.`region-eu`.INFORMATION_SCHEMA.JOBS" in body["query"] and not body["useLegacySql"]
        seen["since"] = body["queryParameters"][0]["parameterValue"]["value"]
        return 200, {"kind": "bigquery#queryResponse", "jobComplete": False,
                     "jobReference": {"projectId": "acme-prod", "jobId": "job-9", "location": "EU"}}

    @replay.route("GET", "/bq/projects/acme-prod/queries/job-9")
    def results(req: Request) -> tuple:
        rows = all_rows if seen["since"].startswith("20") and seen["since"] < "2025-02-05T07:57" else []
        if req.arg("pageToken") == "p2":
            return 200, {"jobComplete": True, "schema": BQ_SCHEMA, "rows": rows[1:], "totalRows": str(len(rows))}
        return 200, {"jobComplete": True, "schema": BQ_SCHEMA, "rows": rows[:1], "totalRows": str(len(rows)),
                     "pageToken": "p2" if len(rows) > 1 else None,
                     "jobReference": {"projectId": "acme-prod", "jobId": "job-9", "location": "EU"}}

    conn = make_connector(api, "bigquery", {"project": "acme-prod", "region": "EU", "base_url": replay.url + "/bq",
                                            "lookback_days": 3650},
                          {"access_token": "bq-token"})
    job = run_mining(api, conn["id"])
    assert job["rows_upserted"] == 2 and job["items_failed"] == 1
    rows = {q["resource_id"]: q for q in bi_queries(api, conn["id"])}
    one = rows["bquxjob_1"]
    # The job's referenced_tables (anonymous result dataset excluded) and the parsed SQL agree.
    assert one["referenced_tables"] == ["acme-prod.sales.orders"] and "'EU'" not in one["sql_text"]
    assert one["executed_at"].startswith("2025-02-05T07:57:47.388")
    assert rows["bquxjob_2"]["referenced_tables"] == ["sales.customers"]  # the CTE name is not a table
    assert [r.arg("location") for r in replay.hits("GET", "/bq/projects/acme-prod/queries/job-9")] == ["EU", "EU"]
    # Incremental: the next run asks only for jobs after the newest creation_time it stored.
    assert run_mining(api, conn["id"])["rows_upserted"] == 0 and seen["since"].startswith("2025-02-05T07:58:20")


def test_postgres_mining_real_pg_stat_statements(api: Any, external_pg: Any) -> None:
    # A server of its own: the platform database is an endpoint no connector may reach.
    pg = external_pg.server
    schema = f"usage_mine_{uuid.uuid4().hex[:8]}"
    app = pg.connect("telltale", "telltale")
    try:
        app.run(f"CREATE SCHEMA {schema}")
        app.run(f"CREATE TABLE {schema}.invoices (id int, customer text, total numeric)")
        for v in ("C-1", "C-2", "C-3"):
            app.run(f"SELECT id, total FROM {schema}.invoices WHERE customer = :c", c=v)

        conn = make_connector(api, "postgres", {"host": "127.0.0.1", "port": pg.port,
                                                "database": "telltale"}, {"user": "telltale",
                                                                    "password": pg.password("telltale")})
        assert run_mining(api, conn["id"])["rows_upserted"] >= 1

        def ours() -> list[dict[str, Any]]:
            return [q for q in bi_queries(api, conn["id"]) if f"{schema}.invoices" in q["referenced_tables"]]

        rows = ours()
        assert len(rows) == 1
        row = rows[0]
        assert row["execution_count"] == 3 and row["executed_by"] == "telltale"
        assert "C-1" not in row["sql_text"] and "customer = ?" in row["sql_text"]
        assert set(row["referenced_columns"]) >= {"id", "total", "customer"}

        # Nothing new for our statement: no new row. Two more calls: one row for the delta of 2.
        run_mining(api, conn["id"])
        assert len(ours()) == 1
        for v in ("C-4", "C-5"):
            app.run(f"SELECT id, total FROM {schema}.invoices WHERE customer = :c", c=v)
        run_mining(api, conn["id"])
        counts = sorted(q["execution_count"] for q in ours())
        assert counts == [2, 3]
    finally:
        app.run(f"DROP SCHEMA {schema} CASCADE")
        app.close()


def test_mining_rejects_bi_connectors_and_bad_hosts(api: Any) -> None:
    sup = make_connector(api, "superset", {"base_url": "http://127.0.0.1:9"}, {"username": "u", "password": "p"})
    r = api.post(f"/connectors/{sup['id']}/query-log-mining")
    assert r.status_code == 400 and "mining supports" in r.json()["message"]
    pg = make_connector(api, "postgres", {"host": "127.0.0.1", "port": 9, "database": "x", "timeout_s": 2},
                        {"user": "u", "password": "hunter2"})
    job = run_mining(api, pg["id"])
    assert job["status"] == "failed" and job["rows_upserted"] == 0
    assert "hunter2" not in str(job) and "cannot connect" in job["errors"][0]
