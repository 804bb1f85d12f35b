"""Helpers for the events end-to-end tests: ingest over HTTP and wait for the worker."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from servers_clickhouse import clickhouse_server  # noqa: F401 - registers the session fixture


@pytest.fixture()
def event_type() -> str:
    """A fresh event type per test, so tests never see each other's events."""
    return f"test{uuid.uuid4().hex[:10]}.happened"


@pytest.fixture(scope="session")
def clickhouse_tenant(clickhouse_server: Any, local_stack: Any) -> Any:  # noqa: F811 - the fixture imported above
    """A tenant whose events live in ClickHouse (TELLTALE_CLICKHOUSE_TENANTS), on the test ClickHouse server.

    The shared stack keeps PostgreSQL for everyone else; only this tenant is routed to ClickHouse.
    """
    import os

    from telltale.events.stores import clickhouse as store
    from telltale.platform import config

    tenant = "chtenant" + uuid.uuid4().hex[:8]
    db = "telltale_events_" + uuid.uuid4().hex[:8]
    saved = {k: os.environ.get(k) for k in ("TELLTALE_CLICKHOUSE_HOST", "TELLTALE_CLICKHOUSE_PORT",
                                            "TELLTALE_CLICKHOUSE_TENANTS", "TELLTALE_CLICKHOUSE_DATABASE")}
    os.environ.update({"TELLTALE_CLICKHOUSE_HOST": clickhouse_server.host,
                       "TELLTALE_CLICKHOUSE_PORT": str(clickhouse_server.port),
                       "TELLTALE_CLICKHOUSE_TENANTS": tenant, "TELLTALE_CLICKHOUSE_DATABASE": db})
    config.reset_settings()
    store.reset_clickhouse()
    yield tenant
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    config.reset_settings()
    store.reset_clickhouse()
