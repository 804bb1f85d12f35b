"""Metabase, Looker, Tableau and Power BI: BI syncs against replays of each tool's documented API, each with
pagination, a 429, an expired session (re-login) and a malformed item that is counted and skipped."""

from __future__ import annotations

from typing import Any

from usage_helpers import bi_queries, make_connector, run_sync
from usage_replay import Once, ReplayServer, Request, Tokens


def _guard(tokens: Tokens, header: str, prefix: str = "") -> Any:
    def deco(fn: Any) -> Any:
        def wrapper(req: Request) -> tuple:
            if not tokens.valid((req.headers.get(header) or "").removeprefix(prefix)):
                return 401, {"message": "Unauthenticated"}
            return fn(req)
        return wrapper
    return deco


def _sync(api: Any, conn: dict[str, Any]) -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, Any]]]:
    job = run_sync(api, conn["id"])
    rows = {(q["resource_type"], q["resource_id"]): q for q in bi_queries(api, conn["id"])}
    return job, rows


def test_metabase_sync(api: Any, replay: ReplayServer) -> None:
    tokens, once = Tokens(expire_after=3), Once()
    auth = _guard(tokens, "x-metabase-session")

    @replay.route("POST", "/api/session")
    def session(req: Request) -> tuple:
        return (200, {"id": tokens.issue()}) if req.json() == {"username": "u", "password": "p"} else (401, "no")

    cards = [
        {"id": 17, "name": "Orders by segment", "database_id": 2, "type": "question",
         "dataset_query": {"type": "native", "database": 2, "native": {
             "query": "SELECT c.segment, COUNT(*) FROM orders o JOIN customers c ON o.cid = c.id "
                      "[[WHERE o.created_at > {{since}}]] AND c.region = 'EMEA' GROUP BY 1"}},
         "last-edit-info": {"id": 3, "email": "ada@example.com", "timestamp": "2025-02-01T10:00:00Z"}},
        {"id": 18, "name": "Orders count (MBQL)", "dataset_query": {"type": "query", "database": 2, "query": {
            "source-table": 9, "joins": [{"source-table": 11, "alias": "Customers"}], "aggregation": [["count"]]}},
         "last-edit-info": {"email": "bob@example.com"}},
        {"id": 19, "name": "MBQL 5 native", "dataset_query": {"lib/type": "mbql/query", "database": 2, "stages": [
            {"lib/type": "mbql.stage/native", "native": "select * from public.payments where amount > 10"}]}},
        {"id": 20, "name": "malformed", "dataset_query": "not-an-object"},
    ]
    replay.routes[("GET", "/api/card")] = auth(lambda req: (200, cards))
    replay.routes[("GET", "/api/table/9")] = auth(lambda req: (200, {"id": 9, "name": "orders", "schema": "public"}))
    replay.routes[("GET", "/api/table/11")] = auth(lambda req: (200, {"id": 11, "name": "customers",
                                                                      "schema": "public"}))
    replay.routes[("GET", "/api/database/2")] = auth(lambda req: (200, {"id": 2, "engine": "postgres"}))
    replay.routes[("GET", "/api/collection/")] = auth(lambda req: (200, [{"id": 4, "name": "Sales"}]))
    dash_items = [{"id": 5, "model": "dashboard"}, {"id": 6, "model": "dashboard"}, {"id": 7, "model": "dashboard"}]

    @replay.route("GET", "/api/collection/4/items")
    @auth
    def items(req: Request) -> tuple:
        off, lim = int(req.arg("offset") or 0), int(req.arg("limit") or 50)
        if off == 1 and once.first("items"):
            return 429, {"message": "slow down"}, {"Retry-After": "0"}
        return 200, {"data": dash_items[off:off + lim], "total": len(dash_items), "limit": lim, "offset": off}

    replay.routes[("GET", "/api/collection/root/items")] = auth(lambda req: (200, {"data": [], "total": 0}))
    replay.routes[("GET", "/api/dashboard/5")] = auth(lambda req: (200, {"id": 5, "name": "Sales", "dashcards": [
        {"id": 88, "card": cards[0]}, {"id": 89, "card": None}]}))
    replay.routes[("GET", "/api/dashboard/6")] = auth(lambda req: (200, {"id": 6, "name": "Ops", "dashcards": [
        {"id": 90, "card": cards[1]}]}))
    # One dashboard the tool keeps failing on (after its retries): that item fails, the sync goes on.
    replay.routes[("GET", "/api/dashboard/7")] = auth(lambda req: (500, {"message": "boom"}))

    conn = make_connector(api, "metabase", {"base_url": replay.url, "page_size": 1}, {"username": "u", "password": "p"})
    job, rows = _sync(api, conn)
    assert (job["status"], job["items_seen"], job["items_failed"], job["items_upserted"]) == ("partial", 7, 2, 5)
    assert any("dashboard 7" in e and "500" in e for e in job["errors"]), job["errors"]
    assert len(tokens.issued) == 2  # the session expired and the scraper logged in again
    assert [r.arg("offset") for r in replay.hits("GET", "/api/collection/4/items")] == ["0", "1", "1", "2"]
    native = rows[("chart", "17")]
    assert sorted(native["referenced_tables"]) == ["customers", "orders"]
    assert "EMEA" not in native["sql_text"] and native["executed_by"] == "ada@example.com"
    assert sorted(rows[("chart", "18")]["referenced_tables"]) == ["public.customers", "public.orders"]
    assert rows[("chart", "18")]["sql_text"] is None
    assert rows[("chart", "19")]["referenced_tables"] == ["public.payments"]
    tile = rows[("dashboard_chart", "5:17")]
    assert tile["dashboard_title"] == "Sales" and tile["dashboard_url"] == f"{replay.url}/dashboard/5"


def test_looker_sync(api: Any, replay: ReplayServer) -> None:
    tokens, once = Tokens(expire_after=3), Once()
    auth = _guard(tokens, "authorization", "token ")

    @replay.route("POST", "/api/4.0/login")
    def login(req: Request) -> tuple:
        form = req.form()
        ok = form.get("client_id") == ["cid"] and form.get("client_secret") == ["sec"]
        return (200, {"access_token": tokens.issue(), "token_type": "Bearer", "expires_in": 3600}) if ok else (401, {})

    looks = [{"id": "88", "title": "Top customers", "query_id": "991", "user_id": "7", "user_name": "Ada",
              "last_viewed_at": "2025-02-05T08:31:02.000+00:00"},
             {"id": "89", "title": "Explore only", "query_id": "992", "query": {"id": "992", "model": "ecommerce",
                                                                              "view": "users"}},
             {"title": "malformed: no id"}]

    @replay.route("GET", "/api/4.0/looks/search")
    @auth
    def search_looks(req: Request) -> tuple:
        off, lim = int(req.arg("offset") or 0), int(req.arg("limit") or 100)
        if off == 2 and once.first("looks"):
            return 429, {"message": "Too Many Requests"}, {"Retry-After": "1"}
        return 200, looks[off:off + lim]

    replay.routes[("GET", "/api/4.0/dashboards/search")] = auth(
        lambda req: (200, [{"id": "12"}, {"id": "13"}] if int(req.arg("offset") or 0) == 0 else []))
    # A dashboard deleted between the search and the read: that item fails, the sync goes on.
    replay.routes[("GET", "/api/4.0/dashboards/13")] = auth(lambda req: (404, {"message": "Not found"}))
    replay.routes[("GET", "/api/4.0/dashboards/12")] = auth(lambda req: (200, {
        "id": "12", "title": "Revenue", "user_id": "7", "last_viewed_at": "2025-02-05T08:31:02.000+00:00",
        "dashboard_elements": [
            {"id": "301", "dashboard_id": "12", "title": "Revenue by region", "type": "vis", "query_id": "4455",
             "query": {"id": "4455", "model": "ecommerce", "view": "order_items"}},
            {"id": "303", "title": "Text", "type": "text"}]}))
    replay.routes[("GET", "/api/4.0/queries/991/run/sql")] = auth(lambda req: (
        200, "SELECT orders.customer_id, SUM(orders.total) FROM public.orders AS orders "
             "WHERE orders.status = 'complete' GROUP BY 1 LIMIT 500"))
    replay.routes[("GET", "/api/4.0/queries/4455/run/sql")] = auth(lambda req: (
        200, "SELECT users.region, SUM(order_items.sale_price) FROM public.order_items AS order_items "
             "LEFT JOIN public.users AS users ON order_items.user_id = users.id GROUP BY 1"))
    replay.routes[("GET", "/api/4.0/queries/992/run/sql")] = auth(lambda req: (403, {"message": "no see_sql"}))
    replay.routes[("GET", "/api/4.0/lookml_models/ecommerce/explores/users")] = auth(
        lambda req: (200, {"name": "users", "sql_table_name": "public.users"}))

    @replay.route("POST", "/api/4.0/queries/run/json")
    @auth
    def history(req: Request) -> tuple:
        body = req.json()
        assert (body["model"], body["view"]) == ("system__activity", "history")
        return 200, [{"history.id": 5001, "history.created_time": "2025-02-05 08:31:02", "user.email": "bob@x.com",
                      "query.id": "991", "history.dashboard_id": 12, "dashboard.title": "Revenue"},
                     {"history.created_time": "2025-02-05 08:32:00", "user.email": "no-id@x.com"}]

    conn = make_connector(api, "looker", {"base_url": replay.url, "page_size": 2},
                          {"client_id": "cid", "client_secret": "sec"})
    job, rows = _sync(api, conn)
    assert (job["status"], job["items_seen"], job["items_failed"], job["items_upserted"]) == ("partial", 7, 3, 4)
    assert any("dashboard" in e and "404" in e for e in job["errors"]), job["errors"]
    run = rows[("query_log", "5001")]
    assert run["executed_by"] == "bob@x.com" and run["executed_at"].startswith("2025-02-05T08:31:02")
    assert run["referenced_tables"] == ["public.orders"] and run["dashboard_url"] == f"{replay.url}/dashboards/12"
    assert len(tokens.issued) == 2
    looks_calls = replay.hits("GET", "/api/4.0/looks/search")
    assert len(looks_calls) == 3  # two pages, the second retried after a 429
    assert looks_calls[2].at - looks_calls[1].at >= 0.9  # ...no sooner than its Retry-After said
    look = rows[("chart", "88")]
    assert look["referenced_tables"] == ["public.orders"] and "complete" not in look["sql_text"]
    assert look["executed_by"] == "Ada" and look["executed_at"].startswith("2025-02-05T08:31:02")
    assert rows[("chart", "89")]["referenced_tables"] == ["public.users"]  # from LookML, no SQL
    tile = rows[("dashboard_chart", "12:301")]
    assert sorted(tile["referenced_tables"]) == ["public.order_items", "public.users"]
    assert tile["dashboard_url"] == f"{replay.url}/dashboards/12" and tile["dashboard_title"] == "Revenue"


def test_tableau_sync(api: Any, replay: ReplayServer) -> None:
    tokens, once = Tokens(expire_after=2), Once()
    auth = _guard(tokens, "x-tableau-auth")

    @replay.route("POST", "/api/3.22/auth/signin")
    def signin(req: Request) -> tuple:
        c = req.json()["credentials"]
        if c.get("personalAccessTokenName") != "pat" or c.get("personalAccessTokenSecret") != "s" \
                or c["site"]["contentUrl"] != "acme":
            return 401, {"error": {"code": "401001"}}
        return 200, {"credentials": {"token": tokens.issue(), "site": {"id": "site-1", "contentUrl": "acme"},
                                     "user": {"id": "u1"}}}

    sheets = [
        {"id": "s1", "luid": "sheet-1", "name": "Revenue", "path": "Superstore/Revenue",
         "updatedAt": "2025-02-01T10:00:00Z",
         "workbook": {"name": "Superstore", "owner": {"username": "ada", "email": "ada@example.com"}},
         "containedInDashboards": [{"id": "d1", "luid": "dash-1", "name": "Exec", "path": "Superstore/Exec"}],
         "upstreamTables": [{"name": "ORDERS", "schema": "PUBLIC", "fullName": "[PUBLIC].[ORDERS]"}]},
        {"id": "s2", "luid": "sheet-2", "name": "Broken", "upstreamTables": "oops"},
    ]
    custom = [{"id": "c1", "name": "Custom SQL Query", "connectionType": "snowflake",
               "query": "SELECT o.*, c.SEGMENT FROM ANALYTICS.PUBLIC.ORDERS o JOIN ANALYTICS.PUBLIC.CUSTOMERS c "
                        "ON o.CID = c.ID WHERE o.REGION = <[Parameters].[Region]> AND o.AMOUNT > 100",
               "tables": [{"name": "ORDERS", "schema": "PUBLIC"}]}]

    @replay.route("POST", "/api/metadata/graphql")
    @auth
    def graphql(req: Request) -> tuple:
        body = req.json()
        after = body["variables"].get("after")
        if "sheetsConnection" in body["query"]:
            if after == "c1" and once.first("gql"):
                return 429, {"message": "rate"}, {"Retry-After": "0"}
            if after == "c2":  # a page that is empty yet claims more: the scraper must stop here
                return 200, {"data": {"sheetsConnection": {"nodes": [], "pageInfo": {
                    "hasNextPage": True, "endCursor": "c2"}}}}
            i = 0 if after is None else 1
            return 200, {"data": {"sheetsConnection": {"nodes": [sheets[i]], "pageInfo": {
                "hasNextPage": True, "endCursor": "c1" if i == 0 else "c2"}}}}
        return 200, {"data": {"customSQLTablesConnection": {"nodes": custom, "pageInfo": {"hasNextPage": False}}}}

    conn = make_connector(api, "tableau", {"base_url": replay.url, "site": "acme", "page_size": 1},
                          {"pat_name": "pat", "pat_secret": "s"})
    job, rows = _sync(api, conn)
    assert (job["status"], job["items_seen"], job["items_failed"], job["items_upserted"]) == ("partial", 4, 1, 3)
    assert len(tokens.issued) == 2
    sheet = rows[("chart", "sheet-1")]
    assert sheet["referenced_tables"] == ["PUBLIC.ORDERS"] and sheet["executed_by"] == "ada@example.com"
    tile = rows[("dashboard_chart", "dash-1:sheet-1")]
    assert tile["dashboard_url"] == f"{replay.url}/#/site/acme/views/Superstore/Exec"
    sq = rows[("saved_query", "c1")]
    assert sorted(sq["referenced_tables"]) == ["ANALYTICS.PUBLIC.CUSTOMERS", "ANALYTICS.PUBLIC.ORDERS", "PUBLIC.ORDERS"]
    assert "100" not in sq["sql_text"] and "Parameters" not in sq["sql_text"]


def test_power_bi_sync(api: Any, replay: ReplayServer) -> None:
    tokens, once = Tokens(expire_after=3), Once()
    auth = _guard(tokens, "authorization", "Bearer ")

    @replay.route("POST", "/tenant-1/oauth2/v2.0/token")
    def token(req: Request) -> tuple:
        f = req.form()
        if f.get("grant_type") != ["client_credentials"] or f.get("client_secret") != ["sec"]:
            return 401, {"error": "invalid_client"}
        return 200, {"access_token": tokens.issue(), "token_type": "Bearer", "expires_in": 3599}

    groups = [{"id": "ws-1", "name": "Sales"}, {"id": "ws-2", "name": "Empty"}]

    @replay.route("GET", "/v1.0/myorg/admin/groups")
    @auth
    def list_groups(req: Request) -> tuple:
        top, skip = int(req.arg("$top") or 0), int(req.arg("$skip") or 0)
        if skip == 1 and once.first("groups"):
            return 429, {"error": "throttled"}, {"Retry-After": "0"}
        return 200, {"value": groups[skip:skip + top]}

    replay.routes[("POST", "/v1.0/myorg/admin/workspaces/getInfo")] = auth(
        lambda req: (202, {"id": "scan-1", "status": "NotStarted"}) if req.json()["workspaces"] == ["ws-1", "ws-2"]
        else (400, {}))
    replay.routes[("GET", "/v1.0/myorg/admin/workspaces/scanStatus/scan-1")] = auth(
        lambda req: (200, {"id": "scan-1", "status": "Succeeded"}))
    m_orders = ('let\n Source = Snowflake.Databases("acme.snowflakecomputing.com","WH"),\n'
                ' DB = Source{[Name="ANALYTICS",Kind="Database"]}[Data],\n'
                ' Sch = DB{[Name="PUBLIC",Kind="Schema"]}[Data],\n T = Sch{[Name="ORDERS",Kind="Table"]}[Data]\nin T')
    m_native = ('let Source = Value.NativeQuery(Snowflake.Databases("acme","WH"){[Name="ANALYTICS"]}[Data], '
                '"select * from PUBLIC.CUSTOMERS where ltv > 1000", null, [EnableFolding=true]) in Source')
    result = {"workspaces": [{"id": "ws-1", "name": "Sales", "reports": [
        {"id": "rep-1", "name": "Revenue", "datasetId": "ds-1", "modifiedDateTime": "2025-02-01T10:00:00",
         "modifiedBy": "ada@example.com"},
        {"name": "malformed: no id", "datasetId": "ds-1"}],
        "dashboards": [{"id": "dash-1", "displayName": "Exec", "tiles": [{"id": "t1", "title": "Revenue tile",
                                                                          "datasetId": "ds-1"}]}],
        "datasets": [{"id": "ds-1", "name": "SalesModel", "configuredBy": "ada@example.com", "tables": [
            {"name": "orders", "source": [{"expression": m_orders}]},
            {"name": "big_customers", "source": [{"expression": m_native}]}]}]}]}
    replay.routes[("GET", "/v1.0/myorg/admin/workspaces/scanResult/scan-1")] = auth(lambda req: (200, result))

    conn = make_connector(api, "power_bi", {"base_url": replay.url + "/v1.0/myorg", "page_size": 1,
                                            "token_url": replay.url + "/tenant-1/oauth2/v2.0/token",
                                            "scan_poll_s": 1}, {"client_id": "cid", "client_secret": "sec"})
    job, rows = _sync(api, conn)
    assert (job["status"], job["items_seen"], job["items_failed"], job["items_upserted"]) == ("partial", 4, 1, 3)
    assert len(tokens.issued) == 2
    skips = [r.arg("$skip") for r in replay.hits("GET", "/v1.0/myorg/admin/groups")]
    assert set(skips) == {"0", "1", "2"} and skips.count("1") == 2  # paged, and page 2 retried after a 429
    rep = rows[("chart", "rep-1")]
    assert rep["referenced_tables"] == ["PUBLIC.ORDERS"] and rep["executed_by"] == "ada@example.com"
    assert rep["dashboard_url"] == "https://app.powerbi.com/groups/ws-1/reports/rep-1"
    assert rows[("dashboard_chart", "dash-1:t1")]["dashboard_title"] == "Exec"
    native = rows[("saved_query", "ds-1:big_customers")]
    assert native["referenced_tables"] == ["PUBLIC.CUSTOMERS"] and "1000" not in native["sql_text"]


def test_metabase_api_key_and_failed_tool(api: Any, replay: ReplayServer) -> None:
    def needs_key(fn: Any) -> Any:
        return lambda req: fn(req) if req.headers.get("x-api-key") == "mb-key" else (401, "Unauthenticated")

    replay.routes[("GET", "/api/card")] = needs_key(lambda req: (200, [
        {"id": 1, "name": "n", "dataset_query": {"type": "native", "native": {"query": "select * from a.b"}}}]))
    replay.routes[("GET", "/api/collection/")] = needs_key(lambda req: (200, []))
    replay.routes[("GET", "/api/collection/root/items")] = needs_key(lambda req: (200, {"data": [], "total": 0}))
    conn = make_connector(api, "metabase", {"base_url": replay.url, "dialect": "postgres"}, {"api_key": "mb-key"})
    job, rows = _sync(api, conn)
    assert (job["status"], job["items_upserted"]) == ("succeeded", 1) and not replay.hits("POST", "/api/session")
    assert rows[("chart", "1")]["referenced_tables"] == ["a.b"]

    # The tool refusing the key ends the job as failed, with a message and no secret in it; rows stay.
    replay.routes[("GET", "/api/card")] = lambda req: (403, {"message": "forbidden"})
    job, rows = _sync(api, conn)
    assert job["status"] == "failed" and "403" in job["errors"][0] and "mb-key" not in str(job)
    assert ("chart", "1") in rows
