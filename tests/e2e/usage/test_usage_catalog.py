"""Connectors, spaces and products over HTTP: validation naming the field, credentials never returned,
tenant isolation, and the secret stored in Secrets Manager."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from usage_helpers import bi_queries, make_connector, make_space, run_sync
from usage_replay import ReplayServer, Request


def test_connector_crud_and_secrets(api: Any) -> None:
    name = f"sup-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "type": "superset", "config": {"base_url": "http://localhost:8088"},
            "credentials": {"username": "svc", "password": "s3cret-pw"}}
    r = api.post("/connectors", json=body)
    assert r.status_code == 201, r.text
    conn = r.json()
    assert conn["type"] == "superset" and conn["is_bi"] and "s3cret-pw" not in r.text and "credentials" not in conn
    cid = conn["id"]

    # The secret is in Secrets Manager under the connector's name, not in the database row.
    from telltale.secrets import store as secrets
    from telltale.usage.catalog import secret_name_for

    secret = secret_name_for("demo", cid)
    assert secret.endswith(f"/demo/connectors/{cid}")
    stored = secrets.read_secret_json(secret)
    assert stored == {"username": "svc", "password": "s3cret-pw"}
    row = api.get(f"/connectors/{cid}")
    assert row.status_code == 200 and "s3cret-pw" not in row.text

    assert api.post("/connectors", json=body).status_code == 409
    listed = api.get("/connectors?type=superset&page_size=100").json()
    assert any(c["id"] == cid for c in listed["items"]) and "s3cret-pw" not in str(listed)

    r = api.put(f"/connectors/{cid}", json={"credentials": {"username": "svc", "password": "rotated"}})
    assert r.status_code == 200 and "rotated" not in r.text
    secrets.reset_cache()
    assert secrets.read_secret_json(secret)["password"] == "rotated"
    r = api.put(f"/connectors/{cid}", json={"config": {"base_url": "ftp://nope"}})
    assert r.status_code == 400 and "config.base_url" in r.json()["errors"]

    assert api.get(f"/connectors/{cid}", tenant="other").status_code == 404
    assert api.delete(f"/connectors/{cid}", tenant="other").status_code == 404
    assert api.delete(f"/connectors/{cid}").status_code == 204
    assert api.get(f"/connectors/{cid}").status_code == 404
    secrets.reset_cache()
    try:
        secrets.read_secret_json(secret)
        raise AssertionError("the connector's secret outlived it")
    except Exception as exc:  # NotFound
        assert "not found" in str(exc)
    assert api.get("/connectors", tenant=None).status_code == 401


def test_connector_validation_names_fields(api: Any) -> None:
    r = api.post("/connectors", json={"name": "x", "type": "nope", "config": {}, "credentials": {}})
    assert r.status_code == 400 and "type" in r.json()["errors"]
    r = api.post("/connectors", json={"name": "x", "type": "superset", "config": {}, "credentials": {}})
    errors = r.json()["errors"]
    assert r.status_code == 400 and "config.base_url" in errors and "credentials" in errors
    r = api.post("/connectors", json={"name": "x", "type": "metabase", "config": {"base_url": "http://m"},
                                      "credentials": {"username": "only-user"}})
    assert r.status_code == 400 and "api_key" in r.json()["errors"]["credentials"][0]
    r = api.post("/connectors", json={"name": "x", "type": "bigquery", "config": {},
                                      "credentials": {"access_token": "t"}})
    assert r.status_code == 400 and "config.project" in r.json()["errors"]
    r = api.post("/connectors", json={"name": "x", "type": "postgres", "config": {"host": "h", "database": "d",
                                                                                   "port": "high"},
                                      "credentials": {"user": "u"}})
    assert r.status_code == 400 and "config.port" in r.json()["errors"]
    r = api.post("/connectors", json={"name": "", "type": "postgres", "extra": 1})
    assert r.status_code == 400 and {"name", "extra"} <= set(r.json()["errors"])
    assert api.post("/connectors", data="{not json", headers={"Content-Type": "application/json"}).status_code == 400


def test_spaces_and_products(api: Any) -> None:
    slug, ids = make_space(api, {"Orders": ["sales.orders", "sales.order_items"]})
    assert api.post("/spaces", json={"slug": slug, "name": "dup"}).status_code == 409
    assert api.post("/spaces", json={"slug": "Bad Slug", "name": "x"}).json()["errors"].keys() == {"slug"}
    assert api.get(f"/spaces/{slug}").json()["slug"] == slug
    assert api.get(f"/spaces/{slug}", tenant="other").status_code == 404
    assert api.put(f"/spaces/{slug}", json={"name": "Renamed"}).json()["name"] == "Renamed"

    pid = ids["Orders"]
    prod = api.get(f"/spaces/{slug}/products/{pid}").json()
    assert prod["tables"] == ["sales.orders", "sales.order_items"] and prod["usage"] is None
    r = api.post(f"/spaces/{slug}/products", json={"name": "Bad", "tables": ["sales.orders; drop"]})
    assert r.status_code == 400 and "tables" in r.json()["errors"]
    assert api.post(f"/spaces/{slug}/products", json={"name": "Orders", "tables": []}).status_code == 409
    r = api.put(f"/spaces/{slug}/products/{pid}", json={"tables": ["Sales.Orders"]})
    assert r.status_code == 200 and r.json()["tables"] == ["Sales.Orders"]
    listed = api.get(f"/spaces/{slug}/products").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == pid
    assert api.get(f"/spaces/{slug}/products/{pid}", tenant="other").status_code == 404
    assert api.get(f"/spaces/{slug}/products/not-a-uuid").status_code == 404
    assert api.delete(f"/spaces/{slug}/products/{pid}").status_code == 204
    assert api.get(f"/spaces/{slug}/products/{pid}").status_code == 404
    assert api.delete(f"/spaces/{slug}").status_code == 204
    assert api.get(f"/spaces/{slug}/products").status_code == 404


def test_sync_jobs_not_found(api: Any) -> None:
    assert api.get("/sync-jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert api.get("/sync-jobs/zzz").status_code == 404
    assert api.get("/connectors/00000000-0000-0000-0000-000000000000/sync-jobs").status_code == 404
    assert api.get("/connectors/00000000-0000-0000-0000-000000000000/bi-queries").status_code == 404


def test_openapi_documents_the_usage_routes(api: Any) -> None:
    r = api.get("/swagger?format=json", tenant=None)
    assert r.status_code == 200, r.text
    paths = r.json()["paths"]
    for route in ("/connectors", "/connectors/{connector_id}/bi-sync", "/connectors/{connector_id}/query-log-mining",
                  "/sync-jobs/{job_id}", "/spaces/{slug}/usage/aggregate", "/spaces/{slug}/usage/unused",
                  "/spaces/{slug}/usage/popular-queries", "/spaces/{slug}/products/{product_id}"):
        assert route in paths, route
    doc = paths["/connectors"]["post"]["description"]
    assert all(t in doc for t in ("superset", "metabase", "looker", "tableau", "power_bi", "snowflake", "bigquery",
                                  "postgres"))


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",   # the cloud metadata endpoint
    "http://[::ffff:169.254.169.254]/",           # the same, IPv4-mapped IPv6
    "http://2852039166/",                         # the same, as one decimal number
    "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",  # the Lambda runtime API
    "http://10.0.0.5/", "http://192.168.1.1/", "http://[fd00::1]/",
    "http://localhost:8088/",                     # a name that resolves to loopback
])
def test_connectors_cannot_target_private_addresses(api: Any, allowed_networks: Any, url: str) -> None:
    allowed_networks("")  # nothing private, as deployed
    r = api.post("/connectors", json={"name": "x", "type": "superset", "config": {"base_url": url},
                                      "credentials": {"username": "u", "password": "p"}})
    # Refused by the policy ("not allowed: ... TELLTALE_ALLOWED_NETWORKS"), or by form before it (2852039166).
    problem = r.json()["errors"]["config.base_url"][0]
    assert r.status_code == 400 and ("not allowed" in problem or "IPv4" in problem), r.text
    r = api.post("/connectors", json={"name": "x", "type": "power_bi", "config": {"token_url": url,
                                      "base_url": "http://localhost/"}, "credentials": {"client_id": "c",
                                                                                        "client_secret": "s"}})
    assert r.status_code == 400 and {"config.token_url", "config.base_url"} <= set(r.json()["errors"]), r.text
    r = api.post("/connectors", json={"name": "x", "type": "postgres", "config": {"host": "127.0.0.1",
                                      "database": "d"}, "credentials": {"user": "u"}})
    assert r.status_code == 400 and "config.host" in r.json()["errors"], r.text


def test_sync_checks_the_address_again_when_it_connects(api: Any, replay: ReplayServer,
                                                        allowed_networks: Any) -> None:
    """Saved while allowed (or before a DNS change); the connect-time check still refuses it."""
    replay.routes[("POST", "/api/v1/security/login")] = lambda req: (200, {"access_token": "t"})
    conn = make_connector(api, "superset", {"base_url": replay.url}, {"username": "u", "password": "p"})
    allowed_networks("")
    job = run_sync(api, conn["id"])
    assert job["status"] == "failed" and "TELLTALE_ALLOWED_NETWORKS" in job["errors"][0], job
    assert replay.requests == []  # not one byte reached it


def test_moving_a_connector_needs_its_credentials_again(api: Any, replay: ReplayServer) -> None:
    """Changing where the stored credentials are sent, without sending them again, would hand them to
    whoever runs the new address: a 400 naming the field."""
    seen: list[dict[str, Any]] = []

    @replay.route("POST", "/api/v1/security/login")
    def login(req: Request) -> tuple:
        seen.append(req.json())
        return 401, {"message": "no"}

    conn = make_connector(api, "superset", {"base_url": "http://localhost:1"},
                          {"username": "svc", "password": "stored-secret"})
    cid = conn["id"]
    r = api.put(f"/connectors/{cid}", json={"config": {"base_url": replay.url}})
    assert r.status_code == 400, r.text
    assert "config.base_url" in r.json()["errors"]["credentials"][0] and "stored-secret" not in r.text
    assert api.get(f"/connectors/{cid}").json()["config"]["base_url"] == "http://localhost:1"
    assert run_sync(api, cid)["status"] == "failed"
    assert seen == []  # the stored password never reached the new address

    # verify_tls too decides who can read the credentials in transit.
    r = api.put(f"/connectors/{cid}", json={"config": {"base_url": "http://localhost:1", "verify_tls": False}})
    assert r.status_code == 400 and "config.verify_tls" in r.json()["errors"]["credentials"][0]
    # Other settings change freely; with the credentials in the same request the address may change.
    r = api.put(f"/connectors/{cid}", json={"config": {"base_url": "http://localhost:1", "page_size": 20}})
    assert r.status_code == 200, r.text
    r = api.put(f"/connectors/{cid}", json={"config": {"base_url": replay.url},
                                            "credentials": {"username": "new", "password": "given-again"}})
    assert r.status_code == 200, r.text
    run_sync(api, cid)
    assert seen and seen[-1]["password"] == "given-again"
    assert bi_queries(api, cid) == []

    # Warehouses: the host (and port) of a PostgreSQL connector, the token URL of Power BI.
    pg = make_connector(api, "postgres", {"host": "127.0.0.1", "database": "x"}, {"user": "u", "password": "p"})
    r = api.put(f"/connectors/{pg['id']}", json={"config": {"host": "localhost", "database": "x"}})
    assert r.status_code == 400 and "config.host" in r.json()["errors"]["credentials"][0]
    pbi = make_connector(api, "power_bi", {"azure_tenant_id": "t1"}, {"client_id": "c", "client_secret": "s"})
    r = api.put(f"/connectors/{pbi['id']}", json={"config": {"azure_tenant_id": "t1",
                                                             "token_url": f"{replay.url}/token"}})
    assert r.status_code == 400 and "config.token_url" in r.json()["errors"]["credentials"][0]


@pytest.mark.parametrize(("ctype", "config", "field"), [
    ("superset", {"max_retries": "abc"}, "config.max_retries"),
    ("superset", {"page_size": 0}, "config.page_size"),
    ("looker", {"page_size": 0}, "config.page_size"),
    ("looker", {"history_days": -1}, "config.history_days"),
    ("power_bi", {"page_size": 0, "azure_tenant_id": "t"}, "config.page_size"),
    ("power_bi", {"scan_timeout_s": "soon", "azure_tenant_id": "t"}, "config.scan_timeout_s"),
    ("metabase", {"timeout_s": 0}, "config.timeout_s"),
    ("tableau", {"verify_tls": "maybe"}, "config.verify_tls"),
    ("snowflake", {"account": "x.evil.com/y"}, "config.account"),
    ("bigquery", {"project": "p", "lookback_days": 0}, "config.lookback_days"),
    ("postgres", {"host": "127.0.0.1", "database": "d", "port": 70000}, "config.port"),
])
def test_optional_config_is_validated(api: Any, ctype: str, config: dict[str, Any], field: str) -> None:
    creds = {"superset": {"username": "u", "password": "p"}, "metabase": {"api_key": "k"},
             "looker": {"client_id": "c", "client_secret": "s"}, "tableau": {"pat_name": "n", "pat_secret": "s"},
             "power_bi": {"client_id": "c", "client_secret": "s"}, "snowflake": {"token": "t"},
             "bigquery": {"access_token": "t"}, "postgres": {"user": "u"}}[ctype]
    base = {} if ctype in ("power_bi", "bigquery", "postgres", "snowflake") else {"base_url": "http://localhost:1"}
    r = api.post("/connectors", json={"name": f"c-{uuid.uuid4().hex[:6]}", "type": ctype,
                                      "config": {**base, **config}, "credentials": creds})
    assert r.status_code == 400 and field in r.json()["errors"], r.text
    assert not any("Value error" in m for msgs in r.json()["errors"].values() for m in msgs)


def test_messages_are_clean(api: Any) -> None:
    slug, _ = make_space(api, {})
    r = api.post(f"/spaces/{slug}/products", json={"name": "Bad", "tables": ["", "ok.table", "a;b"]})
    assert r.status_code == 400, r.text
    msg = r.json()["errors"]["tables"][0]
    assert not msg.startswith("Value error") and "an empty name" in msg and "'a;b'" in msg, msg


@pytest.mark.parametrize("port", [99999999999999999999, -1, 0, 65536, "abc", 1.5])
def test_an_impossible_postgres_port_is_a_400_on_the_port_alone(api: Any, port: Any) -> None:
    """The host is not resolved with a port that already failed (getaddrinfo raised OverflowError: a 500)."""
    r = api.post("/connectors", json={"name": "pg", "type": "postgres",
                                      "config": {"host": "localhost", "port": port, "database": "d"},
                                      "credentials": {"user": "u", "password": "p"}})
    assert r.status_code == 400, r.text
    assert set(r.json()["errors"]) == {"config.port"}, r.json()
