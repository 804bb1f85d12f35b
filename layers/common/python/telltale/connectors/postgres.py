"""PostgreSQL (pg8000): an explicit READ ONLY transaction with its timeouts, the query and its bound
parameters in one round trip, rows kept within the reply's row and byte limits as they arrive."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from telltale.connectors.base import (
    GuardedReader,
    Limits,
    Prepared,
    ReplyFull,
    Result,
    RowBudget,
    connector_error,
    execution_error,
)
from telltale.connectors.outbound import socket_for
from telltale.platform.errors import TelltaleError

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
            sock=socket_for(config, limits),  # the checked address; TLS still verifies ``host``
        )
    except Exception as exc:  # noqa: BLE001 - every failure to connect is the same ConnectorError
        raise connector_error(what, exc, config) from None
    from telltale.platform.db import no_delay

    no_delay(conn)  # a query longer than one TCP segment must not wait for the server's delayed ACK
    return conn


def statement_timeout_ms(config: dict[str, Any], limits: Limits) -> int:
    return 1000 * min(int(config.get("statement_timeout") or limits.statement_timeout_s), limits.statement_timeout_s)


def strip_statement(sql: str) -> str:
    text = sql.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    return text


def stream(conn: pg8000.native.Connection, sql: str, limits: Limits, *, params: dict[str, Any] | None = None,
           preamble: tuple[str, ...] = (), wrap: bool = True) -> Result:
    """Run ``preamble`` (statements without rows) and then ``sql`` in ONE round trip, keeping rows within
    the reply's limits as they arrive.

    The extended query protocol, pipelined: Parse/Bind/Execute for each preamble statement, then
    Parse/Bind(params)/Describe/Execute for the query, then one Sync. An error anywhere makes the server
    skip the rest up to the Sync, so the query never runs without its preamble. The extended protocol
    takes exactly one statement per Parse: ``1) x; UPDATE ...`` cannot smuggle a second statement past
    the ``LIMIT`` wrapper. Values in ``params`` are bound (``:name`` in the SQL), never spliced in.

    ``wrap`` puts the query in ``SELECT * FROM (...) LIMIT max_rows + 1`` (PostgreSQL: the server stops
    after the cap, and only a query fits there; a data-modifying WITH is refused inside a subquery);
    without it the Execute message's own row limit stops the server (Redshift may drop a subquery's ORDER
    BY). Either way at most one row past the cap is sent.

    Rows are counted against the byte budget as they arrive, and the socket reader refuses a message that
    could not fit before reading it (:class:`GuardedReader`): a 1 GB value is never held in memory. When the
    budget is spent, :class:`ReplyFull` leaves the connection mid-reply: the caller must close it (ending
    the session, which rolls the transaction back). Reaching the row cap consumes the reply to its end."""
    from pg8000.converters import make_params
    from pg8000.core import DATA_ROW, DESCRIBE, EXECUTE, NULL_BYTE, PORTAL, SYNC_MSG, Context, i_pack
    from pg8000.native import to_statement

    text = strip_statement(sql)
    if wrap:
        text = f"SELECT * FROM (\n{text}\n) AS telltale_q LIMIT {int(limits.max_rows) + 1}"
    values: tuple[Any, ...] = ()
    if params:
        # Only then: to_statement reads ":name" outside quotes as a placeholder, and an array slice
        # (a[1:2]) in a query without parameters must stay what it is.
        text, make_vals = to_statement(text)
        values = make_params(conn.py_types, make_vals(params))
    for statement in preamble:
        conn.send_PARSE(NULL_BYTE, statement)
        conn.send_BIND(NULL_BYTE, ())
        conn.send_EXECUTE()
    conn.send_PARSE(NULL_BYTE, text)
    conn.send_BIND(NULL_BYTE, values)
    conn._send_message(DESCRIBE, PORTAL + NULL_BYTE)
    conn._send_message(EXECUTE, NULL_BYTE + i_pack(0 if wrap else int(limits.max_rows) + 1))
    conn._sock.write(SYNC_MSG)
    conn._sock.flush()

    budget = RowBudget(limits)
    context = Context(text)
    parse_row = conn.message_types[DATA_ROW]

    def data_row(data: bytes, ctx: Any) -> None:
        if budget.full:  # the one row past the cap: not even parsed
            return
        parse_row(data, ctx)
        row = ctx.rows.pop()
        if not budget.rows:
            budget.columns([c["name"] for c in ctx.columns])
        if not budget.add(row) and budget.reason and "byte budget" in budget.reason:
            raise ReplyFull(budget.reason)

    sock = conn._sock
    conn.message_types = {**conn.message_types, DATA_ROW: data_row}
    conn._sock = GuardedReader(sock, budget)
    try:
        conn.handle_messages(context)
    except ReplyFull:
        conn._sock = None  # mid-reply: unusable; close() must not write to it
        sock.close()
        conn._usock.close()
        conn._usock = None
        columns = _columns(context)
        return budget.result(columns)
    finally:
        conn.message_types = {**conn.message_types, DATA_ROW: parse_row}
        if conn._sock is not None:
            conn._sock = sock
    return budget.result(_columns(context))


def _columns(context: Any) -> list[dict[str, str]]:
    return [{"name": c["name"], "type": PG_TYPES.get(int(c["type_oid"]), f"oid:{c['type_oid']}")}
            for c in (context.columns or [])]


def run_limited(conn: pg8000.native.Connection, sql: str, limits: Limits,
                params: dict[str, Any] | None = None) -> Result:
    """Run ``sql`` inside the caller's transaction, wrapped in ``SELECT * FROM (...) LIMIT max_rows + 1``,
    in one round trip, within the reply's row and byte limits (see :func:`stream`). If the byte budget
    ran out mid-reply the connection is closed (``conn._usock is None`` afterwards)."""
    return stream(conn, sql, limits, params=params)


def db_error_message(exc: BaseException) -> str:
    """pg8000 errors carry the server's fields; the message and the SQLSTATE say what went wrong."""
    from telltale.platform.db import pg_error

    code, message = pg_error(exc)
    if code or message:
        return f"{message or 'error'} (SQLSTATE {code or '?'})"
    return f"{type(exc).__name__}: {exc}"


class PostgresConnector:
    """External PostgreSQL: every statement runs in an explicit READ ONLY transaction that ends in ROLLBACK,
    with statement, lock and idle-in-transaction timeouts set inside it (SET LOCAL), never in autocommit.

    Round trips (the latency of every execution): the session defaults travel in the startup packet (free:
    every transaction is read-only with the timeouts even before ours begins); then ONE round trip carries
    ``START TRANSACTION READ ONLY``, the SET LOCALs and the query (:func:`stream`); the ROLLBACK and the
    Terminate are written after it without waiting for an answer (closing the session would roll back
    anyway; the ROLLBACK says so explicitly).

    What this layer does and does not stop, measured on PostgreSQL 18 with a login that owns the tables
    (tests/integration/queries/test_queries_connector_session.py): READ ONLY refuses writes to tables,
    sequences (``nextval``) and DDL, and ``set_config('transaction_read_only', 'off', ...)`` once the query
    runs; it does NOT refuse functions that write catalogs: ``pg_clear_relation_stats`` and
    ``pg_restore_relation_stats`` change ``pg_class`` inside the READ ONLY transaction (visible to the rest
    of the transaction). On 18 that change is transactional, so the ROLLBACK undoes it (the issue saw it
    stay because the statement autocommitted); a function that updates a catalog in place, or acts outside
    the transaction (``pg_cancel_backend``, ``pg_terminate_backend``, sleeping), is not undone by any ROLLBACK. The
    guard's function allow-list is what refuses those; a login without ownership or MAINTAIN on the tables
    is what stops the stats writers in the database.
    """

    driver = "postgres"
    libraries: tuple[str, ...] = ("pg8000.native", "pg8000.exceptions")
    label = "PostgreSQL"
    begin = "START TRANSACTION READ ONLY"
    # PostgreSQL takes session settings in the startup packet; Redshift is not relied on for that.
    startup_settings = True
    # A read waiting this long for a lock is stuck behind a writer: fail it clearly instead.
    max_lock_wait_ms = 5000

    def _timeouts(self, config: dict[str, Any], limits: Limits) -> dict[str, int]:
        timeout_ms = statement_timeout_ms(config, limits)
        return {"statement_timeout": timeout_ms, "lock_timeout": min(timeout_ms, self.max_lock_wait_ms),
                # A client that dies mid-transaction does not leave the session open for long.
                "idle_in_transaction_session_timeout": timeout_ms + 5000}

    def preamble(self, config: dict[str, Any], limits: Limits) -> tuple[str, ...]:
        sets = tuple(f"SET LOCAL {k} = {int(v)}" for k, v in self._timeouts(config, limits).items())
        return (self.begin, *sets)

    def _connect(self, config: dict[str, Any], limits: Limits) -> pg8000.native.Connection:
        startup = None
        if self.startup_settings:
            # standard_conforming_strings: a backslash in a '...' string is a plain character, whatever the
            # server's configuration (the renderer's literals rely on it).
            startup = {"default_transaction_read_only": "on", "standard_conforming_strings": "on",
                       **{k: str(v) for k, v in self._timeouts(config, limits).items()}}
        conn = connect(config, limits, what=self.label, startup_params=startup)
        # The socket may not wait forever either: a server that stops answering is a failure.
        conn._usock.settimeout(statement_timeout_ms(config, limits) / 1000 + 5)
        return conn

    @contextmanager
    def _errors(self, config: dict[str, Any]) -> Iterator[None]:
        import pg8000.exceptions

        try:
            yield
        except TelltaleError:
            raise
        except (pg8000.exceptions.DatabaseError, pg8000.exceptions.InterfaceError, OSError) as exc:
            raise execution_error(exc, config, message=db_error_message(exc)) from None

    @contextmanager
    def session(self, config: dict[str, Any], limits: Limits) -> Iterator[pg8000.native.Connection]:
        """A connection inside the READ ONLY transaction with its timeouts; rolled back and closed after.

        For running statements as they are (the guard-off tests): ``execute`` does the same in fewer round
        trips. Failures inside are QueryExecutionErrors with the server's message (redacted)."""
        conn = self._connect(config, limits)
        try:
            with self._errors(config):
                conn.run("; ".join(self.preamble(config, limits)))
                yield conn
        finally:
            end(conn)

    def execute(self, prepared: Prepared, limits: Limits) -> Result:
        conn = self._connect(prepared.config, limits)
        try:
            with self._errors(prepared.config):
                return stream(conn, prepared.text, limits, params=prepared.params,
                              preamble=self.preamble(prepared.config, limits), wrap=self.startup_settings)
        finally:
            end(conn)


def end(conn: pg8000.native.Connection) -> None:
    """ROLLBACK and Terminate in one write, without waiting for the answer, then close the socket. A
    connection left mid-reply (budget spent) is already closed: the server rolls back a lost session."""
    from pg8000.core import NULL_BYTE, QUERY, TERMINATE_MSG

    if conn._usock is None:
        return
    with contextlib.suppress(Exception):
        conn._send_message(QUERY, b"ROLLBACK" + NULL_BYTE)
        conn._sock.write(TERMINATE_MSG)
        conn._sock.flush()
    with contextlib.suppress(Exception):
        conn._usock.close()
    conn._sock = conn._usock = None


CONNECTOR = PostgresConnector()
