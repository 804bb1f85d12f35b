"""Retention (spec 002): API keys idle for 6 months are deleted with everything logged under them.

"Idle" means no ingested batch and no read with the key (both touch ``last_used_at``). The foreign keys
cascade, so one statement removes the key, its requests, its monitors and their results.
"""

from __future__ import annotations

from typing import Any

from telltale.platform import scoped
from telltale.platform.log import logger

RETENTION = "6 months"


def purge_inactive() -> list[dict[str, Any]]:
    """Delete the idle keys; the request logs of those whose tenant's log is in ClickHouse go after them
    (the keys first, so that a key used at the last moment keeps its data)."""
    from telltale.apianalytics import stores

    purged = scoped.across_tenants("retention deletes every tenant's idle keys").query(
        f"DELETE FROM platform.api_keys WHERE last_used_at < now() - interval '{RETENTION}'"
        " RETURNING CAST(id AS text) AS id, tenant_id, last_used_at",
    )
    by_tenant: dict[str, list[str]] = {}
    for row in purged:
        by_tenant.setdefault(row["tenant_id"], []).append(row["id"])
    for tenant_id, key_ids in by_tenant.items():
        if stores.uses_clickhouse(tenant_id) or stores.moving(tenant_id):  # PostgreSQL's rows cascaded
            try:
                stores.clickhouse_store().delete(key_ids, tenant_id)
            except Exception:  # noqa: BLE001 - the keys are gone, nothing reads these rows: name them for a hand delete
                logger.exception("retention: could not delete the ClickHouse request log of purged keys",
                                 extra={"tenant": tenant_id, "key_ids": key_ids})
    return purged
