"""The ClickHouse event store.

The tables and their migrations are in :mod:`telltale.events.stores.clickhouse_schema` (one node or a
cluster). Writes drop the events whose id the tenant already has (one lookup in ``event_ids`` per tenant
and batch) and insert the rest, whose ids a materialized view records in the same INSERT; reads use FINAL,
confined to the partitions a query selects, so a copy that two racing workers let through is never counted
twice. The version column keeps the first received copy, as PostgreSQL does.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from telltale.events.dsl import Compiled, Dialect
from telltale.events.models import Event
from telltale.events.stores.base import QUERY_TIMEOUT_S, too_slow
from telltale.events.stores.clickhouse_schema import EVENT_COLUMNS, Layout, apply, column_types
from telltale.platform.config import get_settings

CH_TABLE = "events"
CH_COLUMNS = ["tenant_id", "event_id", "event_type", "occurred_at", "received_at", "actor_type", "actor_id",
              "entity_type", "entity_id", "schema_version", "attributes", "source"]
# The types, given with each insert (else clickhouse-connect asks the server for them first, every time).
_EVENT_TYPES = [column_types(EVENT_COLUMNS)[c] for c in CH_COLUMNS]
# Duplicates of an event share its partition (same occurred_at), so FINAL need not merge across them.
READ_SETTINGS = {"readonly": 2, "max_execution_time": QUERY_TIMEOUT_S,
                 "do_not_merge_across_partitions_select_final": 1}

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
                apply(client, layout())
                _ch_ready.add(key)
            _ch_client = (key, client)
        return _ch_client[1]


def layout() -> Layout:
    s = get_settings()
    return Layout(s.clickhouse_database, s.clickhouse_cluster)


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
        """Insert the events the tenant does not have yet; how many that was. One INSERT: the server records
        the ids with the events (migration 0005), so a worker killed after it leaves nothing for its
        redelivery to insert; two workers racing on one id insert it twice, with the same sorting key,
        which FINAL and the merges collapse."""
        if not events:
            return 0
        client = clickhouse_client()
        database = get_settings().clickhouse_database
        fresh: dict[tuple[str, str], Event] = {}
        for tenant in dict.fromkeys(e.tenant_id for e in events):
            ids = list(dict.fromkeys(e.event_id for e in events if e.tenant_id == tenant))
            known = {r[0] for r in client.query(
                f"SELECT event_id FROM `{database}`.event_ids WHERE tenant_id = {{t:String}}"
                " AND event_id IN {ids:Array(String)}", parameters={"t": tenant, "ids": ids}).result_rows}
            for e in events:
                if e.tenant_id == tenant and e.event_id not in known:
                    fresh.setdefault((tenant, e.event_id), e)  # within a batch too, the first copy wins
        if not fresh:
            return 0
        new = list(fresh.values())
        # On a cluster the inserts go through the Distributed tables: in the foreground, so that a batch
        # acknowledged to the queue is on its shard, not in a node's local send queue.
        settings = {"distributed_foreground_insert": 1} if get_settings().clickhouse_cluster else None
        client.insert(CH_TABLE, [[e.tenant_id, e.event_id, e.event_type, e.occurred_at, e.received_at, e.actor_type,
                                  e.actor_id, e.entity_type, e.entity_id, e.schema_version, e.attributes, e.source]
                                 for e in new], column_names=CH_COLUMNS, column_type_names=_EVENT_TYPES,
                      database=database, settings=settings)
        return len(new)

    def run(self, compiled: Compiled) -> list[tuple[Any, ...]]:
        try:
            result = clickhouse_client().query(compiled.sql, parameters=compiled.params, settings=READ_SETTINGS)
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
                        "lim": limit}, settings=READ_SETTINGS,
        )
        return [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
