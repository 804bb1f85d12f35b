"""Connectors, spaces and products over HTTP: validation naming the field, credentials never returned,
tenant isolation, and the secret stored in Secrets Manager."""

from __future__ import annotations

import uuid
from typing import Any

from usage_helpers import make_space


def test_connector_crud_and_secrets(api: Any) -> None:
    name = f"sup-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "type": "superset", "config": {"base_url": "https://bi.example.com"},
            "credentials": {"username": "svc", "password": "s3cret-pw"}}
    r = api.post("/connectors", json=body)
    assert r.status_code == 201, r.text
    conn = r.json()
    assert conn["type"] == "superset" and conn["is_bi"] and "s3cret-pw" not in r.text and "credentials" not in conn
    cid = conn["id"]

    # The secret is in Secrets Manager under the connector's name, not in the database row.
    from telltale import secrets
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
    r = api.post("/connectors", json={"name": "x", "type": "superset", "config": {
        "base_url": "http://169.254.169.254/latest"}, "credentials": {"username": "u", "password": "p"}})
    assert r.status_code == 400 and "link-local" in r.json()["errors"]["config.base_url"][0]
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
