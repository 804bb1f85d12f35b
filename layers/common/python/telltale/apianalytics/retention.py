"""Retention (spec 002): API keys idle for 6 months are deleted with everything logged under them.

"Idle" means no ingested batch and no read with the key (both touch ``last_used_at``). The foreign keys
cascade, so one statement removes the key, its requests, its monitors and their results.
"""

from __future__ import annotations

from typing import Any

from telltale.platform import scoped

RETENTION = "6 months"


def purge_inactive() -> list[dict[str, Any]]:
    return scoped.across_tenants("retention deletes every tenant's idle keys").query(
        f"DELETE FROM platform.api_keys WHERE last_used_at < now() - interval '{RETENTION}'"
        " RETURNING CAST(id AS text) AS id, tenant_id, last_used_at",
    )
