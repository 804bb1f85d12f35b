"""Shared fixtures: one local stack per test session (embedded PostgreSQL, moto, local queue, gateway).

The stack runs in this process on a free port with its data in a temporary folder, so tests never touch
a developer's ``.telltale`` folder. Integration tests use its database; end-to-end tests speak HTTP to it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "layers" / "common" / "python", ROOT / "local"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

# The real servers of the tests listen on loopback: the session allows it, as `make dev` does (the stack
# keeps a value set here). A test of a refusal narrows it with the ``allowed_networks`` fixture.
os.environ.setdefault("TELLTALE_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")


class StackClient:
    """HTTP access to the local stack, with tokens minted by its key."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.url = stack.url
        self.session = requests.Session()

    def token(self, tenant: str = "demo", user: str = "user-1", **kw: Any) -> str:
        from telltale_local import tokens

        return tokens.mint(self.stack.data_dir, tenant=tenant, user=user, **kw)

    def headers(self, tenant: str = "demo", user: str = "user-1", **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(tenant, user, **kw)}"}

    def request(self, method: str, path: str, *, tenant: str | None = "demo", user: str = "user-1",
                headers: dict[str, str] | None = None, **kw: Any) -> requests.Response:
        h = dict(self.headers(tenant, user)) if tenant else {}
        h.update(headers or {})
        kw.setdefault("timeout", 60)
        return self.session.request(method, self.url + path, headers=h, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> requests.Response:
        return self.request("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.request("DELETE", path, **kw)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The whole local stack, started once per session (gateway on a free port)."""
    from telltale_local.stack import LocalStack

    data_dir = tmp_path_factory.mktemp("telltale-stack")
    os.environ["TELLTALE_DATA_DIR"] = str(data_dir)
    stack = LocalStack(data_dir, port=0)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def setting(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A setter of one settings variable (``setting("TELLTALE_...", value)``) for one test. The stack's
    functions run in this process and read it through telltale.platform.config's cached settings, so the
    cache is dropped on each change and after."""
    from telltale.platform import config

    def set_variable(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        config.reset_settings()

    yield set_variable
    config.reset_settings()  # monkeypatch restores the variables next; the settings are read again lazily


@pytest.fixture
def allowed_networks(setting: Any) -> Any:
    """A setter of TELLTALE_ALLOWED_NETWORKS for one test (see ``setting``)."""
    return lambda value: setting("TELLTALE_ALLOWED_NETWORKS", value)


@pytest.fixture(scope="session")
def api(local_stack: Any) -> StackClient:
    return StackClient(local_stack)


@pytest.fixture(scope="session")
def platform_db(local_stack: Any) -> Any:
    """The platform database of the session's stack, with migrations applied; yields the telltale.platform.db module."""
    from telltale.platform import db

    return db
