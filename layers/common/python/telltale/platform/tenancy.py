"""Tenants and apps: where each tenant's data lives.

A tenant's application data lives in its own schema, ``tenant_<id>`` ('-' becomes '_'; tenant ids
never contain '_'). Ids with capitals or longer than 40 characters get a hash suffix, so that two ids
never share a schema and every name fits PostgreSQL's 63-character limit. App ``shop``'s logical table ``orders`` is the
physical table ``shop_orders`` in that schema.
"""

from __future__ import annotations

import re
from typing import Any

from telltale.platform import db, scoped
from telltale.platform.errors import NotFound

APP_SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def schema_for(tenant_id: str) -> str:
    base = tenant_id.lower().replace("-", "_")
    if base != tenant_id.replace("-", "_") or len(base) > 40:
        import hashlib

        base = base[:40] + "_" + hashlib.sha256(tenant_id.encode()).hexdigest()[:8]
    return "tenant_" + base


def reader_role_for(tenant_id: str) -> str:
    """The login role internal queries run as: a member of nothing that can read only this tenant's schema
    (set up by ``connectors.internal.ensure_login_role``)."""
    return schema_for(tenant_id) + "_reader"


def physical_table(app_slug: str, logical: str) -> str:
    return f"{app_slug}_{logical}"


def ensure_tenant(tenant_id: str) -> None:
    db.query(
        "INSERT INTO platform.tenants (id, schema_name) VALUES (:id, :schema) ON CONFLICT (id) DO NOTHING",
        id=tenant_id, schema=schema_for(tenant_id),
    )


def get_app(tenant_id: str, app_slug: str) -> dict[str, Any]:
    row = scoped.tenant(tenant_id).query_one("SELECT slug, name, created_at FROM platform.apps WHERE slug = :s",
                                             s=app_slug)
    if row is None:
        raise NotFound(f"app '{app_slug}' not found for this tenant; create it with POST /api/apps/")
    return row


def list_apps(tenant_id: str) -> list[dict[str, Any]]:
    return scoped.tenant(tenant_id).query("SELECT slug, name, created_at FROM platform.apps ORDER BY slug")


def create_app(tenant_id: str, slug: str, name: str) -> dict[str, Any]:
    """Create an app (and the tenant and its schema on first use); 409 if the slug is taken."""
    from telltale.platform.errors import Conflict

    with db.transaction() as tx:
        tx.run(
            "INSERT INTO platform.tenants (id, schema_name) VALUES (:id, :schema) ON CONFLICT (id) DO NOTHING",
            id=tenant_id, schema=schema_for(tenant_id),
        )
        tx.run(f'CREATE SCHEMA IF NOT EXISTS "{schema_for(tenant_id)}"')
        rows = scoped.tenant(tenant_id).run(
            tx, "INSERT INTO platform.apps (slug, name) VALUES (:s, :n) ON CONFLICT DO NOTHING"
                " RETURNING slug, name, created_at", s=slug, n=name,
        )
    if not rows:
        raise Conflict(f"an app with slug '{slug}' already exists; choose another slug")
    return rows[0]
