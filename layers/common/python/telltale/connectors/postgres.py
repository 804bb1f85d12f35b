"""PostgreSQL (pg8000): a READ ONLY transaction, a statement timeout, and a cursor that fetches at most
``max_rows + 1`` rows so the cap costs nothing on the server side."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from telltale.connectors.base import Limits, Prepared, Result, connector_error, execution_error, rows_as_dicts
from telltale.errors import TelltaleError

if TYPE_CHECKING:
    import pg8000.native

# The type OIDs analytics results usually carry; anything else is reported by its OID.
PG_TYPES = {
    16: "boolean", 17: "bytea", 18: "char", 19: "name", 20: "bigint", 21: "smallint", 23: "integer", 25: "text",
    26: "oid", 114: "json", 142: "xml", 700: "real", 701: "double precision", 790: "money", 1042: "character",
    1043: "character varying", 1082: "date", 1083: "time", 1114: "timestamp", 1184: "timestamp with time zone",
    1186: "interval", 1266: "time with time zone", 1560: "bit", 1700: "numeric", 2950: "uuid", 3802: "jsonb",
    869: "inet", 650: "cidr", 1000: "boolean[]", 1005: "smallint[]", 1007: "integer[]", 1016: "bigint[]",
    1009: "text[]", 1015: "character varying[]", 1021: "real[]", 1022: "double precision[]", 1231: "numeric[]",
    2951: "uuid[]", 3807: "jsonb[]", 199: "json[]", 2249: "record", 705: "unknown",
}
CURSOR = "telltale_query"


def connect(config: dict[str, Any], limits: Limits, *, what: str,
            startup_params: dict[str, str] | None = None) -> pg8000.native.Connection:
    import pg8000.native

    ssl_context = None
    if config.get("ssl"):
        import ssl

        ssl_context = ssl.create_default_context()
    try:
        conn = pg8000.native.Connection(
            user=config["username"], password=config.get("password") or None, host=config["host"],
            port=int(config["port"]), database=config["database"],
            timeout=min(int(config.get("connect_timeout") or limits.connect_timeout_s), limits.connect_timeout_s),
            ssl_context=ssl_context, application_name="telltale-query", startup_params=startup_params,
        )
    except Exception as exc:  # noqa: BLE001 - every failure to connect is the same ConnectorError
        raise connector_error(what, exc, config) from None
    from telltale.db import no_delay

    no_delay(conn)  # a query longer than one TCP segment must not wait for the server's delayed ACK
    return conn


def statement_timeout_ms(config: dict[str, Any], limits: Limits) -> int:
    return 1000 * min(int(config.get("statement_timeout") or limits.statement_timeout_s), limits.statement_timeout_s)


def run_cursor(conn: pg8000.native.Connection, sql: str, limits: Limits) -> Result:
    """Run ``sql`` through a cursor inside the caller's read-only transaction."""
    conn.run(f"DECLARE {CURSOR} CURSOR FOR {sql}")
    rows = conn.run(f"FETCH FORWARD {int(limits.max_rows) + 1} FROM {CURSOR}") or []
    columns = [{"name": c["name"], "type": PG_TYPES.get(int(c["type_oid"]), f"oid:{c['type_oid']}")}
               for c in (conn.columns or [])]
    truncated = len(rows) > limits.max_rows
    return Result(columns, rows_as_dicts([c["name"] for c in columns], rows[: limits.max_rows]), truncated)


def strip_statement(sql: str) -> str:
    text = sql.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def run_limited(conn: pg8000.native.Connection, sql: str, limits: Limits,
                params: dict[str, Any] | None = None) -> Result:
    """Run ``sql`` wrapped in ``SELECT * FROM (...) LIMIT max_rows + 1``: one round trip, and the server
    stops after the cap. Only a query (SELECT, VALUES, WITH ... SELECT) fits there; PostgreSQL also refuses
    a data-modifying WITH inside a subquery. ``params`` are bound by name (``:name``). The cap is bound
    too, so the statement always takes the extended protocol, which runs exactly one statement: a ``;``
    in ``sql`` cannot start a second one (``COMMIT; ...``) as it would in a simple query."""
    rows = conn.run(f"SELECT * FROM (\n{strip_statement(sql)}\n) AS telltale_q LIMIT :telltale_max_rows",
                    **(params or {}), telltale_max_rows=int(limits.max_rows) + 1) or []
    columns = [{"name": c["name"], "type": PG_TYPES.get(int(c["type_oid"]), f"oid:{c['type_oid']}")}
               for c in (conn.columns or [])]
    truncated = len(rows) > limits.max_rows
    return Result(columns, rows_as_dicts([c["name"] for c in columns], rows[: limits.max_rows]), truncated)


def db_error_message(exc: BaseException) -> str:
    """pg8000 errors carry the server's fields; the message and the SQLSTATE say what went wrong."""
    from telltale.db import pg_error

    code, message = pg_error(exc)
    if code or message:
        return f"{message or 'error'} (SQLSTATE {code or '?'})"
    return f"{type(exc).__name__}: {exc}"


class PostgresConnector:
    driver = "postgres"
    label = "PostgreSQL"
    begin = "START TRANSACTION READ ONLY"
    # PostgreSQL takes session settings in the startup packet: every transaction of the session is read-only
    # (default_transaction_read_only) and has the statement timeout, at no extra round trip; the query then
    # runs as one statement. Redshift is not relied on for that: it gets BEGIN READ ONLY, SET LOCAL and a
    # cursor (Redshift may drop a subquery's ORDER BY, so the LIMIT wrapper is not used there).
    startup_settings = True

    @contextmanager
    def session(self, config: dict[str, Any], limits: Limits) -> Iterator[pg8000.native.Connection]:
        """A connection inside a READ ONLY transaction with a statement timeout; rolled back and closed after.

        Failures inside are QueryExecutionErrors with the server's message (redacted)."""
        import pg8000.exceptions

        timeout_ms = statement_timeout_ms(config, limits)
        # standard_conforming_strings: parameters are escaped for '...' strings where a backslash is a
        # plain character; a server configured otherwise must not turn "\'" into an escaped quote.
        startup = ({"default_transaction_read_only": "on", "statement_timeout": str(timeout_ms),
                    "standard_conforming_strings": "on"} if self.startup_settings else None)
        conn = connect(config, limits, what=self.label, startup_params=startup)
        try:
            # The socket may not wait forever either: a server that stops answering is a failure.
            conn._usock.settimeout(timeout_ms / 1000 + 5)
            try:
                if not self.startup_settings:
                    conn.run(self.begin)
                    conn.run(f"SET LOCAL statement_timeout = {timeout_ms}")
                yield conn
            except TelltaleError:
                raise
            except (pg8000.exceptions.DatabaseError, pg8000.exceptions.InterfaceError, OSError) as exc:
                raise execution_error(exc, config, message=db_error_message(exc)) from None
        finally:
            # Closing ends the session (and rolls back an open transaction): no ROLLBACK round trip.
            with contextlib.suppress(Exception):
                conn.close()

    def execute(self, prepared: Prepared, limits: Limits) -> Result:
        with self.session(prepared.config, limits) as conn:
            if self.startup_settings:
                return run_limited(conn, prepared.text, limits)
            return run_cursor(conn, prepared.text, limits)


CONNECTOR = PostgresConnector()
