"""Helpers for the events end-to-end tests: ingest over HTTP and wait for the worker."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from servers_clickhouse import clickhouse_server, routed_to_clickhouse  # noqa: F401 - registers the fixture


@pytest.fixture()
def event_type() -> str:
    """A fresh event type per test, so tests never see each other's events."""
    return f"test{uuid.uuid4().hex[:10]}.happened"


@pytest.fixture(scope="session")
def clickhouse_tenant(clickhouse_server: Any, local_stack: Any) -> Any:  # noqa: F811 - the fixture imported above
    """A tenant whose events live in ClickHouse (TELLTALE_CLICKHOUSE_TENANTS), on the test ClickHouse server.

    The shared stack keeps PostgreSQL for everyone else; only this tenant is routed to ClickHouse.
    """
    tenant = "chtenant" + uuid.uuid4().hex[:8]
    with routed_to_clickhouse(clickhouse_server, TELLTALE_CLICKHOUSE_TENANTS=tenant):
        yield tenant
