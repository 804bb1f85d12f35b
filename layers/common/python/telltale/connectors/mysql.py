"""MySQL / MariaDB (pymysql): an explicit READ ONLY transaction ended by ROLLBACK, with the server's
statement time limit and lock waits bounded, and an unbuffered result kept within the reply's row and
byte limits as it arrives.

Round trips after the handshake: pymysql's ``SET NAMES``; one ``SET SESSION`` that sets every limit and the
session's read-only characteristic at once; ``START TRANSACTION READ ONLY``; the query. pymysql's own
autocommit switch is not used (``autocommit=None``: no ``SET AUTOCOMMIT`` round trip); the explicit
transaction is what the query runs in, whatever the server's autocommit. No multi-statement flag: the
query is one statement.

Parameters: the renderer inlines MySQL values as literals (``Prepared.params`` is empty); a non-empty dict
is bound by pymysql's own escaping (``%(name)s`` in the SQL), so nothing breaks if one is given.
"""

from __future__ import annotations

import contextlib
from typing import Any

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

# pymysql FIELD_TYPE codes -> names.
MYSQL_TYPES = {
    0: "decimal", 1: "tinyint", 2: "smallint", 3: "int", 4: "float", 5: "double", 6: "null", 7: "timestamp",
    8: "bigint", 9: "mediumint", 10: "date", 11: "time", 12: "datetime", 13: "year", 15: "varchar", 16: "bit",
    245: "json", 246: "decimal", 247: "enum", 248: "set", 249: "tinyblob", 250: "mediumblob", 251: "longblob",
    252: "blob", 253: "varchar", 254: "char", 255: "geometry",
}
# A read waiting this long for a lock is stuck behind a writer: fail it clearly instead.
MAX_LOCK_WAIT_S = 5


def session_settings(server_info: str, timeout: int) -> str:
    """One SET for every limit: MariaDB's max_statement_time (seconds, any statement) or MySQL's
    max_execution_time (milliseconds, SELECT only); metadata and InnoDB row lock waits; and the session's
    transactions read-only (MariaDB spells it tx_read_only, MySQL 8 transaction_read_only)."""
    lock_wait = max(1, min(timeout, MAX_LOCK_WAIT_S))
    if "mariadb" in server_info.lower():
        limit, read_only = f"max_statement_time = {int(timeout)}", "tx_read_only = 1"
    else:
        limit, read_only = f"max_execution_time = {int(timeout) * 1000}", "transaction_read_only = 1"
    return (f"SET SESSION {limit}, SESSION lock_wait_timeout = {lock_wait},"
            f" SESSION innodb_lock_wait_timeout = {lock_wait}, SESSION {read_only}")


class MySQLConnector:
    driver = "mysql"
    libraries: tuple[str, ...] = ("pymysql", "pymysql.cursors")

    def _connect(self, config: dict[str, Any], limits: Limits, timeout: int) -> Any:
        import pymysql
        import pymysql.cursors

        ssl_context = None
        if config.get("ssl"):
            import ssl as ssl_mod

            ssl_context = ssl_mod.create_default_context()
        try:
            conn = pymysql.connect(
                host=config["host"], port=int(config["port"]), user=config["username"],
                password=config.get("password") or "", database=config["database"], charset="utf8mb4",
                connect_timeout=min(int(config.get("connect_timeout") or 10), limits.connect_timeout_s),
                read_timeout=timeout + 5, write_timeout=timeout + 5, autocommit=None,
                cursorclass=pymysql.cursors.SSCursor, ssl=ssl_context, defer_connect=True,
            )
            conn.connect(socket_for(config, limits))  # the checked address; TLS still verifies ``host``
        except Exception as exc:  # noqa: BLE001 - every failure to connect is the same ConnectorError
            raise connector_error("MySQL", exc, config) from None
        return conn

    def execute(self, prepared: Prepared, limits: Limits) -> Result:
        import pymysql

        config = prepared.config
        timeout = min(int(config.get("statement_timeout") or limits.statement_timeout_s), limits.statement_timeout_s)
        conn = self._connect(config, limits, timeout)
        budget = RowBudget(limits)
        columns: list[dict[str, str]] = []
        clean = False
        try:
            cur = conn.cursor()
            cur.execute(session_settings(conn.get_server_info(), timeout))
            cur.execute("START TRANSACTION READ ONLY")
            # From here every read off the socket is counted: a value bigger than the reply can hold is
            # refused before pymysql reads it (a 16 MB packet, or several for a bigger value).
            conn._rfile = GuardedReader(conn._rfile, budget)
            cur.execute(prepared.text, prepared.params or None)
            columns = [{"name": d[0], "type": MYSQL_TYPES.get(int(d[1]), f"type:{d[1]}")}
                       for d in (cur.description or ())]
            budget.columns([c["name"] for c in columns])
            while not budget.full:
                row = cur.fetchone()
                if row is None:
                    clean = True
                    break
                budget.add(list(row))
        except ReplyFull:
            pass
        except pymysql.MySQLError as exc:
            code = exc.args[0] if exc.args else "?"
            msg = exc.args[1] if len(exc.args) > 1 else str(exc)
            raise execution_error(exc, config, message=f"{msg} (MySQL error {code})") from None
        finally:
            end(conn, clean)
        return budget.result(columns)


def end(conn: Any, clean: bool) -> None:
    """ROLLBACK and QUIT, then close. After a reply read to its end, ROLLBACK and QUIT are written together
    without waiting for the answer (the server runs them in order). A reply cut short (row cap, byte budget,
    error) leaves the server mid-result: the connection is dropped instead, which rolls the transaction
    back on the server. The unread result is detached first: pymysql would otherwise try to read the rest of
    it from the closed socket when it is collected (an unraisable error)."""
    result = conn._result
    if result is not None and result.unbuffered_active:
        result.unbuffered_active = False
        clean = False
    conn._result = None
    if clean:
        from pymysql.constants import COMMAND

        with contextlib.suppress(Exception):
            conn._execute_command(COMMAND.COM_QUERY, "ROLLBACK")
            conn.close()  # COM_QUIT
    with contextlib.suppress(Exception):
        conn._force_close()


CONNECTOR = MySQLConnector()
