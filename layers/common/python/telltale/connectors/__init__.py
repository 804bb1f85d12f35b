"""Connectors: one module per driver, chosen by the secret type's slug, each importing its client library
only when it runs (a handler that executes a PostgreSQL query never loads the ClickHouse client).

Every connector opens a read-only session (a READ ONLY transaction, ``readonly=1``, search-only), applies a
connect timeout and a statement timeout, caps rows (reporting ``truncated``), uses TLS when the secret asks,
and raises typed errors whose messages carry no secret.
"""

from __future__ import annotations

import importlib
from typing import Any

from telltale.connectors.base import Connector, Limits, Result
from telltale.errors import SecretResolutionError

__all__ = ["DRIVERS", "Connector", "Limits", "Result", "driver_for_type", "load"]

# secret type slug -> (driver module, language the template renders to and the guard parses)
DRIVERS: dict[str, tuple[str, str]] = {
    "analytics-postgres": ("postgres", "postgres"),
    "analytics-mysql": ("mysql", "mysql"),
    "analytics-redshift": ("redshift", "redshift"),
    "analytics-clickhouse": ("clickhouse", "clickhouse"),
    "analytics-elasticsearch": ("elasticsearch", "elasticsearch"),
}
INTERNAL = ("internal", "postgres")


def driver_for_type(type_slug: str) -> tuple[str, str]:
    """(driver, language) for a secret type; the spec's setup errors otherwise."""
    if type_slug in DRIVERS:
        return DRIVERS[type_slug]
    if not type_slug.startswith("analytics-"):
        raise SecretResolutionError(
            f"Unsupported analytics datasource: secret type '{type_slug}' is not an analytics type; "
            f"use one of {', '.join(sorted(DRIVERS))} (for example analytics-postgres, not postgres)")
    raise SecretResolutionError(
        f"Driver not supported: no driver for secret type '{type_slug}'; supported: {', '.join(sorted(DRIVERS))}")


def load(driver: str) -> Connector:
    module: Any = importlib.import_module(f"telltale.connectors.{driver}")
    connector: Connector = module.CONNECTOR
    return connector
