"""Fixtures for the usage-analytics end-to-end tests: a replay server per test (helpers: usage_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from queries_servers import external_pg  # noqa: F401 - a PostgreSQL of its own for query-log mining
from usage_replay import ReplayServer


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    server = ReplayServer().start()
    try:
        yield server
    finally:
        server.stop()

# The replay servers listen on 127.0.0.1, which the test session's TELLTALE_ALLOWED_NETWORKS allows (as
# `make dev` does; a deployment does not). A test of the refusal itself empties it (``allowed_networks``).
