"""The ClickHouse store's tables (events, and the API request log with its rollups), as ordered, idempotent
migrations, on one node or on a cluster.

Single node (and ClickHouse Cloud): ``events`` and ``event_ids`` are ReplacingMergeTree tables.
Cluster (``TELLTALE_CLICKHOUSE_CLUSTER=<name>``): every statement is ``ON CLUSTER``, the data lives in
``events_local`` / ``event_ids_local`` (Replicated*MergeTree with the standard ``{shard}``/``{replica}``
macros), and ``events`` / ``event_ids`` are Distributed tables sharded by ``cityHash64(tenant_id)``: all of
a tenant's rows, and so every copy of one event, are on one shard, where FINAL and the id lookup see them.

The event table is laid out for the queries the DSL makes (docs/events.md, "The ClickHouse table"):
partitioned by month of ``occurred_at`` and ordered by ``(tenant_id, event_type, occurred_at, event_id)``,
so one tenant's one event type over one month reads that range of that partition only. A replay of an
event is dropped at insert by ``event_ids`` (ordered by ``(tenant_id, event_id)``: one primary-key lookup
per batch; filled by a materialized view on every insert into ``events``); what a race of two workers lets
through has the same sorting key as its first copy, so the ReplacingMergeTree collapses it, and reads use
FINAL (confined to the partitions and key ranges a query selects) until it has.

Migrations are recorded in ``schema_migrations``; each statement is safe to repeat (``IF NOT EXISTS``), so
two cold starts applying them at once do no harm. A table made by an earlier release (ordered by
``(tenant_id, event_id)``, unpartitioned) is renamed ``events_legacy`` and its rows copied into the new
table once (the FINAL copy of each event); dropping ``events_legacy`` afterwards is the operator's call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EVENT_COLUMNS = """
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
    version        UInt64 MATERIALIZED toUInt64(9999999999999) - toUInt64(toUnixTimestamp64Milli(received_at))"""
COPY_COLUMNS = ("tenant_id, event_id, event_type, occurred_at, received_at, actor_type, actor_id, entity_type,"
                " entity_id, schema_version, attributes, source")
LEGACY_SORTING_KEY = "tenant_id, event_id"


@dataclass(frozen=True)
class Layout:
    database: str
    cluster: str = ""

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER `{self.cluster}`" if self.cluster else ""

    def data_table(self, name: str) -> str:
        """Where rows are stored: the table itself, or its shard-local table on a cluster."""
        return f"{name}_local" if self.cluster else name

    def engine(self, kind: str, table: str, *args: str, sharded: bool = True) -> str:
        """``kind`` on one node; on a cluster its Replicated form, one replica set per shard (or, for a
        table that is not sharded, one across the whole cluster)."""
        if self.cluster:
            path = f"'/clickhouse/tables/{{shard}}/{self.database}/{table}'" if sharded else \
                f"'/clickhouse/tables/{self.database}/{table}'"
            replica = "'{replica}'"
            return f"Replicated{kind}({', '.join([path, replica, *args])})"
        return f"{kind}({', '.join(args)})"

    def q(self, table: str) -> str:
        return f"`{self.database}`.`{table}`"


def column_types(columns: str) -> dict[str, str]:
    """Each stored column's type, from a table's column text (materialized columns left out): what an
    insert names, so that clickhouse-connect need not ask the server for the table's types (one round
    trip per insert, as long as the insert itself on a small batch)."""
    out = {}
    for line in columns.strip().splitlines():
        line = line.split("--", 1)[0].strip().rstrip(",")
        if not line or " MATERIALIZED " in line or line.startswith("INDEX "):
            continue
        name, kind = line.split(None, 1)
        out[name] = kind.strip()
    return out


def _sharded(layout: Layout, name: str, columns: str, engine: str, tail: str) -> list[str]:
    """The table ``name`` (and on a cluster its Distributed front, sharded by tenant)."""
    data = layout.data_table(name)
    statements = [f"CREATE TABLE IF NOT EXISTS {layout.q(data)}{layout.on_cluster} ({columns}\n) ENGINE = {engine}"
                  f"\n{tail}"]
    if layout.cluster:
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {layout.q(name)}{layout.on_cluster} AS {layout.q(data)}"
            f" ENGINE = Distributed(`{layout.cluster}`, `{layout.database}`, `{data}`, cityHash64(tenant_id))")
    return statements


def events_by_type_and_time(layout: Layout) -> list[str]:
    columns = EVENT_COLUMNS + """,
    INDEX idx_actor actor_id TYPE bloom_filter GRANULARITY 4"""
    engine = layout.engine("ReplacingMergeTree", layout.data_table("events"), "version")
    return _sharded(layout, "events", columns, engine,
                    "PARTITION BY toYYYYMM(occurred_at)\nORDER BY (tenant_id, event_type, occurred_at, event_id)")


EVENT_ID_COLUMNS = """
    tenant_id   String,
    event_id    String,
    received_at DateTime64(3, 'UTC')"""


def event_ids(layout: Layout) -> list[str]:
    columns = EVENT_ID_COLUMNS
    engine = layout.engine("ReplacingMergeTree", layout.data_table("event_ids"))
    return _sharded(layout, "event_ids", columns, engine, "ORDER BY (tenant_id, event_id)")


def event_ids_from_inserts(layout: Layout) -> list[str]:
    """Every insert into the events records its ids: a materialized view from ``events`` into ``event_ids``
    (on a cluster, between each shard's local tables, where a tenant's rows are). The server runs it as part
    of the same INSERT, so no worker can die between storing an event and recording its id, and the
    worker's write is one insert, not two."""
    return [f"CREATE MATERIALIZED VIEW IF NOT EXISTS {layout.q(layout.data_table('event_ids') + '_mv')}"
            f"{layout.on_cluster} TO {layout.q(layout.data_table('event_ids'))} AS"
            f" SELECT tenant_id, event_id, received_at FROM {layout.q(layout.data_table('events'))}"]


REQUEST_COLUMNS = """
    tenant_id     String,
    api_key_id    String,
    -- Unique, and in insertion order within a millisecond: (created_at, id) is the data API's keyset.
    id            UInt128,
    created_at    DateTime64(6, 'UTC'),
    hostname      Nullable(String),
    ip_address    Nullable(String),
    path          String,
    method        LowCardinality(String),
    status        UInt16,
    response_time UInt32,
    browser       LowCardinality(Nullable(String)),
    os            LowCardinality(Nullable(String)),
    location      LowCardinality(Nullable(String)),
    user_id       Nullable(String),
    framework     LowCardinality(Nullable(String))"""


def api_requests(layout: Layout) -> list[str]:
    """The API request log (spec 002), ordered for one key's rows in time (the data API's pages, the
    dashboard's ranges), partitioned by month."""
    engine = layout.engine("MergeTree", layout.data_table("api_requests"))
    return _sharded(layout, "api_requests", REQUEST_COLUMNS, engine,
                    "PARTITION BY toYYYYMM(created_at)\nORDER BY (tenant_id, api_key_id, created_at, id)")


# The response-time buckets of the rollups, in ms (telltale.apianalytics.stores.base.RESPONSE_BUCKETS, which
# a test holds equal): [0, 50), [50, 100), ... [2500, ...).
ROLLUP_BUCKETS = (0, 50, 100, 250, 500, 1000, 2500)
ROLLUP_DIMENSIONS = "tenant_id, api_key_id, hour, hostname, method, path, status, location, browser, os"


def _bucket_counts() -> str:
    out = []
    for i, lo in enumerate(ROLLUP_BUCKETS):
        hi = f" AND response_time < {ROLLUP_BUCKETS[i + 1]}" if i + 1 < len(ROLLUP_BUCKETS) else ""
        out.append(f"countIf(response_time >= {lo}{hi}) AS rt_b{i}")
    return ", ".join(out)


def api_request_rollups(layout: Layout) -> list[str]:
    """Hourly rollups of the request log, kept by a materialized view on every insert (on a cluster, on each
    shard's local table: a tenant's rows and rollups share the shard). SummingMergeTree adds up rows of
    the same dimensions as it merges; reads sum() them anyway, so an unmerged part is never miscounted.
    NULLs are '' here (a sorting key has no Nullable columns); reads turn them back."""
    buckets = ",\n".join(f"    rt_b{i} UInt64" for i in range(len(ROLLUP_BUCKETS)))
    columns = f"""
    tenant_id         String,
    api_key_id        String,
    hour              DateTime('UTC'),
    hostname          String,
    method            LowCardinality(String),
    path              String,
    status            UInt16,
    location          LowCardinality(String),
    browser           LowCardinality(String),
    os                LowCardinality(String),
    requests          UInt64,
    errors            UInt64,
    response_time_sum UInt64,
{buckets}"""
    engine = layout.engine("SummingMergeTree", layout.data_table("api_request_rollups"))
    tables = _sharded(layout, "api_request_rollups", columns, engine,
                      f"PARTITION BY toYYYYMM(hour)\nORDER BY ({ROLLUP_DIMENSIONS})")
    view = (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {layout.q(layout.data_table('api_request_rollups') + '_mv')}"
            f"{layout.on_cluster} TO {layout.q(layout.data_table('api_request_rollups'))} AS"
            " SELECT tenant_id, api_key_id, toStartOfHour(created_at) AS hour, ifNull(hostname, '') AS hostname,"
            " method, path, status, ifNull(location, '') AS location, ifNull(browser, '') AS browser,"
            " ifNull(os, '') AS os, count() AS requests, countIf(status >= 400) AS errors,"
            f" sum(response_time) AS response_time_sum, {_bucket_counts()}"
            f" FROM {layout.q(layout.data_table('api_requests'))} GROUP BY {ROLLUP_DIMENSIONS}")
    return [*tables, view]


MIGRATIONS = (
    ("0001_events_by_type_and_time", events_by_type_and_time),
    ("0002_event_ids", event_ids),
    ("0003_api_requests", api_requests),
    ("0004_api_request_rollups", api_request_rollups),
    ("0005_event_ids_from_inserts", event_ids_from_inserts),
)


def bootstrap(layout: Layout) -> list[str]:
    """The database and the migrations' own record."""
    # Not sharded: every node reads the same record of what was applied.
    engine = layout.engine("ReplacingMergeTree", "schema_migrations", sharded=False)
    return [f"CREATE DATABASE IF NOT EXISTS `{layout.database}`{layout.on_cluster}",
            f"CREATE TABLE IF NOT EXISTS {layout.q('schema_migrations')}{layout.on_cluster}"
            f" (id String, applied_at DateTime DEFAULT now()) ENGINE = {engine} ORDER BY id"]


def ddl(layout: Layout) -> list[str]:
    """Every statement a fresh database gets, in order (what the golden tests read)."""
    return bootstrap(layout) + [s for _, make in MIGRATIONS for s in make(layout)]


def apply(client: Any, layout: Layout) -> list[str]:
    """Bring the database up to date; the ids of the migrations this call applied."""
    for statement in bootstrap(layout):
        client.command(statement)
    record = layout.q("schema_migrations")
    done = {r[0] for r in client.query(f"SELECT id FROM {record}").result_rows}
    applied = []
    for migration_id, make in MIGRATIONS:
        if migration_id in done:
            continue
        legacy = migration_id == "0001_events_by_type_and_time" and _legacy_events(client, layout)
        if legacy:
            client.command(f"RENAME TABLE {layout.q('events')} TO {layout.q('events_legacy')}{layout.on_cluster}")
        for statement in make(layout):
            client.command(statement)
        if legacy:
            client.command(f"INSERT INTO {layout.q('events')} ({COPY_COLUMNS})"
                           f" SELECT {COPY_COLUMNS} FROM {layout.q('events_legacy')} FINAL")
        if migration_id == "0002_event_ids":  # the ids of what is stored already (none on a fresh database)
            client.command(f"INSERT INTO {layout.q('event_ids')} (tenant_id, event_id, received_at)"
                           f" SELECT tenant_id, event_id, received_at FROM {layout.q('events')} FINAL")
        client.command(f"INSERT INTO {record} (id) VALUES ('{migration_id}')")
        applied.append(migration_id)
    return applied


def _legacy_events(client: Any, layout: Layout) -> bool:
    """Whether ``events`` is an earlier release's table (ordered by tenant and id, unpartitioned)."""
    rows = client.query("SELECT sorting_key FROM system.tables WHERE database = {d:String} AND name = 'events'",
                        parameters={"d": layout.database}).result_rows
    return bool(rows) and rows[0][0] == LEGACY_SORTING_KEY
