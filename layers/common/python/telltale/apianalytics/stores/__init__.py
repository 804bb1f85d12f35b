"""Request-log stores: the port and the queries both run (:mod:`.base`), PostgreSQL (the default) and
ClickHouse, chosen globally (``TELLTALE_REQUEST_STORE``) or per tenant (``TELLTALE_CLICKHOUSE_REQUEST_TENANTS``),
as the event store is."""

from __future__ import annotations

from telltale.apianalytics.stores.base import RequestStore
from telltale.platform.config import get_settings


def uses_clickhouse(tenant_id: str) -> bool:
    s = get_settings()
    if s.request_store == "clickhouse":
        return True
    return tenant_id in {t.strip() for t in s.clickhouse_request_tenants.split(",") if t.strip()}


def store_for(tenant_id: str) -> RequestStore:
    """Where ``tenant_id``'s request log is read and written."""
    if uses_clickhouse(tenant_id):
        from telltale.apianalytics.stores.clickhouse import ClickHouseRequestStore

        return ClickHouseRequestStore()
    from telltale.apianalytics.stores.postgres import PostgresRequestStore

    return PostgresRequestStore()
