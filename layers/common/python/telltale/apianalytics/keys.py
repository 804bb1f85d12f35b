"""API keys: generated once, shown once, stored as a SHA-256 hash.

Keys are 256-bit random tokens, so a fast hash is enough (no password stretching needed): a lookup is
one indexed equality on the hash. A key belongs to the tenant whose token created it; every row logged
with it carries that tenant.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from telltale.platform import scoped
from telltale.platform.errors import NotFound, Unauthorized, uuid_or_404

HEADER = "x-auth-token"
PREFIX = "tt_"


class ApiKey(BaseModel, frozen=True):
    id: str
    tenant_id: str


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create(tenant_id: str, user_id: str, name: str = "") -> dict[str, Any]:
    from telltale.platform.tenancy import ensure_tenant

    ensure_tenant(tenant_id)
    raw = PREFIX + secrets.token_urlsafe(32)
    key_id = str(uuid.uuid4())
    row = scoped.tenant(tenant_id).query_one(
        "INSERT INTO platform.api_keys (id, key_hash, key_prefix, name, created_by)"
        " VALUES (CAST(:id AS uuid), :h, :p, :n, :u) RETURNING id, name, key_prefix, created_at",
        id=key_id, h=hash_key(raw), p=raw[:8], n=name, u=user_id,
    )
    assert row is not None
    return {**row, "api_key": raw}


def list_keys(tenant_id: str) -> list[dict[str, Any]]:
    return scoped.tenant(tenant_id).query(
        "SELECT id, name, key_prefix, created_at, last_used_at FROM platform.api_keys ORDER BY created_at")


def revoke(tenant_id: str, key_id: str) -> None:
    """Delete one of the tenant's keys: it stops authenticating at once (authenticate looks it up on every
    call, nothing is cached), and what was logged with it goes too (the key is its data's only link, and
    its requests, monitors and results cascade). Another tenant's key, or none, is a 404 alike."""
    from telltale.apianalytics import stores

    missing = f"API key '{key_id}' not found"
    key_uuid = uuid_or_404(key_id, missing)
    scope = scoped.tenant(tenant_id)
    if scope.query_one("SELECT id FROM platform.api_keys WHERE id = CAST(:id AS uuid)", id=key_uuid) is None:
        raise NotFound(missing)
    if stores.uses_clickhouse(tenant_id) or stores.moving(tenant_id):
        # ClickHouse's rows first, so a failure leaves the key to revoke again; PostgreSQL's cascade.
        stores.clickhouse_store().delete([key_id], tenant_id)
    rows = scope.query("DELETE FROM platform.api_keys WHERE id = CAST(:id AS uuid) RETURNING id", id=key_uuid)
    if not rows:
        raise NotFound(missing)


def authenticate(headers: dict[str, str] | None) -> ApiKey:
    """The key named by the X-AUTH-TOKEN header, or 401. Marks the key as used (for retention)."""
    raw = ""
    for k, v in (headers or {}).items():
        if k.lower() == HEADER:
            raw = (v or "").strip()
    if not raw:
        raise Unauthorized("missing API key: send it in the X-AUTH-TOKEN header")
    # At most one write an hour per key: activity only needs day precision for a 6-month retention.
    row = scoped.across_tenants("a key's hash is what says whose key it is").query_one(
        "WITH k AS (SELECT id, tenant_id, last_used_at FROM platform.api_keys WHERE key_hash = :h),"
        " touched AS (UPDATE platform.api_keys SET last_used_at = now() WHERE id = (SELECT id FROM k)"
        " AND last_used_at < now() - interval '1 hour' RETURNING id)"
        " SELECT CAST(id AS text) AS id, tenant_id FROM k",
        h=hash_key(raw),
    )
    if row is None:
        raise Unauthorized("unknown API key; generate one with POST /api/keys")
    return ApiKey(id=row["id"], tenant_id=row["tenant_id"])
