"""Runs a BI scrape or a query-log mining pass as a recorded sync job.

A BI sync and a mining run are both queued and run by the bi_sync function's queue worker; the schedule
queues one job per connector. Neither is bounded by API Gateway's 29 s: a Power BI scan may poll for ten
minutes, a Snowflake statement for its statement timeout plus the result's polling. So the POST waits for
its job up to ``usage_sync_wait_s`` (:func:`wait_for`): a job over by then is spec 001's 200 (the SyncJob;
for mining, ``rows_upserted``), one still running a 202 with the job to follow at GET /sync-jobs/{id}.
One job at a time per connector (a PostgreSQL advisory lock; one queued job per connector, a second
request gets 409). Items are anonymized and upserted in
batches; an item that cannot be read is counted as failed and the sync goes on; a failure of the tool
itself (unreachable, refused login) ends the job as ``failed`` with its message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from telltale.platform import db, queue, scoped
from telltale.platform.config import get_settings
from telltale.platform.errors import Conflict, ServiceUnavailable, TelltaleError, ValidationError
from telltale.platform.log import logger
from telltale.usage import catalog, integrations, store
from telltale.usage.integrations.base import BiRecord, ItemError
from telltale.usage.sql import analyze

BATCH = 500


def _text(value: str | None) -> str | None:
    """A tool's text as PostgreSQL stores it: text and jsonb refuse NUL, which one item may carry."""
    return value.replace("\x00", "") if value else value


def to_row(rec: BiRecord) -> store.BiQueryRow:
    """A scraped record as a BiQuery row: SQL anonymized, tables from the SQL plus the tool's own metadata."""
    row = store.BiQueryRow(
        resource_type=rec.resource_type, resource_id=str(_text(rec.resource_id))[:500], title=_text(rec.title),
        executed_by=_text(rec.executed_by), executed_at=rec.executed_at, modified_at=rec.modified_at,
        execution_count=max(int(rec.execution_count), 0), dashboard_id=_text(rec.dashboard_id),
        dashboard_title=_text(rec.dashboard_title), dashboard_url=_text(rec.dashboard_url),
    )
    tables: dict[str, None] = {str(_text(t)): None for t in rec.tables if t}
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


def _store(tenant_id: str, connector_id: str, batch: list[store.BiQueryRow], counts: dict[str, Any]) -> None:
    """Upsert a batch; if the database refuses it, each row on its own, so one bad row (a value PostgreSQL
    rejects) is a failed item with its message instead of the whole batch, and the sync, lost."""
    import pg8000.exceptions

    try:
        counts["upserted"] += store.upsert_bi_queries(tenant_id, connector_id, batch)
        return
    except pg8000.exceptions.DatabaseError as exc:
        if db.pg_error(exc)[0].startswith("57P"):
            raise  # the server is going away: no row would fare better
        logger.warning("a batch was refused; storing its rows one by one", extra={"code": db.pg_error(exc)[0]})
    for row in batch:
        try:
            counts["upserted"] += store.upsert_bi_queries(tenant_id, connector_id, [row])
        except pg8000.exceptions.DatabaseError as exc:
            code, message = db.pg_error(exc)
            counts["failed"] += 1
            counts["errors"].append(f"{row.resource_type} {row.resource_id}: not stored: "
                                    f"{message or type(exc).__name__} ({code})"[:300])


def _consume(tenant_id: str, connector_id: str, items: Iterable[BiRecord | ItemError],
             counts: dict[str, Any]) -> None:
    batch: list[store.BiQueryRow] = []
    try:
        _consume_into(tenant_id, connector_id, items, counts, batch)
    finally:
        # What was read before a failure is still stored.
        _store(tenant_id, connector_id, batch, counts)


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
            _store(tenant_id, connector_id, batch, counts)
            batch.clear()
            logger.info("sync progress", extra={"connector": connector_id, "seen": counts["seen"],
                                                "upserted": counts["upserted"], "failed": counts["failed"]})


def _run(tenant_id: str, connector: dict[str, Any], kind: str, trigger: str, produce: Any,
         job_id: str | None = None, after: Any = None) -> tuple[dict[str, Any] | None, int]:
    """Run one sync under the connector's lock. ``job_id``: a queued job to claim (None when the job
    was already run, a redelivered message); without it, a new job is recorded. ``after()``, for a run
    that did not fail, does what the sync implies (recompute usage) and returns warnings for the job: it
    runs before the job is marked finished, so a client that sees the job end reads up-to-date usage."""
    cid = str(connector["id"])
    with _Lock(f"usage-sync:{cid}"):
        store.close_interrupted_jobs(tenant_id, cid)
        if job_id is None:
            job_id = store.start_job(tenant_id, cid, kind, trigger)
        elif not store.claim_job(job_id):
            return None, 0
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
        if after is not None and status != "failed":
            warnings = after(job_id)
            if warnings:
                store.add_warnings(job_id, warnings)
        store.finish_job(job_id, status=status, seen=counts["seen"], upserted=counts["upserted"],
                         failed=counts["failed"], errors=counts["errors"])
        logger.info("sync finished", extra={"job": job_id, "status": status, "seen": counts["seen"],
                                            "upserted": counts["upserted"], "failed": counts["failed"],
                                            "seconds": round(time.monotonic() - started, 3)})
    return store.get_job(tenant_id, job_id), counts["upserted"]


def _connector_of(tenant_id: str, connector_id: str, kind: str) -> dict[str, Any]:
    """The connector (404 unknown), checked to be of a type ``kind`` applies to (400 otherwise)."""
    connector = catalog.load_connector(tenant_id, connector_id)
    ctype = connector["type"]
    if kind == "bi_sync" and ctype not in integrations.BI_TYPES:
        raise ValidationError(f"connector type '{ctype}' is not a BI type; BI sync supports "
                              f"{', '.join(integrations.BI_TYPES)} (use query-log-mining for warehouses)",
                              errors={"connector_id": ["not a BI connector"]})
    if kind == "query_log_mining" and ctype not in integrations.WAREHOUSE_TYPES:
        raise ValidationError(f"connector type '{ctype}' has no query log to mine; mining supports "
                              f"{', '.join(integrations.WAREHOUSE_TYPES)}",
                              errors={"connector_id": ["not a warehouse"]})
    return connector


def request_bi_sync(tenant_id: str, connector_id: str) -> dict[str, Any]:
    """Queue a BI sync of the connector; returns the job (status ``queued``), which a worker runs.

    Asynchronous because a scrape is not bounded by API Gateway's 29 s (a Power BI scan alone may poll
    for ten minutes); the client follows GET /sync-jobs/{id}.
    """
    connector = _connector_of(tenant_id, connector_id, "bi_sync")
    return _enqueue(tenant_id, str(connector["id"]), "bi_sync", "api")


_FINISHED = frozenset({"succeeded", "partial", "failed"})


def wait_for(tenant_id: str, job: dict[str, Any], seconds: float | None = None) -> tuple[dict[str, Any], bool]:
    """The job once it is over, or as it stands after ``seconds`` (the setting by default); and whether it
    is over. The worker runs it meanwhile (another Lambda deployed, a thread of the local stack)."""
    wait = get_settings().usage_sync_wait_s if seconds is None else seconds
    deadline, pause = time.monotonic() + wait, 0.05
    while job["status"] not in _FINISHED and time.monotonic() < deadline:
        time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
        pause = min(pause * 2, 0.5)
        job = store.get_job(tenant_id, str(job["id"]))
    return job, job["status"] in _FINISHED


def mining_reply(job: dict[str, Any]) -> dict[str, Any]:
    """Spec 001's body of a finished mining run, ``{"rows_upserted": N}``, with the job that ran it."""
    return {"rows_upserted": job["rows_upserted"], "job_id": str(job["id"]), "status": job["status"],
            "errors": job["errors"], "warnings": job["warnings"]}


def _enqueue(tenant_id: str, connector_id: str, kind: str, trigger: str) -> dict[str, Any]:
    job_id = store.queue_job(tenant_id, connector_id, kind, trigger)
    if job_id is None:
        raise Conflict("a sync of this connector is already queued; wait for it to finish")
    url = get_settings().usage_sync_queue_url
    try:
        if not url:
            raise ServiceUnavailable("the sync queue is not configured (TELLTALE_USAGE_SYNC_QUEUE_URL)")
        body = json.dumps({"tenant_id": tenant_id, "connector_id": connector_id, "job_id": job_id, "kind": kind})
        queue.send_batch(url, [body])
    except Exception:
        store.fail_job(job_id, "the job could not be queued; try again")
        raise
    return store.get_job(tenant_id, job_id)


def run_queued(body: str) -> None:
    """The worker's part: run the queued job a message names. A job already run (the message was
    delivered twice) is left alone; whatever the job meets is recorded on it, so this raises only for
    what a redelivery could fix (the database unreachable)."""
    msg = json.loads(body)
    tenant_id, job_id, kind = str(msg["tenant_id"]), str(msg["job_id"]), str(msg["kind"])
    try:
        connector = _connector_of(tenant_id, str(msg["connector_id"]), kind)
        if kind == "bi_sync":
            _run(tenant_id, connector, kind, "", lambda: integrations.load(connector).collect(),
                 job_id=job_id, after=lambda job: _recompute_usage(tenant_id, job))
        else:
            _mine(tenant_id, connector, job_id=job_id)
    except Conflict:
        store.fail_job(job_id, "another sync of this connector was running; run this one again later")
    except TelltaleError as exc:  # the connector was deleted, or its stored config no longer validates
        store.fail_job(job_id, exc.message)


def _recompute_usage(tenant_id: str, job_id: str) -> list[str]:
    """Recompute the tenant's usage after a sync: the job's warnings. The sync's rows are stored
    whatever happens here, so a failure is a warning on the job, not an error of the sync."""
    from telltale.usage import aggregate

    try:
        aggregate.aggregate_tenant(tenant_id)
    except Exception:  # noqa: BLE001 - logged with its trace; the job carries a warning
        logger.exception("usage aggregation after a sync failed", extra={"job": job_id})
        return ["the sync finished but recomputing usage failed; the next aggregation "
                "(POST /spaces/{slug}/usage/aggregate, or the daily schedule) will include it"]
    return []


def request_mining(tenant_id: str, connector_id: str) -> dict[str, Any]:
    """Queue a mining run of a warehouse's query log from where the last run stopped; returns the job
    (status ``queued``), which carries spec 001's ``rows_upserted`` once it is over."""
    connector = _connector_of(tenant_id, connector_id, "query_log_mining")
    return _enqueue(tenant_id, str(connector["id"]), "query_log_mining", "api")


def _mine(tenant_id: str, connector: dict[str, Any], *, job_id: str | None = None,
          ) -> tuple[dict[str, Any] | None, int]:
    miner = integrations.load(connector)

    def after(job_id: str) -> list[str]:
        # Only a run that read (and stored) everything moves the mark forward.
        scoped.tenant(tenant_id).query(
            "UPDATE usage.connectors SET mining_state = CAST(:s AS jsonb) WHERE id = CAST(:id AS uuid)",
            s=db.jsonb(miner.state), id=str(connector["id"]))
        return _recompute_usage(tenant_id, job_id)

    job, rows = _run(tenant_id, connector, "query_log_mining", "api", miner.collect, job_id=job_id, after=after)
    return job, rows


SCHEDULE_MIN_INTERVAL_MINUTES = 60


def scheduled_sync_all(min_interval_minutes: int = SCHEDULE_MIN_INTERVAL_MINUTES) -> dict[str, int]:
    """Queue a job for every BI connector (a BI sync) and warehouse (a mining run) of every tenant; the
    worker runs them one message each, so one slow tool neither delays nor times out the others.

    A connector synced (or created) within ``min_interval_minutes`` is left alone: someone just ran it by
    hand, or is setting it up and will run the first sync themselves.
    """
    rows = scoped.across_tenants("the schedule queues a job for every tenant's connectors").query(
        "SELECT c.tenant_id, c.id, c.type FROM usage.connectors c"
        " WHERE greatest(c.created_at, (SELECT max(COALESCE(j.queued_at, j.started_at)) FROM usage.sync_jobs j"
        "                               WHERE j.connector_id = c.id))"
        "       <= now() - make_interval(mins => :m)"
        " ORDER BY c.tenant_id, c.created_at",
        m=int(min_interval_minutes),
    )
    done = {"queued": 0, "skipped": 0, "failed": 0}
    for r in rows:
        kind = "bi_sync" if r["type"] in integrations.BI_TYPES else "query_log_mining"
        try:
            _enqueue(r["tenant_id"], str(r["id"]), kind, "schedule")
            done["queued"] += 1
        except Conflict:
            done["skipped"] += 1
        except Exception:  # noqa: BLE001 - logged; the next connector is still queued
            logger.exception("could not queue a scheduled sync", extra={"connector": str(r["id"])})
            done["failed"] += 1
    return done
