"""The connection-secret fields the SQL sources share (spec 000: PostgreSQL / MySQL / Redshift)."""

from __future__ import annotations

from telltale.sources.base import SecretField


def sql_connection(port_description: str, *, ssl_default: bool = False,
                   ssl_description: str = "Connect with TLS and verify the server certificate"
                   ) -> tuple[SecretField, ...]:
    return (
        SecretField("host", "string", "Database host", host=True),
        SecretField("port", "integer", port_description, minimum=1, maximum=65535),
        SecretField("database", "string", "Database name"),
        SecretField("username", "string", "Database username"),
        SecretField("password", "string", "Database password (empty for a passwordless account)", secret=True,
                    allow_empty=True),
        SecretField("ssl", "boolean", ssl_description, required=False, default=ssl_default),
        SecretField("connect_timeout", "integer", "Seconds to wait for a connection", required=False, default=10,
                    minimum=1, maximum=60),
        SecretField("statement_timeout", "integer", "Seconds a query may run", required=False, default=30,
                    minimum=1, maximum=300),
    )
