"""MySQL / MariaDB (pymysql): a READ ONLY transaction, the server's statement time limit, and an unbuffered
cursor read up to ``max_rows + 1`` rows."""

from __future__ import annotations

import contextlib
from typing import Any

from telltale.connectors.base import Limits, Prepared, Result, connector_error, execution_error, rows_as_dicts
from telltale.connectors.outbound import socket_for

# pymysql FIELD_TYPE codes -> names.
MYSQL_TYPES = {
    0: "decimal", 1: "tinyint", 2: "smallint", 3: "int", 4: "float", 5: "double", 6: "null", 7: "timestamp",
    8: "bigint", 9: "mediumint", 10: "date", 11: "time", 12: "datetime", 13: "year", 15: "varchar", 16: "bit",
    245: "json", 246: "decimal", 247: "enum", 248: "set", 249: "tinyblob", 250: "mediumblob", 251: "longblob",
    252: "blob", 253: "varchar", 254: "char", 255: "geometry",
}


class MySQLConnector:
    driver = "mysql"

    def execute(self, prepared: Prepared, limits: Limits) -> Result:
        import pymysql
        import pymysql.cursors

        config = prepared.config
        timeout = min(int(config.get("statement_timeout") or limits.statement_timeout_s), limits.statement_timeout_s)
        ssl: dict[str, Any] | None = None
        if config.get("ssl"):
            import ssl as ssl_mod

            ssl = {"ssl": ssl_mod.create_default_context()}
        try:
            conn = pymysql.connect(
                host=config["host"], port=int(config["port"]), user=config["username"],
                password=config.get("password") or "", database=config["database"], charset="utf8mb4",
                connect_timeout=min(int(config.get("connect_timeout") or 10), limits.connect_timeout_s),
                read_timeout=timeout + 5, write_timeout=timeout + 5, autocommit=False,
                cursorclass=pymysql.cursors.SSCursor, ssl=ssl["ssl"] if ssl else None, defer_connect=True,
            )
            conn.connect(socket_for(config, limits))  # the checked address; TLS still verifies ``host``
        except Exception as exc:  # noqa: BLE001 - every failure to connect is the same ConnectorError
            raise connector_error("MySQL", exc, config) from None
        try:
            # No ``with``: closing an unbuffered cursor would read every remaining row; closing the
            # connection drops them instead.
            cur = conn.cursor()
            try:
                if "mariadb" in conn.get_server_info().lower():
                    cur.execute(f"SET SESSION max_statement_time = {timeout}")
                else:
                    cur.execute(f"SET SESSION max_execution_time = {timeout * 1000}")
                cur.execute("SET SESSION TRANSACTION READ ONLY")
                cur.execute("START TRANSACTION READ ONLY")
                cur.execute(prepared.text)
                rows = cur.fetchmany(limits.max_rows + 1)
                desc = cur.description or ()
            except pymysql.MySQLError as exc:
                code = exc.args[0] if exc.args else "?"
                msg = exc.args[1] if len(exc.args) > 1 else str(exc)
                raise execution_error(exc, config, message=f"{msg} (MySQL error {code})") from None
            columns = [{"name": d[0], "type": MYSQL_TYPES.get(int(d[1]), f"type:{d[1]}")} for d in desc]
            truncated = len(rows) > limits.max_rows
            return Result(columns, rows_as_dicts([c["name"] for c in columns], rows[: limits.max_rows]), truncated)
        finally:
            # Closing drops the unread rows and ends the (read-only) transaction.
            with contextlib.suppress(Exception):
                conn.close()


CONNECTOR = MySQLConnector()
