"""Fixtures for the events surface: the ClickHouse test server (see tests/servers_clickhouse.py)."""

from servers_clickhouse import clickhouse_server  # noqa: F401 - registers the session fixture
