"""Fixtures for the saved-query integration tests: real servers next to the local stack."""

from queries_servers import clickhouse, es_replay, external_pg, mariadb  # noqa: F401
