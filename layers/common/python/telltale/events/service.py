"""What the event functions do, kept out of the handlers: accept, store, query."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from telltale.events import dsl
from telltale.events.models import (
    Event,
    canonical_rows,
    events_of_canonical,
    from_message,
    message_body,
    validate_batch,
)
from telltale.events.stores import placements, store_for, stores_to_write
from telltale.platform.config import get_settings
from telltale.platform.errors import ServiceUnavailable


def accept(body: Any, *, token_tenant: str) -> int:
    """Validate a batch and put it on the events queue; returns how many events were queued.

    Only returns once every event is durably queued: the caller answers 202 after this and never before.
    """
    from telltale.platform import queue

    events = validate_batch(body, token_tenant=token_tenant)
    url = get_settings().events_queue_url
    if not url:
        raise ServiceUnavailable("the events queue is not configured (TELLTALE_EVENTS_QUEUE_URL)")
    queue.send_batch(url, [message_body(e) for e in events])
    return len(events)


def store_messages(bodies: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Store queue messages ``(message_id, body)``: returns (stored_ids, failed_ids).

    A message that is not a valid event can never succeed; it is reported failed so that it reaches the
    dead-letter queue after its retries instead of being silently dropped.
    """
    from telltale.platform.log import logger

    s = get_settings()
    if s.event_store == "postgres" and not s.clickhouse_tenants.strip() and not placements():
        # Every tenant is on PostgreSQL: the fast path, the whole batch in one transaction.
        from telltale.events.stores.postgres import PostgresEventStore

        try:
            stored, invalid = PostgresEventStore().write_messages(bodies)
            if invalid:
                logger.warning("undecodable event messages", extra={"message_ids": invalid[:20]})
            return stored, invalid
        except Exception as exc:  # noqa: BLE001 - e.g. the database went away: the per-tenant path below
            from telltale.platform import db

            logger.warning("fast event write failed; storing message by message", extra={"error": str(exc)[:300]})
            db.reset()
    parsed: list[tuple[str, Event]] = []
    failed: list[str] = []
    rows = canonical_rows([body for _, body in bodies])  # the ingest API's bodies: one scan, no per-message JSON
    fast = events_of_canonical(rows) if rows is not None else None
    if fast is not None:
        parsed = [(mid, ev) for (mid, _), ev in zip(bodies, fast, strict=True)]
    for mid, body in bodies if fast is None else ():
        try:
            parsed.append((mid, from_message(body)))
        except (ValueError, TypeError) as exc:
            logger.warning("undecodable event message", extra={"message_id": mid, "error": str(exc)[:300]})
            failed.append(mid)
    by_tenant: dict[str, list[tuple[str, Event]]] = {}
    for mid, ev in parsed:
        by_tenant.setdefault(ev.tenant_id, []).append((mid, ev))
    done: list[str] = []
    for tenant, items in by_tenant.items():
        try:
            for store in stores_to_write(tenant):
                store.write([ev for _, ev in items])
            done.extend(mid for mid, _ in items)
        except Exception as exc:  # noqa: BLE001 - reported per message; the queue retries them
            logger.warning("event batch not stored; will be retried", extra={"tenant": tenant, "error": str(exc)[:300]})
            from telltale.platform import db

            db.reset()
            failed.extend(mid for mid, _ in items)
    return done, failed


def to_value(value: Any, kind: str) -> Any:
    """One result value as JSON: ISO 8601 UTC times, ints for counts, plain numbers."""
    import decimal

    if value is None:
        return None
    if kind == "timestamp":
        if isinstance(value, datetime):
            ts = value if value.tzinfo else value.replace(tzinfo=UTC)
            ts = ts.astimezone(UTC)
            text = ts.strftime("%Y-%m-%dT%H:%M:%S")
            if ts.microsecond:
                text += f".{ts.microsecond // 1000:03d}"
            return text + "Z"
        return str(value)
    if kind == "int":
        return int(value)
    if kind == "number":
        if isinstance(value, decimal.Decimal):
            value = float(value)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)
        return value
    return value if isinstance(value, str) else str(value)


def run_query(body: Any, *, tenant_id: str) -> dict[str, Any]:
    q = dsl.parse_query(body)
    return execute(q, tenant_id=tenant_id)


def execute(q: dsl.Query, *, tenant_id: str, event_types: list[str] | None = None) -> dict[str, Any]:
    store = store_for(tenant_id)
    compiled = dsl.compile_query(q, tenant_id, dialect=store.dialect, table=store.table, event_types=event_types)
    return run_compiled(store, compiled)


def run_compiled(store: Any, compiled: dsl.Compiled) -> dict[str, Any]:
    """Run a compiled statement on ``store``; the reply envelope of /api/analytics/query (columns, rows,
    generatedAt, stats)."""
    generated = datetime.now(UTC)
    started = time.perf_counter()
    try:
        raw = store.run(compiled)
    except Exception as exc:
        from telltale.platform.errors import TelltaleError

        if isinstance(exc, TelltaleError):
            raise
        from telltale.platform.log import logger

        logger.exception("event query failed")
        raise ServiceUnavailable("the event store could not run the query; retry later") from None
    took = int((time.perf_counter() - started) * 1000)
    rows = [{"values": [to_value(v, k) for v, k in zip(r, compiled.kinds, strict=True)]} for r in raw]
    return {
        "columns": [c.to_json() for c in compiled.columns],
        "rows": rows,
        "generatedAt": generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "stats": {"rowCount": len(rows), "queryTimeMs": took},
    }


def run_stickiness(body: Any, *, tenant_id: str) -> dict[str, Any]:
    """POST /api/analytics/stickiness: for n = 1..periods in the range, how many actors were active in
    exactly n of them (docs/product-analytics.md)."""
    from telltale.events import product

    s = product.parse_stickiness(body)
    store = store_for(tenant_id)
    compiled = product.compile_stickiness(s, tenant_id, dialect=store.dialect, table=store.table)
    out = run_compiled(store, compiled)
    total = product.period_count(*s.timeRange.bounds(), s.period)
    out["rows"] = product.stickiness_rows([r["values"] for r in out["rows"]], total)
    out["stats"]["rowCount"] = len(out["rows"])
    return out


def run_rolling_active_users(tenant_id: str, start: Any, end: Any, filters: list[dsl.Filter]) -> dict[str, Any]:
    """Per day of ``start``..``end`` (dates): DAU, WAU, MAU28, MAU30 and DAU/MAU (docs/product-analytics.md)."""
    from telltale.events import product

    store = store_for(tenant_id)
    compiled = product.compile_rolling(tenant_id, start, end, dialect=store.dialect, table=store.table,
                                       filters=filters)
    out = run_compiled(store, compiled)
    out["columns"].append(product.ROLLING_RATIO.to_json())
    out["rows"] = product.rolling_rows([r["values"] for r in out["rows"]], start, end)
    out["stats"]["rowCount"] = len(out["rows"])
    return out
