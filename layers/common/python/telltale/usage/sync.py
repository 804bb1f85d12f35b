"""Runs a BI scrape or a query-log mining pass as a recorded sync job.

One job at a time per connector (a PostgreSQL advisory lock; a second request gets 409). Items are
anonymized and upserted in batches; an item that cannot be read is counted as failed and the sync goes
on; a failure of the tool itself (unreachable, refused login) ends the job as ``failed`` with its message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from telltale import db
from telltale.errors import Conflict, TelltaleError, ValidationError
from telltale.log import logger
from telltale.usage import catalog, store
from telltale.usage.scrapers.base import BiRecord, ItemError
from telltale.usage.sql import analyze

BATCH = 500


def to_row(rec: BiRecord) -> store.BiQueryRow:
    """A scraped record as a BiQuery row: SQL anonymized, tables from the SQL plus the tool's own metadata."""
    row = store.BiQueryRow(
        resource_type=rec.resource_type, resource_id=rec.resource_id[:500], title=rec.title,
        executed_by=rec.executed_by, executed_at=rec.executed_at, modified_at=rec.modified_at,
        execution_count=max(int(rec.execution_count), 0),
        dashboard_id=rec.dashboard_id, dashboard_title=rec.dashboard_title, dashboard_url=rec.dashboard_url,
    )
    tables: dict[str, None] = {t: None for t in rec.tables if t}
    if rec.sql and rec.sql.strip():
        a = analyze(rec.sql, rec.dialect, default_schema=rec.default_schema)
        row.sql_text, row.sql_hash, row.parse_failed = a.sql_text, a.pattern_hash, a.parse_failed
        tables.update(dict.fromkeys(a.tables))
        row.referenced_columns = a.columns
        row.column_keys = a.column_keys
    row.referenced_tables = list(tables)
    return row


class _Lock:
    """A session advisory lock on this thread's connection, so one sync per connector runs at a time."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __enter__(self) -> _Lock:
        row = db.query_one("SELECT pg_try_advisory_lock(hashtext(:k)) AS ok", k=self.key)
        if not row or not row["ok"]:
            raise Conflict("a sync of this connector is already running; wait for it to finish")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            db.query("SELECT pg_advisory_unlock(hashtext(:k))", k=self.key)
        except Exception:  # noqa: BLE001 - a broken connection released the lock already
            db.reset()


def _consume(tenant_id: str, connector_id: str, items: Iterable[BiRecord | ItemError],
             counts: dict[str, Any]) -> None:
    batch: list[store.BiQueryRow] = []
    try:
        _consume_into(tenant_id, connector_id, items, counts, batch)
    finally:
        # What was read before a failure is still stored.
        counts["upserted"] += store.upsert_bi_queries(tenant_id, connector_id, batch)


def _consume_into(tenant_id: str, connector_id: str, items: Iterable[BiRecord | ItemError],
                  counts: dict[str, Any], batch: list[store.BiQueryRow]) -> None:
    for item in items:
        counts["seen"] += 1
        if isinstance(item, ItemError):
            counts["failed"] += 1
            counts["errors"].append(item.message)
            continue
        try:
            batch.append(to_row(item))
        except (TypeError, ValueError) as exc:
            counts["failed"] += 1
            counts["errors"].append(f"{item.resource_type} {item.resource_id}: {exc}"[:300])
            continue
        if len(batch) >= BATCH:
            counts["upserted"] += store.upsert_bi_queries(tenant_id, connector_id, batch)
            batch.clear()
            logger.info("sync progress", extra={"connector": connector_id, "seen": counts["seen"],
                                                "upserted": counts["upserted"], "failed": counts["failed"]})


def _run(tenant_id: str, connector: dict[str, Any], kind: str, trigger: str,
         produce: Any) -> tuple[dict[str, Any], int]:
    cid = str(connector["id"])
    with _Lock(f"usage-sync:{cid}"):
        store.close_interrupted_jobs(tenant_id, cid)
        job_id = store.start_job(tenant_id, cid, kind, trigger)
        started = time.monotonic()
        logger.info("sync started", extra={"job": job_id, "connector": cid, "type": connector["type"], "kind": kind})
        counts: dict[str, Any] = {"seen": 0, "upserted": 0, "failed": 0, "errors": []}
        status = "succeeded"
        try:
            _consume(tenant_id, cid, produce(), counts)
            if counts["failed"]:
                status = "partial"
        except TelltaleError as exc:
            status = "failed"
            counts["errors"].append(exc.message)
        except Exception as exc:  # noqa: BLE001 - recorded on the job; the message names the type only
            logger.exception("sync crashed", extra={"job": job_id})
            status = "failed"
            counts["errors"].append(f"internal error ({type(exc).__name__})")
        store.finish_job(job_id, status=status, seen=counts["seen"], upserted=counts["upserted"],
                         failed=counts["failed"], errors=counts["errors"])
        logger.info("sync finished", extra={"job": job_id, "status": status, "seen": counts["seen"],
                                            "upserted": counts["upserted"], "failed": counts["failed"],
                                            "seconds": round(time.monotonic() - started, 3)})
    return store.get_job(tenant_id, job_id), counts["upserted"]


def bi_sync(tenant_id: str, connector_id: str, *, trigger: str = "api") -> dict[str, Any]:
    """Scrape a BI connector, upsert its BiQuery rows, then recompute usage for the tenant's spaces."""
    connector = catalog.load_connector(tenant_id, connector_id)
    if connector["type"] not in catalog.BI_TYPES:
        raise ValidationError(f"connector type '{connector['type']}' is not a BI type; BI sync supports "
                              f"{', '.join(catalog.BI_TYPES)} (use query-log-mining for warehouses)",
                              errors={"connector_id": ["not a BI connector"]})
    from telltale.usage import scrapers

    job, _ = _run(tenant_id, connector, "bi_sync", trigger, lambda: scrapers.for_connector(connector).scrape())
    return _aggregate_after(tenant_id, job)


def _aggregate_after(tenant_id: str, job: dict[str, Any]) -> dict[str, Any]:
    """Recompute the tenant's usage after a sync. The sync's rows are stored and its job recorded whatever
    happens here, so a failure is the job's warning, not the request's 500."""
    from telltale.usage import aggregate

    try:
        aggregate.aggregate_tenant(tenant_id)
    except Exception:  # noqa: BLE001 - logged with its trace; the client gets the job and a warning
        logger.exception("usage aggregation after a sync failed", extra={"job": str(job["id"])})
        job = {**job, "warnings": ["the sync finished but recomputing usage failed; the next aggregation "
                                   "(POST /spaces/{slug}/usage/aggregate, or the daily schedule) will include it"]}
    return job


def mine(tenant_id: str, connector_id: str, *, trigger: str = "api") -> tuple[dict[str, Any], int]:
    """Mine a warehouse's query log from where the last run stopped; returns (job, rows upserted)."""
    connector = catalog.load_connector(tenant_id, connector_id)
    if connector["type"] not in catalog.WAREHOUSE_TYPES:
        raise ValidationError(f"connector type '{connector['type']}' has no query log to mine; mining supports "
                              f"{', '.join(catalog.WAREHOUSE_TYPES)}", errors={"connector_id": ["not a warehouse"]})
    from telltale.usage import mining

    miner = mining.for_connector(connector)
    job, rows = _run(tenant_id, connector, "query_log_mining", trigger, miner.mine)
    if job["status"] != "failed":
        # Only a run that read (and stored) everything moves the mark forward.
        db.query("UPDATE usage.connectors SET mining_state = CAST(:s AS jsonb) WHERE id = CAST(:id AS uuid)",
                 s=db.jsonb(miner.state), id=str(connector["id"]))
    return _aggregate_after(tenant_id, job), rows


SCHEDULE_MIN_INTERVAL_MINUTES = 60


def scheduled_sync_all(min_interval_minutes: int = SCHEDULE_MIN_INTERVAL_MINUTES) -> dict[str, int]:
    """Every BI connector of every tenant (and every warehouse's log); one failure does not stop the rest.

    A connector synced (or created) within ``min_interval_minutes`` is left alone: someone just ran it by
    hand, or is setting it up and will run the first sync themselves.
    """
    rows = db.query(
        "SELECT c.tenant_id, c.id, c.type FROM usage.connectors c"
        " WHERE greatest(c.created_at, (SELECT max(j.started_at) FROM usage.sync_jobs j WHERE j.connector_id = c.id))"
        "       <= now() - make_interval(mins => :m)"
        " ORDER BY c.tenant_id, c.created_at",
        m=int(min_interval_minutes),
    )
    done = {"synced": 0, "mined": 0, "failed": 0, "skipped": 0}
    for r in rows:
        try:
            if r["type"] in catalog.BI_TYPES:
                job = bi_sync(r["tenant_id"], str(r["id"]), trigger="schedule")
                done["synced" if job["status"] != "failed" else "failed"] += 1
            else:
                job, _ = mine(r["tenant_id"], str(r["id"]), trigger="schedule")
                done["mined" if job["status"] != "failed" else "failed"] += 1
        except Conflict:
            done["skipped"] += 1
        except Exception:  # noqa: BLE001 - logged; the next connector still runs
            logger.exception("scheduled sync failed", extra={"connector": str(r["id"])})
            done["failed"] += 1
    return done
