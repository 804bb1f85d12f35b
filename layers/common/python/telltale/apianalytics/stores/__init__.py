"""Request-log stores: the port and the queries both run (:mod:`.base`), PostgreSQL (the default) and
ClickHouse, chosen globally (``TELLTALE_REQUEST_STORE``) or per tenant (``TELLTALE_CLICKHOUSE_REQUEST_TENANTS``,
or a tenant move: ``telltale events move-tenant`` moves the request log with the events, and
``events.tenant_stores`` says where both are)."""

from __future__ import annotations

from telltale.apianalytics.stores.base import RequestStore
from telltale.events.stores import placements
from telltale.platform.config import get_settings


def by_settings(tenant_id: str) -> bool:
    """Whether the settings put ``tenant_id``'s request log in ClickHouse."""
    s = get_settings()
    return s.request_store == "clickhouse" or tenant_id in {
        t.strip() for t in s.clickhouse_request_tenants.split(",") if t.strip()}


def uses_clickhouse(tenant_id: str) -> bool:
    """Whether ``tenant_id``'s request log is read from ClickHouse."""
    return by_settings(tenant_id) or placements().get(tenant_id) == "clickhouse"


def moving(tenant_id: str) -> bool:
    """Whether a move is copying ``tenant_id``'s request log (new rows go to both stores meanwhile)."""
    return not by_settings(tenant_id) and placements().get(tenant_id) == "moving"


# Not named after the adapter modules: importing stores.postgres sets that name on this package.
def postgres_store() -> RequestStore:
    from telltale.apianalytics.stores.postgres import PostgresRequestStore

    return PostgresRequestStore()


def clickhouse_store() -> RequestStore:
    from telltale.apianalytics.stores.clickhouse import ClickHouseRequestStore

    return ClickHouseRequestStore()


def store_for(tenant_id: str) -> RequestStore:
    """Where ``tenant_id``'s request log is read."""
    return clickhouse_store() if uses_clickhouse(tenant_id) else postgres_store()


def stores_holding(tenant_id: str) -> list[RequestStore]:
    """Every store with rows of ``tenant_id`` (a moved tenant's PostgreSQL keeps its copy): what a delete
    must clear, so that undoing a move never brings deleted rows back."""
    if by_settings(tenant_id):
        return [clickhouse_store()]
    if placements().get(tenant_id) in ("moving", "clickhouse"):
        return [postgres_store(), clickhouse_store()]
    return [postgres_store()]
