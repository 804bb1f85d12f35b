"""Fixtures for the API request analytics tests: API keys, and real host applications on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from servers_clickhouse import clickhouse_server, routed_to_clickhouse  # noqa: F401 - registers the fixture


class KeyClient:
    """One API key on the local stack, and the X-AUTH-TOKEN calls made with it."""

    def __init__(self, api: Any, key: str, key_id: str) -> None:
        self.api, self.key, self.id = api, key, key_id

    @property
    def headers(self) -> dict[str, str]:
        return {"X-AUTH-TOKEN": self.key}

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.api.get(path, tenant=None, headers={**self.headers, **(headers or {})}, **kw)

    def post(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.api.post(path, tenant=None, headers={**self.headers, **(headers or {})}, **kw)

    def delete(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.api.delete(path, tenant=None, headers={**self.headers, **(headers or {})}, **kw)

    def data(self, **params: Any) -> list[dict[str, Any]]:
        r = self.get("/api/data", params=params)
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()
        return rows


@pytest.fixture
def new_key(api: Any) -> Callable[..., KeyClient]:
    def make(tenant: str = "demo", name: str = "test") -> KeyClient:
        r = api.post("/api/keys", tenant=tenant, json={"name": name})
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        return KeyClient(api, data["api_key"], data["id"])

    return make


@pytest.fixture
def key(new_key: Callable[..., KeyClient]) -> KeyClient:
    return new_key()


@pytest.fixture(scope="session")
def clickhouse_request_tenant(clickhouse_server: Any, local_stack: Any) -> Iterator[str]:  # noqa: F811
    """A tenant whose request log lives in ClickHouse (TELLTALE_CLICKHOUSE_REQUEST_TENANTS), on the test
    ClickHouse server; everyone else's stays in PostgreSQL."""
    tenant = "chreq" + uuid.uuid4().hex[:8]
    with routed_to_clickhouse(clickhouse_server, TELLTALE_CLICKHOUSE_REQUEST_TENANTS=tenant):
        yield tenant


@pytest.fixture(params=["postgres", "clickhouse"])
def store_key(request: Any, new_key: Callable[..., KeyClient]) -> KeyClient:
    """A key of a tenant on each request-log store in turn (the same tests, both stores)."""
    if request.param == "postgres":
        return new_key()
    return new_key(tenant=request.getfixturevalue("clickhouse_request_tenant"))


@pytest.fixture
def isolated_clients() -> Iterator[None]:
    """Each test gets fresh middleware senders (they are shared per key and server within a process)."""
    from telltale_client import core

    yield
    for c in list(core._clients.values()):
        c.shutdown(0.5)
    core._clients.clear()
