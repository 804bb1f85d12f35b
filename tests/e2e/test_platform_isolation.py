"""A tenant's connection secret cannot reach the platform database: the outbound policy never connects to
its endpoint (telltale.platform.netguard), whatever TELLTALE_ALLOWED_NETWORKS says; and were that layer off, TCP
logins need the role's password, which only the platform holds (locally: in the data folder, mode 600)."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("user", ["postgres", "telltale"])
def test_guessed_platform_credentials_are_refused(api, local_stack, user):
    key = f"platform-{user}-{uuid.uuid4().hex[:6]}"
    r = api.post("/api/apps/shop/secrets/", json={"key": key, "type_slug": "analytics-postgres", "value": {
        "host": "127.0.0.1", "port": local_stack.pg.port, "database": "telltale", "username": user,
        "password": "guess"}})
    assert r.status_code == 201, r.text
    name = f"Steal {uuid.uuid4().hex[:6]}"
    r = api.post("/api/apps/shop/analytics/queries/", json={
        "name": name, "secret_key": key, "query_text": "SELECT tenant_id, key FROM platform.secrets"})
    assert r.status_code == 201, r.text
    slug = r.json()["data"]["slug"]
    r = api.post(f"/api/apps/shop/analytics/queries/{slug}/execute/", json={"params": {}})
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["code"] == "ConnectorError" and "data" not in body
    assert "platform's own database" in body["message"] and body["details"]["category"] == "not allowed"
    assert "guess" not in r.text and local_stack.pg.password(user) not in r.text
    assert (local_stack.pg.password_file.stat().st_mode & 0o077) == 0
