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
