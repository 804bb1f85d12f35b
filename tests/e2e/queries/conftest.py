"""Fixtures for the saved-query end-to-end tests: real servers next to the local stack."""

from queries_servers import clickhouse, es_replay, external_pg, mariadb  # noqa: F401
