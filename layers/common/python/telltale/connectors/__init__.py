"""Connectors: one module per source (named by :mod:`telltale.sources`), each importing its client
library only when it runs (a handler that executes a PostgreSQL query never loads the ClickHouse client).

Every connector opens a read-only session (a READ ONLY transaction, ``readonly=1``, search-only), applies a
connect timeout and a statement timeout, caps rows and bytes (reporting ``truncated``), uses TLS when the
secret asks, binds the values it is given by name, and raises typed errors whose messages carry no secret.
"""

from __future__ import annotations

from telltale.connectors.base import Connector, Limits, Result

__all__ = ["Connector", "Limits", "Result", "load"]


def load(slug: str) -> Connector:
    """The connector of the source ``slug`` (postgres, mysql, redshift, clickhouse, elasticsearch, internal)."""
    from telltale import sources

    connector: Connector = sources.connector(sources.get(slug))
    return connector
