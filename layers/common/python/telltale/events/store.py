"""The event store port and its two adapters: PostgreSQL (the default) and ClickHouse.

Both are append-only and idempotent on (tenant, eventId): writing the same event twice stores it once,
which is what makes queue redelivery, worker crashes and client replays safe.

- PostgreSQL: ``events.events`` is range-partitioned by ``occurred_at`` (one partition per month,
  created on demand by the writer) and indexed on (tenant, type, time). Uniqueness across partitions
  lives in the ledger ``events.event_ids`` (tenant, event_id). A batch is one transaction: a COPY of its
  rows, then an INSERT of its ids into the ledger, which refuses an id stored before; only then (a
  replay) is the batch redone claiming its ids with ON CONFLICT DO NOTHING and COPYing only the new rows.
  So a batch is stored exactly once even if it is retried after a crash.
- ClickHouse: a ReplacingMergeTree keyed on (tenant, event_id); replays are collapsed at merge time and
  every read uses FINAL, so results are the same as PostgreSQL's. The version column keeps the first
  received copy, as PostgreSQL does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Protocol

from telltale import db
from telltale.config import get_settings
from telltale.events.dsl import Compiled, Dialect
from telltale.events.models import (
    CANONICAL_COLUMNS,
    Event,
    canonical_rows,
    canonical_values,
    from_message,
    iso_ms,
    storable,
)

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
        if not events:
            return 0
        batch = _Batch()
        for e in events:
            if not batch.add_event(e):
                raise ValueError(f"event {e.event_id} holds text no store can keep (a NUL or a lone surrogate)")
        return self._store(batch)

    def write_messages(self, messages: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
        """Store raw queue messages ``(message_id, body)``; returns (stored_ids, invalid_ids).

        The worker's path. The bodies are checked and turned into COPY rows a chunk at a time while the COPY
        runs, so PostgreSQL inserts one chunk while Python reads the next. A chunk of bodies in the ingest
        API's exact shape takes one regular-expression scan (:func:`telltale.events.models.canonical_rows`);
        any other body is checked by :func:`telltale.events.models.from_message`. A body that is not a valid
        event is left out and reported, so that it reaches the dead-letter queue. One transaction: a crash
        leaves the whole batch or none of it.
        """
        import pg8000.exceptions

        if not messages:
            return [], []
        batch = _Batch(messages)
        try:
            self._store(batch)
        except pg8000.exceptions.DatabaseError as exc:
            # A value PostgreSQL refused (class 22, data exception: a 2026-02-30 in the right shape). Only the
            # scan lets such a value through: check the batch again message by message.
            if not (batch.scanned and db.pg_error(exc)[0].startswith("22")):
                raise
            batch = _Batch(messages, scan=False)
            self._store(batch)
        bad = set(batch.invalid)
        return [m for m, _ in messages if m not in bad], batch.invalid

    def _store(self, batch: _Batch) -> int:
        """Write a batch exactly once; returns how many of its events were new.

        Optimistic: the rows are COPYed into events.events, then their ids go into the ledger with a plain
        INSERT, which fails on an id that is already there (a replay): then the transaction is rolled back
        and the batch redone the careful way (:meth:`_store_new_only`). Either way one transaction holds the
        rows and their ids, so a crash at any point leaves the batch stored or not at all, and a retry stores
        only what is missing.
        """
        import pg8000.exceptions

        for attempt in (1, 2):
            try:
                with db.transaction() as tx:
                    tx.run(_COPY_EVENTS, stream=batch.stream())
                    if batch.keys:
                        tenants, ids = _ledger_arrays(batch.keys)
                        tx.run(_INSERT_IDS, t=tenants, e=ids)
                return len(batch.keys)
            except pg8000.exceptions.DatabaseError as exc:
                state, message = db.pg_error(exc)
                if state == "23514" and "partition" in message and attempt == 1:
                    # A month with no partition yet (made on demand, once): make it and write again.
                    batch.finish()
                    _partitions.difference_update(_partition(m) for m in batch.months())
                    self.ensure_partitions(batch.month_starts())
                    continue
                if state not in _ALREADY_STORED:  # an id of the batch is in the ledger already
                    raise
                break
        return self._store_new_only(batch)

    def _store_new_only(self, batch: _Batch) -> int:
        """Claim the ids in the ledger (ON CONFLICT DO NOTHING), then COPY only the rows whose id was new."""
        batch.finish()
        with db.transaction() as tx:
            tenants, ids = _ledger_arrays(batch.keys)
            claimed = tx.run(_CLAIM, t=tenants, e=ids) or []
            new = {(r[0], r[1]) for r in claimed}
            if new:
                tx.run(_COPY_EVENTS, stream=_chunks([line for key, line in zip(batch.keys, batch.lines, strict=True)
                                                     if key in new]))
        return len(new)

    def run(self, compiled: Compiled) -> list[tuple[Any, ...]]:
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
        return db.query(
            "SELECT event_id, event_type, occurred_at, entity_type, entity_id, attributes FROM events.events"
            " WHERE tenant_id = :t AND actor_id = :a AND occurred_at >= :since"
            " ORDER BY occurred_at DESC, event_id LIMIT :lim",
            t=tenant_id, a=actor_id, since=since, lim=limit,
        )


# COPY's text format: one line per row, tab-separated, backslash escapes (see _text), and "" for NULL (what
# canonical_rows gives; no text column of a valid event is ever ""). The columns in canonical_rows' order,
# so that a message's row is its values joined.
_COPY_EVENTS = f"COPY events.events ({', '.join(CANONICAL_COLUMNS)}) FROM STDIN WITH (NULL '')"
# The ids into the ledger: a plain INSERT from two arrays, which fails on an id stored before. (A COPY of
# 1000 short rows costs PostgreSQL more: it buffers them all, one tuple slot each, before inserting.)
_INSERT_IDS = ("INSERT INTO events.event_ids (tenant_id, event_id)"
               " SELECT * FROM unnest(CAST(:t AS text[]), CAST(:e AS text[]))")
_CLAIM = _INSERT_IDS + " ON CONFLICT DO NOTHING RETURNING tenant_id, event_id"
# What the INSERT into the ledger answers when an id of the batch is there already: exclusion_violation (the
# ledger's constraint, migration 0201) or unique_violation (its primary key before); or deadlock_detected,
# when two writers add the same new id at the same moment (an exclusion constraint checks after inserting,
# so each can wait for the other): the one PostgreSQL cancels then claims its ids the careful way.
_ALREADY_STORED = ("23P01", "23505", "40P01")
_CHUNK_ROWS = 50  # messages per CopyData message: PostgreSQL inserts one chunk while Python reads the next


def _partition(month: str) -> str:
    """The partition of a month "YYYY-MM" (the name ensure_partitions gives it)."""
    return f"events_p{month[:4]}{month[5:7]}"


def _chunks(lines: list[str]) -> Iterator[bytes]:
    for i in range(0, len(lines), _CHUNK_ROWS):
        yield ("\n".join(lines[i:i + _CHUNK_ROWS]) + "\n").encode()


def _array(values: list[str]) -> str:
    """A text[] literal (pg8000 would encode a list element by element in Python, many times slower)."""
    if not values:
        return "{}"
    joined = "".join(values)
    if '"' not in joined and "\\" not in joined:
        return '{"' + '","'.join(values) + '"}'
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def _ledger_arrays(keys: list[tuple[str, str]]) -> tuple[str, str]:
    """The tenants and event ids of ``keys`` as two text[] literals, in (tenant, event_id) order: writers
    that share ids take the ledger's entries in the same order, so they never wait for each other in a
    cycle (a deadlock)."""
    tenants = set(map(_TENANT, keys))
    if len(tenants) == 1:  # the usual batch: sorting the ids alone gives the same order, a few times faster
        ids = sorted(map(_EVENT_ID, keys))
        return _array([next(iter(tenants))] * len(ids)), _array(ids)
    keys = sorted(keys)
    return _array(list(map(_TENANT, keys))), _array(list(map(_EVENT_ID, keys)))


def _text(value: str | None) -> str:
    """One field in COPY's text format."""
    if value is None:
        return ""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _event_line(e: Event) -> str:
    import json

    attributes = json.dumps(e.attributes, ensure_ascii=False, separators=(",", ":"))
    return "\t".join([_text(e.event_id), _text(e.event_type), iso_ms(e.occurred_at), _text(e.tenant_id),
                      _text(e.actor_type), _text(e.actor_id), _text(e.entity_type), _text(e.entity_id),
                      str(e.schema_version), _text(attributes), _text(e.source), iso_ms(e.received_at)])


class _Batch:
    """A batch's events as COPY rows, one per (tenant, eventId) (the first copy of an id in a batch wins),
    and the messages that are not events. Queue messages are read a chunk at a time, as :meth:`stream`
    feeds them to the COPY."""

    def __init__(self, messages: list[tuple[str, str]] | None = None, scan: bool = True) -> None:
        self.keys: list[tuple[str, str]] = []  # (tenant_id, event_id) of each row
        self.lines: list[str] = []  # each row, in COPY text format, without its line break
        self.invalid: list[str] = []  # the message ids of bodies that are not events
        self.scanned = False  # some rows came from the scan (their calendar dates not checked yet)
        self._scan = scan
        self._seen: set[tuple[str, str]] = set()
        messages = messages or []
        self._pending = (messages[i:i + _CHUNK_ROWS] for i in range(0, len(messages), _CHUNK_ROWS))

    def stream(self) -> Iterator[bytes]:
        """The rows as CopyData payloads, reading the messages not read yet on the way."""
        yield from _chunks(self.lines)
        for chunk in self._pending:
            start = len(self.lines)
            self._read(chunk)
            if len(self.lines) > start:
                yield ("\n".join(self.lines[start:]) + "\n").encode()

    def finish(self) -> None:
        for chunk in self._pending:
            self._read(chunk)

    def _read(self, messages: list[tuple[str, str]]) -> None:
        rows = canonical_rows([body for _, body in messages]) if self._scan else None
        if rows is not None:
            keys = list(map(_KEY, rows))
            if len(set(keys)) == len(keys) and self._seen.isdisjoint(keys):
                # Every body in the API's shape, each id once: the rows are the values as they are (the
                # shape has no escapes), joined by C code with no Python per message.
                self._seen.update(keys)
                self.keys += keys
                self.lines += map("\t".join, rows)
                self.scanned = True
                return
        for message_id, body in messages:
            values = canonical_values(body)
            if values is not None and _calendar_ok(values):
                self._add((values[3], values[0]), "\t".join(values))
                continue
            try:
                event = from_message(body)  # which also refuses text no store can keep (a NUL, say)
            except (ValueError, TypeError, RecursionError):
                self.invalid.append(message_id)
                continue
            self.add_event(event)

    def add_event(self, event: Event) -> bool:
        """Add a validated event (escaping its text); False if it holds text no store can keep."""
        if not storable(event):
            return False
        self._add((event.tenant_id, event.event_id), _event_line(event))
        return True

    def _add(self, key: tuple[str, str], line: str) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        self.keys.append(key)
        self.lines.append(line)

    def months(self) -> set[str]:
        """The months ("YYYY-MM") of the rows' occurred_at (only needed when a partition is missing)."""
        return {line.split("\t", 3)[2][:7] for line in self.lines}

    def month_starts(self) -> list[datetime]:
        return [datetime(int(m[:4]), int(m[5:7]), 1, tzinfo=UTC) for m in self.months()]


_KEY = itemgetter(3, 0)  # (tenant_id, event_id) of a canonical row
_TENANT, _EVENT_ID = itemgetter(0), itemgetter(1)  # of a key


def _calendar_ok(values: tuple[str, ...]) -> bool:
    try:
        datetime.fromisoformat(values[2])
        datetime.fromisoformat(values[11])
    except ValueError:
        return False
    return True


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
