"""The event store port and its two adapters: PostgreSQL (the default) and ClickHouse.

Both are append-only and idempotent on (tenant, eventId): writing the same event twice stores it once,
which is what makes queue redelivery, worker crashes and client replays safe.

- PostgreSQL: ``events.events`` is range-partitioned by ``occurred_at`` (one partition per month,
  created on demand by the writer) and indexed on (tenant, type, time). Uniqueness across partitions
  lives in ``events.event_ids`` (tenant, event_id): one statement claims the ids and inserts only the
  events whose id was new, so a batch is stored exactly once even if it is retried after a crash.
- ClickHouse: a ReplacingMergeTree keyed on (tenant, event_id); replays are collapsed at merge time and
  every read uses FINAL, so results are the same as PostgreSQL's. The version column keeps the first
  received copy, as PostgreSQL does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from telltale.config import get_settings
from telltale.events.dsl import Compiled, Dialect
from telltale.events.models import Event, iso_ms

PG_TABLE = "events.events"
CH_TABLE = "events"


class EventStore(Protocol):
    dialect: Dialect

    @property
    def table(self) -> str:
        """The schema-qualified table the DSL reads."""

    def write(self, events: list[Event]) -> int:
        """Store the events (idempotently); returns how many were new."""

    def run(self, compiled: Compiled) -> list[tuple[Any, ...]]:
        """Run a compiled DSL query; rows as tuples in column order."""

    def recent_events(self, tenant_id: str, actor_id: str, since: datetime, limit: int) -> list[dict[str, Any]]:
        """A user's events since ``since``, newest first (the SaaS user history)."""


# ----------------------------------------------------------------------------------------------- PostgreSQL
_partitions: set[str] = set()
_partitions_lock = threading.Lock()


def _month_start(ts: datetime) -> datetime:
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def _next_month(ts: datetime) -> datetime:
    return datetime(ts.year + (ts.month == 12), ts.month % 12 + 1, 1, tzinfo=UTC)


class PostgresEventStore:
    dialect: Dialect = "postgres"
    table = PG_TABLE

    def ensure_partitions(self, times: Iterable[datetime]) -> None:
        from telltale import db

        months = {_month_start(t) for t in times}
        for month in sorted(months):
            name = f"events_p{month:%Y%m}"
            if name in _partitions:
                continue
            with _partitions_lock:
                for attempt in range(3):
                    try:
                        db.query(
                            f"CREATE TABLE IF NOT EXISTS events.{name} PARTITION OF events.events"
                            f" FOR VALUES FROM ('{month:%Y-%m-%d}') TO ('{_next_month(month):%Y-%m-%d}')"
                        )
                        break
                    except Exception as exc:
                        if "already exists" not in str(exc) or attempt == 2:
                            raise
                        time.sleep(0.05)
                _partitions.add(name)

    def write(self, events: list[Event]) -> int:
        from telltale import db

        if not events:
            return 0
        self.ensure_partitions(e.occurred_at for e in events)
        # Arrays keep this one round trip per batch; the CTE claims ids and inserts only the new events in
        # one atomic statement (a crash leaves either both or neither).
        rows = db.query(
            """
            WITH incoming AS (
              SELECT DISTINCT ON (tenant_id, event_id) * FROM unnest(
                CAST(:tenant AS text[]), CAST(:id AS text[]), CAST(:type AS text[]), CAST(:occurred AS text[]),
                CAST(:received AS text[]), CAST(:actor_type AS text[]), CAST(:actor_id AS text[]),
                CAST(:entity_type AS text[]), CAST(:entity_id AS text[]), CAST(:version AS int[]),
                CAST(:attrs AS text[]), CAST(:source AS text[]))
                AS t(tenant_id, event_id, event_type, occurred_at, received_at, actor_type, actor_id, entity_type,
                     entity_id, schema_version, attributes, source)
            ), claimed AS (
              INSERT INTO events.event_ids (tenant_id, event_id)
              SELECT tenant_id, event_id FROM incoming ON CONFLICT DO NOTHING RETURNING tenant_id, event_id
            )
            INSERT INTO events.events (tenant_id, event_id, event_type, occurred_at, received_at, actor_type,
                                       actor_id, entity_type, entity_id, schema_version, attributes, source)
            SELECT i.tenant_id, i.event_id, i.event_type, CAST(i.occurred_at AS timestamptz),
                   CAST(i.received_at AS timestamptz), i.actor_type, i.actor_id, i.entity_type, i.entity_id,
                   i.schema_version, CAST(i.attributes AS jsonb), i.source
            FROM incoming i JOIN claimed c USING (tenant_id, event_id)
            RETURNING 1
            """,
            **_columns(events),
        )
        return len(rows)

    def run(self, compiled: Compiled) -> list[tuple[Any, ...]]:
        from telltale import db

        names = [c.name for c in compiled.columns]
        rows = db.query(compiled.sql, **compiled.params)
        return [tuple(r[n] for n in names) for r in rows]

    def recent_events(self, tenant_id: str, actor_id: str, since: datetime, limit: int) -> list[dict[str, Any]]:
        from telltale import db

        return db.query(
            "SELECT event_id, event_type, occurred_at, entity_type, entity_id, attributes FROM events.events"
            " WHERE tenant_id = :t AND actor_id = :a AND occurred_at >= :since"
            " ORDER BY occurred_at DESC, event_id LIMIT :lim",
            t=tenant_id, a=actor_id, since=since, lim=limit,
        )


def _columns(events: list[Event]) -> dict[str, list[Any]]:
    import json

    return {
        "tenant": [e.tenant_id for e in events], "id": [e.event_id for e in events],
        "type": [e.event_type for e in events], "occurred": [iso_ms(e.occurred_at) for e in events],
        "received": [iso_ms(e.received_at) for e in events], "actor_type": [e.actor_type for e in events],
        "actor_id": [e.actor_id for e in events], "entity_type": [e.entity_type for e in events],
        "entity_id": [e.entity_id for e in events], "version": [e.schema_version for e in events],
        "attrs": [json.dumps(e.attributes, separators=(",", ":")) for e in events],
        "source": [e.source for e in events],
    }


# ----------------------------------------------------------------------------------------------- ClickHouse
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
                from telltale.errors import ServiceUnavailable

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
        result = clickhouse_client().query(compiled.sql, parameters=compiled.params,
                                           settings={"readonly": 2})
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


def uses_clickhouse(tenant_id: str | None) -> bool:
    s = get_settings()
    if s.event_store == "clickhouse":
        return True
    listed = {t.strip() for t in s.clickhouse_tenants.split(",") if t.strip()}
    return tenant_id is not None and tenant_id in listed


def store_for(tenant_id: str | None) -> EventStore:
    """The store holding ``tenant_id``'s events (TELLTALE_EVENT_STORE, or TELLTALE_CLICKHOUSE_TENANTS)."""
    if uses_clickhouse(tenant_id):
        return ClickHouseEventStore()
    return PostgresEventStore()
