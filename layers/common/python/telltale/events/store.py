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

import io
import re
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from telltale.config import get_settings
from telltale.events.dsl import Compiled, Dialect
from telltale.events.models import Event, iso_ms

PG_TABLE = "events.events"
QUERY_TIMEOUT_S = 25


def _too_slow() -> Exception:
    from telltale.errors import ServiceUnavailable

    return ServiceUnavailable(f"the query ran longer than {QUERY_TIMEOUT_S} s; narrow the time range or add filters")
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
        # One row per (tenant, eventId) in the batch, so the merge needs no DISTINCT (a sort).
        unique = list({(e.tenant_id, e.event_id): e for e in reversed(events)}.values())
        self.ensure_partitions(e.occurred_at for e in unique)
        payload = _csv(unique)
        # COPY into a per-connection staging table (as fast as a raw COPY), then one statement claims the
        # ids in the ledger and inserts only the events whose id was new. All in one transaction: a crash
        # leaves either the whole batch or none of it, and a retry stores only what is missing.
        with db.transaction() as tx:
            tx.run(_STAGE_DDL)
            tx.run(f"COPY pg_temp.events_stage ({_COPY_COLUMNS}) FROM STDIN WITH (FORMAT csv)",
                   stream=io.BytesIO(payload))
            rows = tx.run(_MERGE)
        return len(rows or [])

    def write_messages(self, messages: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
        """Store raw queue messages ``(message_id, body)``; returns (stored_ids, invalid_ids).

        The worker's fast path: the bodies are COPYed as they are and PostgreSQL parses, checks and
        normalises them in one statement (C code instead of Python per event), so the worker writes at
        close to COPY speed. A body that is not a valid event is left out and reported, so that it reaches
        the dead-letter queue. One transaction: a crash leaves the whole batch or none of it.
        """
        import csv

        from telltale import db

        if not messages:
            return [], []
        self.ensure_partitions(_months_of(body) for _, body in messages)
        buf = io.StringIO()
        csv.writer(buf).writerows(messages)
        with db.transaction() as tx:
            tx.run(_INBOX_DDL)
            # CTE scans have no statistics; without this the planner joins v and claimed in a nested loop.
            tx.run("SET LOCAL enable_nestloop = off")
            tx.run("SET LOCAL jit = off")  # compiling costs more than it saves on one batch
            tx.run("COPY pg_temp.events_inbox (message_id, body) FROM STDIN WITH (FORMAT csv)",
                   stream=io.BytesIO(buf.getvalue().encode()))
            invalid = [r[0] for r in tx.run(_MERGE_INBOX) or []]
        bad = set(invalid)
        return [m for m, _ in messages if m not in bad], invalid

    def run(self, compiled: Compiled) -> list[tuple[Any, ...]]:
        from telltale import db

        # Read-only, and cut before API Gateway's 29 s so that the client gets a reason, not a timeout.
        try:
            with db.transaction() as tx:
                tx.run("SET TRANSACTION READ ONLY")
                tx.run(f"SET LOCAL statement_timeout = {QUERY_TIMEOUT_S * 1000}")
                rows = tx.run(compiled.sql, **compiled.params) or []
        except Exception as exc:
            if "57014" in str(exc):  # query_canceled
                raise _too_slow() from None
            raise
        return [tuple(r) for r in rows]

    def recent_events(self, tenant_id: str, actor_id: str, since: datetime, limit: int) -> list[dict[str, Any]]:
        from telltale import db

        return db.query(
            "SELECT event_id, event_type, occurred_at, entity_type, entity_id, attributes FROM events.events"
            " WHERE tenant_id = :t AND actor_id = :a AND occurred_at >= :since"
            " ORDER BY occurred_at DESC, event_id LIMIT :lim",
            t=tenant_id, a=actor_id, since=since, lim=limit,
        )


_COPY_COLUMNS = ("tenant_id, event_id, event_type, occurred_at, received_at, actor_type, actor_id, entity_type,"
                 " entity_id, schema_version, attributes, source")
# ON COMMIT DELETE ROWS: the staging table is empty at the start of every batch's transaction.
_STAGE_DDL = ("CREATE TEMP TABLE IF NOT EXISTS events_stage (LIKE events.events INCLUDING DEFAULTS)"
              " ON COMMIT DELETE ROWS")
_MERGE = f"""
WITH claimed AS (
  INSERT INTO events.event_ids (tenant_id, event_id)
  SELECT tenant_id, event_id FROM pg_temp.events_stage
  ON CONFLICT DO NOTHING RETURNING tenant_id, event_id
)
INSERT INTO events.events ({_COPY_COLUMNS})
SELECT {", ".join("s." + c.strip() for c in _COPY_COLUMNS.split(","))}
FROM pg_temp.events_stage s JOIN claimed c ON c.tenant_id = s.tenant_id AND c.event_id = s.event_id
RETURNING 1
"""


_INBOX_DDL = "CREATE TEMP TABLE IF NOT EXISTS events_inbox (message_id text, body text) ON COMMIT DELETE ROWS"
_TEXT_OR_NULL = ("coalesce(jsonb_typeof(b->'{k}'), 'null') IN ('string', 'null')"
                 " AND coalesce(length(b->>'{k}'), 0) <= {n}")
# The same rules as telltale.events.models.validate_event, for messages the API or the outbox produced.
_VALID = " AND ".join([
    "jsonb_typeof(b) = 'object'",
    "jsonb_typeof(b->'tenantId') = 'string'", "length(b->>'tenantId') BETWEEN 1 AND 128",
    "jsonb_typeof(b->'eventId') = 'string'", "pg_input_is_valid(b->>'eventId', 'uuid')",
    "jsonb_typeof(b->'eventType') = 'string'",
    # Unbounded repetitions: PostgreSQL's regex engine is slow with {1,64}-style bounds.
    "length(b->>'eventType') <= 200", "b->>'eventType' ~ '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)+$'",
    # ISO 8601 only: PostgreSQL alone would also take 'yesterday', 'epoch' or 'infinity'.
    "jsonb_typeof(b->'occurredAt') = 'string'", "b->>'occurredAt' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'",
    "left(b->>'occurredAt', 4) BETWEEN '1970' AND '2200'", "pg_input_is_valid(b->>'occurredAt', 'timestamptz')",
    "coalesce(jsonb_typeof(b->'receivedAt'), 'null') IN ('string', 'null')",
    "coalesce(b->>'receivedAt', '2000-01-01T00:00:00Z') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'",
    "pg_input_is_valid(coalesce(b->>'receivedAt', '2000-01-01T00:00:00Z'), 'timestamptz')",
    "coalesce(jsonb_typeof(b->'schemaVersion'), 'null') IN ('number', 'null')",
    "pg_input_is_valid(coalesce(b->>'schemaVersion', '1'), 'integer')",
    "coalesce(jsonb_typeof(b->'attributes'), 'null') IN ('object', 'null')",
    "NOT jsonb_path_exists(coalesce(b->'attributes', '{}'), '$.* ? (@.type() != \"string\")')",
    *(_TEXT_OR_NULL.format(k=k, n=n) for k, n in (("actorType", 64), ("actorId", 128), ("entityType", 64),
                                                  ("entityId", 128))),
])
_MERGE_INBOX = f"""
WITH p AS MATERIALIZED (  -- parse each body once (inlined, every reference to b would parse it again)
  -- A body that is not JSON at all fails the statement; the caller then takes the per-message path.
  SELECT message_id, CAST(body AS jsonb) AS b FROM pg_temp.events_inbox
), checked AS MATERIALIZED (  -- the rules once per row: the valid ones are stored, the others reported
  SELECT message_id, b, coalesce({_VALID}, false) AS ok FROM p
), v AS MATERIALIZED (
  SELECT DISTINCT ON (b->>'tenantId', lower(b->>'eventId'))
         b->>'tenantId' AS tenant_id, lower(b->>'eventId') AS event_id, b->>'eventType' AS event_type,
         CAST(b->>'occurredAt' AS timestamptz) AS occurred_at,
         coalesce(CAST(b->>'receivedAt' AS timestamptz), now()) AS received_at, b->>'actorType' AS actor_type,
         b->>'actorId' AS actor_id, b->>'entityType' AS entity_type, b->>'entityId' AS entity_id,
         coalesce(CAST(b->>'schemaVersion' AS integer), 1) AS schema_version,
         coalesce(b->'attributes', '{{}}') AS attributes,
         CASE WHEN b->>'source' = 'platform' THEN 'platform' ELSE 'api' END AS source
  FROM checked WHERE ok
), claimed AS (
  INSERT INTO events.event_ids (tenant_id, event_id)
  SELECT tenant_id, event_id FROM v ON CONFLICT DO NOTHING RETURNING tenant_id, event_id
), stored AS (
  INSERT INTO events.events ({_COPY_COLUMNS})
  SELECT {", ".join("v." + c.strip() for c in _COPY_COLUMNS.split(","))}
  FROM v JOIN claimed c ON c.tenant_id = v.tenant_id AND c.event_id = v.event_id
)
SELECT message_id FROM checked WHERE NOT ok
"""
_MONTH_RE = re.compile(r'"occurredAt":\s*"(\d{4})-(\d{2})')


def _months_of(body: str) -> datetime:
    """The month of a message's occurredAt, without parsing the whole body (the API writes it this way)."""
    m = _MONTH_RE.search(body)
    if m:
        return datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=UTC)
    import json

    try:
        from telltale.events.models import parse_timestamp

        return parse_timestamp(json.loads(body).get("occurredAt"))
    except Exception:  # noqa: BLE001 - an invalid body is reported by the merge; no partition needed for it
        return datetime(2000, 1, 1, tzinfo=UTC)


def _csv(events: list[Event]) -> bytes:
    import csv
    import json

    buf = io.StringIO()
    w = csv.writer(buf)
    dumps = json.dumps
    # csv.writer writes None as an empty unquoted field, which COPY reads as NULL.
    w.writerows([e.tenant_id, e.event_id, e.event_type, iso_ms(e.occurred_at), iso_ms(e.received_at), e.actor_type,
                 e.actor_id, e.entity_type, e.entity_id, e.schema_version,
                 dumps(e.attributes, separators=(",", ":")), e.source] for e in events)
    return buf.getvalue().encode()


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
        try:
            result = clickhouse_client().query(compiled.sql, parameters=compiled.params,
                                               settings={"readonly": 2, "max_execution_time": QUERY_TIMEOUT_S})
        except Exception as exc:
            if "TIMEOUT_EXCEEDED" in str(exc) or "Code: 159" in str(exc):
                raise _too_slow() from None
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
