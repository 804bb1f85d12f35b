"""The PostgreSQL event store (the default).

``events.events`` is range-partitioned by ``occurred_at`` (one partition per month, created on demand by
the writer) and indexed on (tenant, type, time). Uniqueness across partitions lives in the ledger
``events.event_ids`` (tenant, event_id). A batch is one transaction: a COPY of its rows, then an INSERT of
its ids into the ledger, which refuses an id stored before; only then (a replay) is the batch redone
claiming its ids with ON CONFLICT DO NOTHING and COPYing only the new rows. So a batch is stored exactly
once even if it is retried after a crash. The rows' COPY encoding is :mod:`telltale.events.stores.pg_copy`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from telltale.events.dsl import Compiled, Dialect
from telltale.events.models import Event
from telltale.events.stores.base import QUERY_TIMEOUT_S, too_slow
from telltale.events.stores.pg_copy import (
    ALREADY_STORED,
    CLAIM,
    COPY_EVENTS,
    INSERT_IDS,
    Batch,
    chunks,
    ledger_arrays,
    partition_of,
)
from telltale.platform import db, scoped

# The worker's batches mix tenants (each row carries its own), and partitions serve every tenant.
_WORKER = scoped.across_tenants("the ingest worker stores batches of many tenants' events, each row with its tenant")

PG_TABLE = "events.events"

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
                        _WORKER.query(
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
        batch = Batch()
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
        batch = Batch(messages)
        try:
            self._store(batch)
        except pg8000.exceptions.DatabaseError as exc:
            # A value PostgreSQL refused (class 22, data exception: a 2026-02-30 in the right shape). Only the
            # scan lets such a value through: check the batch again message by message.
            if not (batch.scanned and db.pg_error(exc)[0].startswith("22")):
                raise
            batch = Batch(messages, scan=False)
            self._store(batch)
        bad = set(batch.invalid)
        return [m for m, _ in messages if m not in bad], batch.invalid

    def _store(self, batch: Batch) -> int:
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
                    _WORKER.run_raw(tx, COPY_EVENTS, stream=batch.stream())
                    if batch.keys:
                        tenants, ids = ledger_arrays(batch.keys)
                        _WORKER.run_raw(tx, INSERT_IDS, t=tenants, e=ids)
                return len(batch.keys)
            except pg8000.exceptions.DatabaseError as exc:
                state, message = db.pg_error(exc)
                if state == "23514" and "partition" in message and attempt == 1:
                    # A month with no partition yet (made on demand, once): make it and write again.
                    batch.finish()
                    _partitions.difference_update(partition_of(m) for m in batch.months())
                    self.ensure_partitions(batch.month_starts())
                    continue
                if state not in ALREADY_STORED:  # an id of the batch is in the ledger already
                    raise
                break
        return self._store_new_only(batch)

    def _store_new_only(self, batch: Batch) -> int:
        """Claim the ids in the ledger (ON CONFLICT DO NOTHING), then COPY only the rows whose id was new."""
        batch.finish()
        with db.transaction() as tx:
            tenants, ids = ledger_arrays(batch.keys)
            claimed = _WORKER.run_raw(tx, CLAIM, t=tenants, e=ids) or []
            new = {(r[0], r[1]) for r in claimed}
            if new:
                _WORKER.run_raw(tx, COPY_EVENTS, stream=chunks([
                    line for key, line in zip(batch.keys, batch.lines, strict=True) if key in new]))
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
                raise too_slow() from None
            raise
        return [tuple(r) for r in rows]

    def recent_events(self, tenant_id: str, actor_id: str, since: datetime, limit: int) -> list[dict[str, Any]]:
        return scoped.tenant(tenant_id).query(
            "SELECT event_id, event_type, occurred_at, entity_type, entity_id, attributes FROM events.events"
            " WHERE actor_id = :a AND occurred_at >= :since ORDER BY occurred_at DESC, event_id LIMIT :lim",
            a=actor_id, since=since, lim=limit,
        )
