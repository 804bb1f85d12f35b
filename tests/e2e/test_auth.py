"""The gateway's JWT rules (as the deployed authorizer's) and the tenant rules in the handlers."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

pytestmark = pytest.mark.e2e

ROUTE = "/api/apps/shop/secrets/types/"
PG_VALUE = {"host": "db.example.com", "port": 5432, "database": "analytics_db", "username": "readonly_user",
            "password": "secure_password"}


def _status(api, token: str | None, **headers: str) -> int:
    h = dict(headers)
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    return api.request("GET", ROUTE, tenant=None, headers=h).status_code


def test_missing_token_is_401(api):
    r = api.request("GET", ROUTE, tenant=None)
    assert r.status_code == 401
    assert r.json() == {"message": "Unauthorized: no token: send Authorization: Bearer <JWT>"}
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize("change", ["signature", "issuer", "audience", "expired", "garbage", "no-sub"])
def test_invalid_tokens_are_401(api, change):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from telltale_local import tokens

    data_dir = api.stack.data_dir
    if change == "signature":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        claims = jwt.decode(api.token(), options={"verify_signature": False})
        token = jwt.encode(claims, other, algorithm="RS256")
    elif change == "issuer":
        token = tokens.mint(data_dir, tenant="demo", issuer="https://evil.example")
    elif change == "audience":
        token = tokens.mint(data_dir, tenant="demo", audience="someone-else")
    elif change == "expired":
        token = tokens.mint(data_dir, tenant="demo", ttl_seconds=-3600)
    elif change == "no-sub":
        private, _ = tokens.ensure_keys(data_dir)
        now = int(time.time())
        token = jwt.encode({"iss": tokens.LOCAL_ISSUER, "aud": tokens.LOCAL_AUDIENCE, "exp": now + 60,
                            "tenant_id": "demo"}, private, algorithm="RS256")
    else:
        token = "not.a.jwt"
    r = api.request("GET", ROUTE, tenant=None, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    # The reason names what to fix (as API Gateway's WWW-Authenticate does), and never quotes the token.
    says = {"signature": "signed by another key", "issuer": "not issued by", "audience": "audience (aud) is not",
            "expired": "has expired", "garbage": "not a well-formed JWT", "no-sub": "has no sub claim"}[change]
    assert says in r.json()["message"] and says in r.headers["www-authenticate"], r.text
    assert token not in r.text and (change == "garbage" or token.split(".")[1] not in r.text)


def test_none_algorithm_is_401(api):
    claims = jwt.decode(api.token(), options={"verify_signature": False})
    token = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    assert _status(api, token) == 401


def test_valid_token_is_200_and_reply_never_echoes_it(api):
    token = api.token()
    r = api.request("GET", ROUTE, tenant=None, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert token not in r.text
    assert token.split(".")[1] not in r.text


def test_a_token_without_the_bearer_prefix_is_accepted_as_api_gateway_does(api):
    r = api.request("GET", ROUTE, tenant=None, headers={"Authorization": api.token()})
    assert r.status_code == 200
    assert api.request("GET", ROUTE, tenant=None, headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 401


def test_tenant_header_must_match_the_token(api):
    assert _status(api, api.token("demo"), **{"x-tenant-uuid": "other"}) == 403
    assert _status(api, api.token("demo"), **{"x-tenant-uuid": "demo"}) == 200


@pytest.mark.parametrize("field", ["tenant_id", "tenantId", "tenant_uuid", "tenant"])
def test_a_body_naming_another_tenant_is_403_and_writes_nothing(api, field):
    key = f"k-{field.lower()}-{uuid.uuid4().hex[:6]}"
    body = {"key": key, "type_slug": "analytics-postgres", "value": PG_VALUE, field: "other"}
    r = api.post("/api/apps/shop/secrets/", json=body)
    assert r.status_code == 403 and field in r.json()["message"]
    assert api.get(f"/api/apps/shop/secrets/{key}/").status_code == 404
    assert api.get(f"/api/apps/shop/secrets/{key}/", tenant="other").status_code == 404

    slug = f"app_{uuid.uuid4().hex[:6]}"
    assert api.post("/api/apps/", json={"slug": slug, "name": "X", field: "other"}).status_code == 403
    assert slug not in {a["slug"] for a in api.get("/api/apps/").json()["data"]}


@pytest.mark.parametrize(("path", "body"), [
    ("/api/analysis/user-behavior", {"user_id": "x", "tenant_id": "other"}),  # reads its body by hand
    ("/api/analytics/query", {"eventType": "a.b", "tenantId": "other"}),
    ("/spaces/nowhere/usage/aggregate", {"tenant_id": "other"}),  # takes no body at all
    ("/api/keys", {"name": "k", "tenant": "other"}),
    ("/api/analytics/events", r'{"eventType": "a.b", "\u0074enantId": "other"}'),  # a key spelt with an escape
])
def test_every_jwt_route_refuses_a_body_naming_another_tenant(api, path, body):
    import json

    text = body if isinstance(body, str) else json.dumps(body)
    r = api.post(path, data=text, headers={"Content-Type": "application/json"})
    assert r.status_code == 403, r.text


def test_a_route_whose_body_carries_a_tenant_as_data_is_not_refused(api):
    # Spec 003: active-users rows are per SaaS customer, whose tenant_id is data, not the caller.
    r = api.put("/api/analysis/active-users", json={
        "type": "daily", "date": "2026-04-01", "tenant_id": "69e732d6-8ecc-45c4-c2eb-8438f7ffe775", "env_id": 1,
        "active_users": 3})
    assert r.status_code == 200, r.text


def test_a_tenant_mismatch_is_reported_before_what_is_wrong_with_the_body(api):
    r = api.post("/api/apps/shop/secrets/", json={"key": "x"}, headers={"x-tenant-uuid": "other"})
    assert r.status_code == 403 and "x-tenant-uuid" in r.json()["message"]


def test_a_body_naming_the_tokens_own_tenant_is_accepted(api):
    key = f"own-{uuid.uuid4().hex[:6]}"
    body = {"key": key, "type_slug": "analytics-postgres", "value": PG_VALUE, "tenant_id": "demo"}
    assert api.post("/api/apps/shop/secrets/", json=body).status_code == 201
    assert api.delete(f"/api/apps/shop/secrets/{key}/").status_code == 200


def test_a_saved_query_body_naming_another_tenant_is_403(api):
    base = "/api/apps/shop/analytics/queries"
    r = api.post(f"{base}/", json={"name": "Cross", "connection_type": "internal", "tenantId": "other",
                                   "query_text": "SELECT 1"})
    assert r.status_code == 403
    slug = f"q-{uuid.uuid4().hex[:6]}"
    assert api.post(f"{base}/", json={"name": slug, "connection_type": "internal",
                                      "query_text": "SELECT 1"}).status_code == 201
    r = api.post(f"{base}/{slug}/execute/", json={"params": {}, "tenant_id": "other"})
    assert r.status_code == 403 and "tenant_id" in r.json()["message"]
    assert api.post(f"{base}/{slug}/execute/", json={"params": {}, "tenant_id": "demo"}).status_code == 200


def test_token_without_tenant_is_403(api):
    from telltale_local import tokens

    token = tokens.mint(api.stack.data_dir, tenant="")
    assert _status(api, token) == 403


def test_unknown_route_is_404(api):
    assert api.get("/api/nothing-here").status_code == 404


def test_swagger_ui_and_openapi_are_served(api):
    r = api.request("GET", "/swagger", tenant=None)
    assert r.status_code == 200 and "swagger-ui" in r.text.lower()
    spec = api.request("GET", "/swagger?format=json", tenant=None)
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/apps/{app_slug}/secrets/" in paths
    assert "/api/apps/{app_slug}/secrets/types/" in paths
