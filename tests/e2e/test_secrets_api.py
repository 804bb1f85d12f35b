"""The secrets API over HTTP (spec 000, steps 1 and 2), and the auth rules in front of it."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.e2e

TYPES = {"analytics-postgres", "analytics-mysql", "analytics-redshift", "analytics-elasticsearch",
         "analytics-clickhouse"}
PG_VALUE = {"host": "db.example.com", "port": 5432, "database": "analytics_db", "username": "readonly_user",
            "password": "secure_password"}


def test_secret_types_are_seeded(api):
    r = api.get("/api/apps/shop/secrets/types/")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success"
    assert {t["slug"] for t in body["data"]} >= TYPES  # other tests may seed extra (unsupported) types
    pg = next(t for t in body["data"] if t["slug"] == "analytics-postgres")
    fields = {f["name"]: f for f in pg["fields"]}
    assert {n for n, f in fields.items() if f["required"]} == {"host", "port", "database", "username", "password"}
    es = next(t for t in body["data"] if t["slug"] == "analytics-elasticsearch")
    es_fields = {f["name"]: f for f in es["fields"]}
    assert es_fields["port"]["default"] == 9200 and not es_fields["port"]["required"]
    assert es_fields["max_result_rows"]["default"] == 10000


def test_secret_round_trip_never_returns_the_value(api):
    key = f"pg-{uuid.uuid4().hex[:8]}"
    r = api.post("/api/apps/shop/secrets/", json={"key": key, "type_slug": "analytics-postgres", "value": PG_VALUE})
    assert r.status_code == 201, r.text
    assert "secure_password" not in r.text
    assert r.json()["data"]["key"] == key

    # Other tests add secrets to the same app: walk the pages (ordered by key) to find this one.
    keys: set[str] = set()
    for page in range(1, 50):
        listed = api.get("/api/apps/shop/secrets/", params={"page": page, "page_size": 100})
        assert listed.status_code == 200
        keys |= {s["key"] for s in listed.json()["data"]}
        if key in keys or not listed.json()["data"]:
            break
    assert key in keys
    assert "secure_password" not in listed.text and "readonly_user" not in listed.text

    got = api.get(f"/api/apps/shop/secrets/{key}/")
    assert got.status_code == 200
    assert got.json()["data"]["type_slug"] == "analytics-postgres"
    assert "secure_password" not in got.text and "value" not in got.json()["data"]

    # The value really is in Secrets Manager, under the tenant's and app's name.
    from telltale.secrets.lookup import resolve

    secret = resolve("demo", "shop", key)
    type_slug, value = secret.type_slug, secret.value
    assert type_slug == "analytics-postgres" and value["password"] == "secure_password"
    assert value["ssl"] is False  # the type's default was filled in

    dup = api.post("/api/apps/shop/secrets/", json={"key": key, "type_slug": "analytics-postgres", "value": PG_VALUE})
    assert dup.status_code == 409
    assert key in dup.json()["message"]

    assert api.delete(f"/api/apps/shop/secrets/{key}/").status_code == 200
    assert api.get(f"/api/apps/shop/secrets/{key}/").status_code == 404
    assert api.delete(f"/api/apps/shop/secrets/{key}/").status_code == 404
    _assert_gone_from_secrets_manager("demo", "shop", key)


def _assert_gone_from_secrets_manager(tenant: str, app: str, key: str) -> None:
    from botocore.exceptions import ClientError

    from telltale.platform import aws
    from telltale.secrets import store as secrets

    with pytest.raises(ClientError) as err:
        aws.client("secretsmanager").get_secret_value(SecretId=secrets.secret_name(tenant, app, key))
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_rotation_replaces_the_value_and_never_returns_it(api):
    from telltale.secrets.lookup import resolve

    key = f"pg-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/apps/shop/secrets/", json={"key": key, "type_slug": "analytics-postgres",
                                                     "value": PG_VALUE}).status_code == 201
    rotated = dict(PG_VALUE, password="rotated-pass-9")
    r = api.put(f"/api/apps/shop/secrets/{key}/", json={"value": rotated, "description": "rotated"})
    assert r.status_code == 200, r.text
    assert "rotated-pass-9" not in r.text and "value" not in r.json()["data"]
    assert r.json()["data"]["description"] == "rotated"
    assert resolve("demo", "shop", key).value["password"] == "rotated-pass-9"

    # The type cannot be changed by a PUT; saying so is a 400 that names the field, not a silent no-op.
    r = api.put(f"/api/apps/shop/secrets/{key}/", json={"value": rotated, "type_slug": "analytics-mysql"})
    assert r.status_code == 400 and "type_slug" in r.json()["errors"]
    assert api.get(f"/api/apps/shop/secrets/{key}/").json()["data"]["type_slug"] == "analytics-postgres"
    assert api.delete(f"/api/apps/shop/secrets/{key}/").status_code == 200


def test_unknown_type_lists_the_known_ones(api):
    r = api.post("/api/apps/shop/secrets/", json={"key": "k1", "type_slug": "postgres", "value": PG_VALUE})
    assert r.status_code == 400
    for slug in TYPES:
        assert slug in r.json()["message"]


@pytest.mark.parametrize("type_slug", ["analytics-redshift", "analytics-clickhouse"])
def test_port_is_required_as_the_spec_table_says(api, type_slug):
    types = {t["slug"]: t for t in api.get("/api/apps/shop/secrets/types/").json()["data"]}
    assert next(f for f in types[type_slug]["fields"] if f["name"] == "port")["required"] is True
    value = {"host": "h", "database": "d", "username": "u", "password": "p"}
    r = api.post("/api/apps/shop/secrets/", json={"key": f"noport-{type_slug}", "type_slug": type_slug,
                                                  "value": value})
    assert r.status_code == 400 and "value.port" in r.json()["errors"]


def test_value_is_validated_against_the_type(api):
    r = api.post("/api/apps/shop/secrets/", json={"key": "bad", "type_slug": "analytics-clickhouse",
                                                  "value": {"host": "ch", "port": "not-a-port", "secret": 1}})
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert "value.port" in errors and "value.database" in errors and "value.username" in errors
    assert "value.secret" in errors  # unknown fields are named, not silently stored
    assert api.get("/api/apps/shop/secrets/bad/").status_code == 404  # nothing half-written


def test_secrets_are_per_tenant(api):
    key = f"iso-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/apps/shop/secrets/", json={"key": key, "type_slug": "analytics-postgres",
                                                     "value": PG_VALUE}).status_code == 201
    assert api.get(f"/api/apps/shop/secrets/{key}/", tenant="other").status_code == 404
    assert key not in {s["key"] for s in api.get("/api/apps/shop/secrets/", tenant="other").json()["data"]}
    # The other tenant can use the same key for its own secret.
    assert api.post("/api/apps/shop/secrets/", tenant="other",
                    json={"key": key, "type_slug": "analytics-postgres", "value": PG_VALUE}).status_code == 201


def test_unknown_app_is_404(api):
    r = api.get("/api/apps/nope/secrets/")
    assert r.status_code == 404 and "nope" in r.json()["message"]


def test_missing_body_and_bad_json_are_400(api):
    assert api.post("/api/apps/shop/secrets/").status_code == 400
    r = api.post("/api/apps/shop/secrets/", data="{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["message"]


def test_paging_is_validated(api):
    r = api.get("/api/apps/shop/secrets/?page=0&page_size=1000")
    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"page", "page_size"}


def test_patch_changes_the_description_alone_or_the_value(api):
    from telltale.secrets.lookup import resolve

    key = f"pg-{uuid.uuid4().hex[:8]}"
    assert api.post("/api/apps/shop/secrets/", json={"key": key, "type_slug": "analytics-postgres",
                                                     "value": PG_VALUE, "description": "old"}).status_code == 201
    r = api.request("PATCH", f"/api/apps/shop/secrets/{key}/", json={"description": "the reporting replica"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["description"] == "the reporting replica"
    assert resolve("demo", "shop", key).value.items() >= PG_VALUE.items()  # not resent, unchanged

    r = api.request("PATCH", f"/api/apps/shop/secrets/{key}/", json={"value": dict(PG_VALUE, password="p2")})
    assert r.status_code == 200 and "p2" not in r.text
    assert r.json()["data"]["description"] == "the reporting replica"
    assert resolve("demo", "shop", key).value["password"] == "p2"

    # Nothing to change, a bad value, or an unknown field: a 400 naming it, and nothing written.
    assert api.request("PATCH", f"/api/apps/shop/secrets/{key}/", json={}).status_code == 400
    r = api.request("PATCH", f"/api/apps/shop/secrets/{key}/", json={"value": {"host": "h"}, "description": "x"})
    assert r.status_code == 400 and "value.port" in r.json()["errors"], r.text
    assert api.get(f"/api/apps/shop/secrets/{key}/").json()["data"]["description"] == "the reporting replica"
    r = api.request("PATCH", f"/api/apps/shop/secrets/{key}/", json={"type_slug": "analytics-mysql"})
    assert r.status_code == 400 and "type_slug" in r.json()["errors"]
    assert api.request("PATCH", "/api/apps/shop/secrets/nope/", json={"description": "x"}).status_code == 404
    assert api.request("PATCH", f"/api/apps/shop/secrets/{key}/", json={"description": "x"},
                       tenant="other").status_code == 404
    assert api.delete(f"/api/apps/shop/secrets/{key}/").status_code == 200


def test_user_is_an_alias_of_username(api):
    """One credential vocabulary: a secret and a connector both take ``username``, and ``user`` for it."""
    from telltale.secrets.lookup import resolve

    key = f"pg-{uuid.uuid4().hex[:8]}"
    value = {k: v for k, v in PG_VALUE.items() if k != "username"} | {"user": "readonly_user"}
    r = api.post("/api/apps/shop/secrets/", json={"key": key, "type_slug": "analytics-postgres", "value": value})
    assert r.status_code == 201, r.text
    assert resolve("demo", "shop", key).value["username"] == "readonly_user"
    r = api.post("/api/apps/shop/secrets/", json={"key": key + "x", "type_slug": "analytics-postgres",
                                                  "value": dict(PG_VALUE, user="someone_else")})
    assert r.status_code == 400 and "value.user" in r.json()["errors"], r.text
    api.delete(f"/api/apps/shop/secrets/{key}/")

    connector = {"name": f"wh-{uuid.uuid4().hex[:6]}", "type": "postgres",
                 "config": {"host": "127.0.0.1", "port": 5432, "database": "analytics"}}
    for i, name in enumerate(("username", "user")):
        r = api.post("/connectors", json=dict(connector, name=f"{connector['name']}-{i}",
                                              credentials={name: "reader", "password": "x"}))
        assert r.status_code == 201, r.text
        api.delete(f"/connectors/{r.json()['id']}")
    r = api.post("/connectors", json=dict(connector, credentials={"password": "x"}))
    assert r.status_code == 400 and "username" in r.json()["errors"]["credentials"][0], r.text
