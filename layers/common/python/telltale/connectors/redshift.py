"""Redshift: the PostgreSQL wire protocol through pg8000, with Redshift's dialect for the guard, port 5439
and TLS by default (the secret type's defaults). Redshift accepts the same READ ONLY transaction, SET
LOCAL statement_timeout and DECLARE/FETCH cursor the PostgreSQL connector uses."""

from __future__ import annotations

from telltale.connectors.postgres import PostgresConnector


class RedshiftConnector(PostgresConnector):
    driver = "redshift"
    label = "Redshift"
    begin = "BEGIN READ ONLY"
    startup_settings = False


CONNECTOR = RedshiftConnector()
