"""Event stores: the port (:mod:`.base`) and its adapters, PostgreSQL (the default) and ClickHouse, chosen
globally or per tenant by the settings."""

from __future__ import annotations

from telltale.events.stores.base import EventStore
from telltale.platform.config import get_settings


def uses_clickhouse(tenant_id: str | None) -> bool:
    s = get_settings()
    if s.event_store == "clickhouse":
        return True
    listed = {t.strip() for t in s.clickhouse_tenants.split(",") if t.strip()}
    return tenant_id is not None and tenant_id in listed


def store_for(tenant_id: str | None) -> EventStore:
    """The store holding ``tenant_id``'s events (TELLTALE_EVENT_STORE, or TELLTALE_CLICKHOUSE_TENANTS)."""
    if uses_clickhouse(tenant_id):
        from telltale.events.stores.clickhouse import ClickHouseEventStore

        return ClickHouseEventStore()
    from telltale.events.stores.postgres import PostgresEventStore

    return PostgresEventStore()
