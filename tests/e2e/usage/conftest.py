"""Fixtures for the usage-analytics end-to-end tests: a replay server per test (helpers: usage_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from usage_replay import ReplayServer


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def allow_private_connectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay servers listen on 127.0.0.1, which a deployment refuses (template.yaml sets the switch
    off); the stack runs in this process, so the switch is flipped for each test, as the monitors tests do.
    A test of the refusal itself sets it back to "false"."""
    monkeypatch.setenv("TELLTALE_USAGE_ALLOW_PRIVATE_CONNECTORS", "true")
