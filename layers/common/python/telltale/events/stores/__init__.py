"""Event stores: the port (:mod:`.base`) and its adapters, PostgreSQL (the default) and ClickHouse, chosen
globally or per tenant by the settings, or per tenant by a move (``events.tenant_stores``,
:mod:`telltale.events.move`)."""

from __future__ import annotations

import threading
import time

from telltale.events.stores.base import EventStore
from telltale.platform.config import get_settings

_placements: tuple[float, dict[str, str]] | None = None
_placements_lock = threading.Lock()


def placements() -> dict[str, str]:
    """Tenant -> 'moving' | 'clickhouse' for the tenants a move placed, read at most every
    ``event_store_cache_s`` (a small table: one row per moved tenant)."""
    global _placements
    ttl = get_settings().event_store_cache_s
    with _placements_lock:
        if _placements is None or time.monotonic() - _placements[0] >= ttl:
            from telltale.platform import scoped

            rows = scoped.across_tenants("where each moved tenant's events live").query(
                "SELECT tenant_id, state FROM events.tenant_stores")
            _placements = (time.monotonic(), {r["tenant_id"]: r["state"] for r in rows})
        return _placements[1]


def forget_placements() -> None:
    global _placements
    with _placements_lock:
        _placements = None


def uses_clickhouse(tenant_id: str | None) -> bool:
    """Whether ``tenant_id``'s events are read from ClickHouse."""
    s = get_settings()
    if s.event_store == "clickhouse":
        return True
    listed = {t.strip() for t in s.clickhouse_tenants.split(",") if t.strip()}
    return tenant_id is not None and (tenant_id in listed or placements().get(tenant_id) == "clickhouse")


def _clickhouse() -> EventStore:
    from telltale.events.stores.clickhouse import ClickHouseEventStore

    return ClickHouseEventStore()


def _postgres() -> EventStore:
    from telltale.events.stores.postgres import PostgresEventStore

    return PostgresEventStore()


def store_for(tenant_id: str | None) -> EventStore:
    """The store ``tenant_id``'s events are read from."""
    return _clickhouse() if uses_clickhouse(tenant_id) else _postgres()


def stores_to_write(tenant_id: str) -> list[EventStore]:
    """Where ``tenant_id``'s new events go: its store, and during a move both (PostgreSQL first, still the
    one read; ClickHouse drops what the copy brings again, by id)."""
    if not uses_clickhouse(tenant_id) and placements().get(tenant_id) == "moving":
        return [_postgres(), _clickhouse()]
    return [store_for(tenant_id)]
