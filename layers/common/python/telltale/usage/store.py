"""BiQuery rows and sync jobs in the database.

BiQuery rows are written in batches with one INSERT ... ON CONFLICT per batch (one row per connector +
resource_type + resource_id, updated in place). A sync job row records status, counts and errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telltale.platform import db, scoped
from telltale.platform.errors import NotFound, uuid_or_404

MAX_JOB_ERRORS = 50

JOB_COLS = ("id, connector_id, kind, trigger, status, queued_at, started_at, finished_at, items_seen,"
            " items_upserted, items_failed, errors, warnings,"
            # Spec 001's rows_upserted of a mining run, on its job once the run is over (mining is queued).
            " CASE WHEN kind = 'query_log_mining' AND status NOT IN ('queued', 'running')"
            " THEN items_upserted END AS rows_upserted")
# A queued job whose message never reached a worker (lost, or dead-lettered) stops blocking new requests
# after this long; the queue's own retries are over by then.
STALE_QUEUED_MINUTES = 30
# A worker updates the job it was handed by id (a random UUID the platform queued itself, with its tenant).
_BY_JOB_ID = scoped.across_tenants("a worker updates the job it was handed, by the job's id")
BI_QUERY_COLS = ("id, connector_id, resource_type, resource_id, title, sql_text, parse_failed, referenced_tables,"
                 " referenced_columns, executed_by, executed_at, modified_at, execution_count, dashboard_id,"
                 " dashboard_title, dashboard_url, created_at, updated_at, last_seen_at")


@dataclass
class BiQueryRow:
    resource_type: str
    resource_id: str
    title: str | None = None
    sql_text: str | None = None
    sql_hash: str | None = None
    parse_failed: bool = False
    referenced_tables: list[str] = field(default_factory=list)
    referenced_columns: list[str] = field(default_factory=list)
    column_keys: list[str] = field(default_factory=list)
    executed_by: str | None = None
    executed_at: datetime | None = None
    modified_at: datetime | None = None
    execution_count: int = 1
    dashboard_id: str | None = None
    dashboard_title: str | None = None
    dashboard_url: str | None = None

    def as_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["executed_at"] = self.executed_at.isoformat() if self.executed_at else None
        d["modified_at"] = self.modified_at.isoformat() if self.modified_at else None
        return d


def upsert_bi_queries(tenant_id: str, connector_id: str, rows: list[BiQueryRow]) -> int:
    """Insert or update a batch of rows; returns how many were written."""
    if not rows:
        return 0
    # The same resource twice in one batch would make ON CONFLICT fail; the last one wins.
    unique = {(r.resource_type, r.resource_id): r for r in rows}
    result = scoped.tenant(tenant_id).query(
        """
        INSERT INTO usage.bi_queries AS q (connector_id, resource_type, resource_id, title, sql_text,
            sql_hash, parse_failed, referenced_tables, referenced_columns, column_keys, executed_by, executed_at,
            modified_at, execution_count, dashboard_id, dashboard_title, dashboard_url)
        SELECT CAST(:c AS uuid), x.resource_type, x.resource_id, x.title, x.sql_text, x.sql_hash,
               COALESCE(x.parse_failed, false),
               ARRAY(SELECT jsonb_array_elements_text(x.referenced_tables)),
               ARRAY(SELECT jsonb_array_elements_text(x.referenced_columns)),
               ARRAY(SELECT jsonb_array_elements_text(x.column_keys)),
               x.executed_by, x.executed_at, x.modified_at, COALESCE(x.execution_count, 1), x.dashboard_id,
               x.dashboard_title, x.dashboard_url
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(resource_type text, resource_id text, title text,
            sql_text text, sql_hash text, parse_failed boolean, referenced_tables jsonb, referenced_columns jsonb,
            column_keys jsonb, executed_by text, executed_at timestamptz, modified_at timestamptz,
            execution_count bigint, dashboard_id text, dashboard_title text, dashboard_url text)
        ON CONFLICT (connector_id, resource_type, resource_id) DO UPDATE SET
            title = EXCLUDED.title, sql_text = EXCLUDED.sql_text, sql_hash = EXCLUDED.sql_hash,
            parse_failed = EXCLUDED.parse_failed, referenced_tables = EXCLUDED.referenced_tables,
            referenced_columns = EXCLUDED.referenced_columns, column_keys = EXCLUDED.column_keys,
            executed_by = COALESCE(EXCLUDED.executed_by, q.executed_by),
            executed_at = COALESCE(EXCLUDED.executed_at, q.executed_at),
            modified_at = COALESCE(EXCLUDED.modified_at, q.modified_at),
            execution_count = EXCLUDED.execution_count, dashboard_id = EXCLUDED.dashboard_id,
            dashboard_title = EXCLUDED.dashboard_title, dashboard_url = EXCLUDED.dashboard_url,
            updated_at = now(), last_seen_at = now()
        -- A query-log row read again (mining re-reads an overlap window) is not a new upsert.
        WHERE q.resource_type <> 'query_log' OR q.sql_hash IS DISTINCT FROM EXCLUDED.sql_hash
           OR q.executed_at IS DISTINCT FROM EXCLUDED.executed_at OR q.execution_count <> EXCLUDED.execution_count
        RETURNING 1 AS n
        """,
        c=connector_id, rows=db.jsonb([r.as_json() for r in unique.values()]),
    )
    return len(result)


def list_bi_queries(tenant_id: str, connector_id: str, *, limit: int, offset: int,
                    resource_type: str | None = None) -> tuple[list[dict[str, Any]], int]:
    return scoped.tenant(tenant_id).page(
        f"SELECT {BI_QUERY_COLS} FROM usage.bi_queries WHERE connector_id = CAST(:c AS uuid)"
        " AND (CAST(:rt AS text) IS NULL OR resource_type = :rt) ORDER BY resource_type, resource_id",
        limit=limit, offset=offset, c=connector_id, rt=resource_type,
    )


# ---------------------------------------------------------------- sync jobs

def start_job(tenant_id: str, connector_id: str, kind: str, trigger: str) -> str:
    row = scoped.tenant(tenant_id).query_one(
        "INSERT INTO usage.sync_jobs (connector_id, kind, trigger, started_at)"
        " VALUES (CAST(:c AS uuid), :k, :tr, now()) RETURNING id",
        c=connector_id, k=kind, tr=trigger,
    )
    assert row is not None
    return str(row["id"])


def queue_job(tenant_id: str, connector_id: str, kind: str, trigger: str) -> str | None:
    """A new 'queued' job; None when the connector already has one waiting (the partial unique index)."""
    scope = scoped.tenant(tenant_id)
    scope.query(
        "UPDATE usage.sync_jobs SET status = 'failed', finished_at = now(),"
        " errors = errors || CAST('[\"never started: no worker picked the job up\"]' AS jsonb)"
        " WHERE connector_id = CAST(:c AS uuid) AND status = 'queued'"
        " AND queued_at < now() - make_interval(mins => :m)",
        c=connector_id, m=STALE_QUEUED_MINUTES,
    )
    row = scope.query_one(
        "INSERT INTO usage.sync_jobs (connector_id, kind, trigger, status, queued_at)"
        " VALUES (CAST(:c AS uuid), :k, :tr, 'queued', now()) ON CONFLICT DO NOTHING RETURNING id",
        c=connector_id, k=kind, tr=trigger,
    )
    return str(row["id"]) if row else None


def claim_job(job_id: str) -> bool:
    """Mark a queued job running; False when it is not queued any more (a redelivered message)."""
    return bool(_BY_JOB_ID.query(
        "UPDATE usage.sync_jobs SET status = 'running', started_at = now() WHERE id = CAST(:id AS uuid)"
        " AND status = 'queued' RETURNING id", id=job_id))


def fail_job(job_id: str, message: str) -> None:
    _BY_JOB_ID.query(
        "UPDATE usage.sync_jobs SET status = 'failed', finished_at = now(), errors = errors || CAST(:e AS jsonb)"
        " WHERE id = CAST(:id AS uuid) AND status IN ('queued', 'running')",
        e=db.jsonb([message]), id=job_id,
    )


def add_warnings(job_id: str, warnings: list[str]) -> None:
    _BY_JOB_ID.query("UPDATE usage.sync_jobs SET warnings = warnings || CAST(:w AS jsonb) WHERE id = CAST(:id AS uuid)",
                     w=db.jsonb(warnings), id=job_id)


def close_interrupted_jobs(tenant_id: str, connector_id: str) -> None:
    """Jobs still 'running' while we hold the connector's lock were cut short (a timeout, a crash)."""
    scoped.tenant(tenant_id).query(
        "UPDATE usage.sync_jobs SET status = 'failed', finished_at = now(),"
        " errors = errors || CAST('[\"interrupted: the run ended before the job was finished\"]' AS jsonb)"
        " WHERE connector_id = CAST(:c AS uuid) AND status = 'running'",
        c=connector_id,
    )


def finish_job(job_id: str, *, status: str, seen: int, upserted: int, failed: int, errors: list[str]) -> None:
    _BY_JOB_ID.query(
        "UPDATE usage.sync_jobs SET status = :s, finished_at = now(), items_seen = :seen, items_upserted = :up,"
        " items_failed = :f, errors = CAST(:e AS jsonb) WHERE id = CAST(:id AS uuid)",
        s=status, seen=seen, up=upserted, f=failed, e=db.jsonb(errors[:MAX_JOB_ERRORS]), id=job_id,
    )


def get_job(tenant_id: str, job_id: str) -> dict[str, Any]:
    uuid_or_404(job_id, f"sync job '{job_id}' not found")
    row = scoped.tenant(tenant_id).query_one(f"SELECT {JOB_COLS} FROM usage.sync_jobs WHERE id = CAST(:id AS uuid)",
                                             id=job_id)
    if row is None:
        raise NotFound(f"sync job '{job_id}' not found")
    return row


def list_jobs(tenant_id: str, connector_id: str, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    return scoped.tenant(tenant_id).page(
        f"SELECT {JOB_COLS} FROM usage.sync_jobs WHERE connector_id = CAST(:c AS uuid)"
        " ORDER BY COALESCE(queued_at, started_at) DESC, id",
        limit=limit, offset=offset, c=connector_id,
    )
