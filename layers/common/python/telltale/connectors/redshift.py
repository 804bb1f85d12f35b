"""Redshift: the PostgreSQL wire protocol through pg8000, with Redshift's dialect for the guard, port 5439
and TLS by default (the secret type's defaults). The same pipelined READ ONLY transaction as PostgreSQL,
with Redshift's spelling (``BEGIN READ ONLY``) and only the timeout Redshift has (``statement_timeout``;
it has no ``lock_timeout`` nor ``idle_in_transaction_session_timeout``), nothing in the startup packet,
and the row cap from the Execute message rather than a LIMIT wrapper (Redshift may drop a subquery's
ORDER BY)."""

from __future__ import annotations

from typing import Any

from telltale.connectors.base import Limits
from telltale.connectors.postgres import PostgresConnector, statement_timeout_ms


class RedshiftConnector(PostgresConnector):
    driver = "redshift"
    label = "Redshift"
    begin = "BEGIN READ ONLY"
    startup_settings = False

    def _timeouts(self, config: dict[str, Any], limits: Limits) -> dict[str, int]:
        return {"statement_timeout": statement_timeout_ms(config, limits)}


CONNECTOR = RedshiftConnector()
