"""PostgreSQL: pg_stat_statements, read over a normal connection (pg8000) to the configured database.

pg_stat_statements is an aggregate (calls per database, user and statement), not a log. Each run is a
snapshot: the calls added since the previous run become one ``query_log`` row per statement,
``execution_count`` = the delta, ``executed_at`` = the snapshot time, ``resource_id`` =
``dbid:userid:queryid@<snapshot>``. The counts seen are the remembered state; a count that went down
(``pg_stat_statements_reset()`` or eviction) starts again from zero.

Needs PostgreSQL 14 or newer (the ``toplevel`` column, which keeps statements run inside functions from
being counted twice); an older server is refused with a message saying so. The host is checked with
telltale.platform.netguard before connecting, like every other connector address.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from telltale.platform import netguard
from telltale.platform.db import pg_error
from telltale.platform.errors import ConnectorError
from telltale.usage.integrations.base import BiRecord, ItemError, item_error

MIN_VERSION_NUM = 140000

STATEMENTS_SQL = """
SELECT s.dbid::text || ':' || s.userid::text || ':' || s.queryid::text AS key, s.query, s.calls,
       r.rolname AS user_name, d.datname AS database_name
FROM pg_stat_statements s
LEFT JOIN pg_roles r ON r.oid = s.userid
LEFT JOIN pg_database d ON d.oid = s.dbid
WHERE s.queryid IS NOT NULL AND s.query IS NOT NULL AND s.query <> '<insufficient privilege>' AND s.calls > 0
  AND s.toplevel
  AND (:all_dbs OR d.datname = current_database())
  AND s.query ~* '^\\s*(select|with|insert|update|delete|merge|table|values)\\M'
  AND s.query !~* 'pg_stat_statements'
"""


class PostgresMiner:
    def __init__(self, config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> None:
        self.config = config
        self.credentials = credentials
        self.state = state

    def _connect(self) -> Any:
        import pg8000.native

        from telltale.connectors.outbound import category

        host, port = str(self.config["host"]), int(self.config["port"])
        try:
            # The checked address (telltale.platform.netguard), so DNS cannot rebind between check and connect.
            sock = netguard.connect(host, port, float(self.config["timeout_s"]))
        except netguard.Blocked as exc:
            raise ConnectorError(f"PostgreSQL at {host} cannot be contacted: {exc}") from None
        except OSError as exc:
            raise ConnectorError(f"cannot connect to PostgreSQL at {host}: {category(exc)}") from None
        ssl_context = None
        if self.config["ssl"]:
            import ssl

            ssl_context = ssl.create_default_context()
        try:
            return pg8000.native.Connection(
                user=str(self.credentials["username"]), password=self.credentials.get("password") or None,
                host=host, port=port, sock=sock,  # host: what TLS verifies the certificate against
                database=str(self.config["database"]), timeout=float(self.config["timeout_s"]),
                ssl_context=ssl_context, application_name="telltale-usage-mining")
        except Exception as exc:  # noqa: BLE001 - pg8000 raises several types; the message must stay generic
            raise ConnectorError(f"cannot connect to PostgreSQL at {host}: {category(exc)}") from None

    def collect(self) -> Iterator[BiRecord | ItemError]:
        conn = self._connect()
        try:
            version = int(conn.run("SHOW server_version_num")[0][0])
            if version < MIN_VERSION_NUM:
                raise ConnectorError(f"query-log mining needs PostgreSQL 14 or newer (pg_stat_statements"
                                     f".toplevel); this server is version {version // 10000}")
            try:
                result = conn.run(STATEMENTS_SQL, all_dbs=bool(self.config["all_databases"]))
            except Exception as exc:  # noqa: BLE001 - e.g. the extension is not installed
                msg = pg_error(exc)[1] or type(exc).__name__
                raise ConnectorError(f"cannot read pg_stat_statements: {msg}"[:300]) from None
            names = [c["name"] for c in conn.columns]
            snapshot = datetime.now(UTC)
        finally:
            conn.close()
        previous: dict[str, int] = dict(self.state.get("calls") or {})
        current: dict[str, int] = {}
        stamp = snapshot.strftime("%Y%m%dT%H%M%S.%fZ")
        for values in result:
            try:
                row = dict(zip(names, values, strict=True))
                key, calls = str(row["key"]), int(row["calls"])
                current[key] = calls
                before = previous.get(key, 0)
                delta = calls - before if calls >= before else calls
                if delta <= 0:
                    continue
                yield BiRecord(resource_type="query_log", resource_id=f"{key}@{stamp}", sql=str(row["query"]),
                               dialect="postgres", executed_by=row.get("user_name"), executed_at=snapshot,
                               execution_count=delta, title=row.get("database_name"))
            except (KeyError, TypeError, ValueError) as exc:
                yield item_error("pg_stat_statements row", exc)
        self.state["calls"] = current
        self.state["snapshot_at"] = snapshot.isoformat()


def make(config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> PostgresMiner:
    return PostgresMiner(config, credentials, state)
