"""The ClickHouse event store.

A ReplacingMergeTree keyed on (tenant, event_id); replays are collapsed at merge time and every read uses
FINAL, so results are the same as PostgreSQL's. The version column keeps the first received copy, as
PostgreSQL does.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from telltale.events.dsl import Compiled, Dialect
from telltale.events.models import Event
from telltale.events.stores.base import QUERY_TIMEOUT_S, too_slow
from telltale.platform.config import get_settings

CH_TABLE = "events"
CH_DDL = """
CREATE TABLE IF NOT EXISTS {db}.events (
    tenant_id      String,
    event_id       String,
    event_type     LowCardinality(String),
    occurred_at    DateTime64(3, 'UTC'),
    received_at    DateTime64(3, 'UTC'),
    actor_type     LowCardinality(Nullable(String)),
    actor_id       Nullable(String),
    entity_type    LowCardinality(Nullable(String)),
    entity_id      Nullable(String),
    schema_version UInt32,
    attributes     Map(String, String),
    source         LowCardinality(String),
    -- ReplacingMergeTree keeps the row with the highest version: the first one received wins.
    version        UInt64 MATERIALIZED toUInt64(9999999999999) - toUInt64(toUnixTimestamp64Milli(received_at)),
    INDEX idx_type event_type TYPE set(1000) GRANULARITY 4,
    INDEX idx_time occurred_at TYPE minmax GRANULARITY 4
) ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant_id, event_id)
"""
CH_COLUMNS = ["tenant_id", "event_id", "event_type", "occurred_at", "received_at", "actor_type", "actor_id",
              "entity_type", "entity_id", "schema_version", "attributes", "source"]

_ch_client: Any = None
_ch_ready: set[str] = set()
_ch_lock = threading.Lock()


def clickhouse_client() -> Any:
    """One clickhouse-connect client per process (it pools its HTTP connections)."""
    global _ch_client
    s = get_settings()
    key = f"{s.clickhouse_host}:{s.clickhouse_port}/{s.clickhouse_database}"
    with _ch_lock:
        if _ch_client is None or _ch_client[0] != key:
            if not s.clickhouse_host:
                from telltale.platform.errors import ServiceUnavailable

                raise ServiceUnavailable("the ClickHouse event store is not configured (TELLTALE_CLICKHOUSE_HOST)")
            import clickhouse_connect

            client = clickhouse_connect.get_client(
                host=s.clickhouse_host, port=s.clickhouse_port, username=s.clickhouse_user,
                password=s.clickhouse_password, secure=s.clickhouse_secure, connect_timeout=5,
                send_receive_timeout=60, autogenerate_session_id=False,
            )
            if key not in _ch_ready:
                client.command(f"CREATE DATABASE IF NOT EXISTS `{s.clickhouse_database}`")
                client.command(CH_DDL.format(db=f"`{s.clickhouse_database}`"))
                _ch_ready.add(key)
            _ch_client = (key, client)
        return _ch_client[1]


def reset_clickhouse() -> None:
    global _ch_client
    with _ch_lock:
        _ch_client = None
        _ch_ready.clear()


class ClickHouseEventStore:
    dialect: Dialect = "clickhouse"

    @property
    def table(self) -> str:
        return f"{get_settings().clickhouse_database}.{CH_TABLE}"

    def write(self, events: list[Event]) -> int:
        if not events:
            return 0
        client = clickhouse_client()
        rows = [[e.tenant_id, e.event_id, e.event_type, e.occurred_at, e.received_at, e.actor_type, e.actor_id,
                 e.entity_type, e.entity_id, e.schema_version, e.attributes, e.source] for e in events]
        client.insert(CH_TABLE, rows, column_names=CH_COLUMNS, database=get_settings().clickhouse_database)
        return len(events)

    def run(self, compiled: Compiled) -> list[tuple[Any, ...]]:
        try:
            result = clickhouse_client().query(compiled.sql, parameters=compiled.params,
                                               settings={"readonly": 2, "max_execution_time": QUERY_TIMEOUT_S})
        except Exception as exc:
            if "TIMEOUT_EXCEEDED" in str(exc) or "Code: 159" in str(exc):
                raise too_slow() from None
            raise
        return [tuple(r) for r in result.result_rows]

    def recent_events(self, tenant_id: str, actor_id: str, since: datetime, limit: int) -> list[dict[str, Any]]:
        result = clickhouse_client().query(
            f"SELECT event_id, event_type, occurred_at, entity_type, entity_id, attributes FROM {self.table} FINAL"
            " WHERE tenant_id = {t:String} AND actor_id = {a:String} AND occurred_at >= {since:DateTime64(3, 'UTC')}"
            " ORDER BY occurred_at DESC, event_id LIMIT {lim:UInt32}",
            parameters={"t": tenant_id, "a": actor_id, "since": since.strftime("%Y-%m-%d %H:%M:%S.000"),
                        "lim": limit},
        )
        return [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
