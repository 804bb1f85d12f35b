"""The request log in the platform PostgreSQL (the default): ``platform.api_requests`` and the rollups kept
in the same transaction (migration 0402)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from telltale.apianalytics.stores.base import (
    RESPONSE_BUCKETS,
    ROLLUP_DIMENSIONS,
    Budget,
    Cursor,
    Dialect,
    Page,
    Queries,
    too_slow,
)
from telltale.platform import db, scoped

if TYPE_CHECKING:
    from telltale.apianalytics.keys import ApiKey
    from telltale.apianalytics.query import Filters

# Each parameter is one chunk: jsonb_to_recordset turns it into rows server-side, so no statement's
# parameter list grows with the batch.
CHUNK = 5000
_INSERT = (
    "INSERT INTO platform.api_requests (api_key_id, created_at, hostname, ip_address, path,"
    " method, status, response_time, browser, os, location, user_id, framework)"
    " SELECT CAST(:k AS uuid), r.created_at, r.hostname, r.ip_address, r.path, r.method, r.status,"
    " r.response_time, r.browser, r.os, r.location, r.user_id, r.framework"
    " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(created_at timestamptz, hostname text,"
    " ip_address text, path text, method text, status smallint, response_time integer,"
    " browser text, os text, location text, user_id text, framework text) RETURNING id"
)
_BUCKET_COLUMNS = [f"rt_b{i}" for i in range(len(RESPONSE_BUCKETS))]
_DIMS = "platform.api_request_dims(x.hostname, x.method, x.path, x.status, x.location, x.browser, x.os)"
# A whole batch's rollups in one statement, in (hour, dims) order: concurrent batches lock the rows they
# share in the same order, so they wait for each other instead of deadlocking.
_UPSERT_ROLLUPS = (
    "INSERT INTO platform.api_request_rollups AS r (api_key_id, hour, dims, hostname, method, path, status,"
    f" location, browser, os, requests, errors, response_time_sum, {', '.join(_BUCKET_COLUMNS)})"
    f" SELECT CAST(:k AS uuid), x.hour, {_DIMS}, x.hostname, x.method, x.path, x.status, x.location, x.browser, x.os,"
    f" x.requests, x.errors, x.response_time_sum, {', '.join('x.' + c for c in _BUCKET_COLUMNS)}"
    " FROM jsonb_to_recordset(CAST(:rollups AS jsonb)) AS x(hour timestamptz, hostname text, method text,"
    " path text, status smallint, location text, browser text, os text, requests bigint, errors bigint,"
    f" response_time_sum bigint, {', '.join(c + ' bigint' for c in _BUCKET_COLUMNS)})"
    f" ORDER BY x.hour, {_DIMS}"
    " ON CONFLICT (api_key_id, hour, dims) DO UPDATE SET requests = r.requests + EXCLUDED.requests,"
    " errors = r.errors + EXCLUDED.errors, response_time_sum = r.response_time_sum + EXCLUDED.response_time_sum,"
    + ", ".join(f" {c} = r.{c} + EXCLUDED.{c}" for c in _BUCKET_COLUMNS)
)


def bucket_of(response_time: int) -> int:
    """The index of ``response_time``'s bucket in RESPONSE_BUCKETS."""
    return sum(1 for edge in RESPONSE_BUCKETS[1:] if response_time >= edge)


def rollups_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows' counts per UTC hour and combination of dimensions."""
    acc: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * (3 + len(RESPONSE_BUCKETS)))
    for r in rows:
        at: datetime = r["created_at"]
        hour = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        counts = acc[(hour.isoformat(), *(r[d] for d in ROLLUP_DIMENSIONS))]
        counts[0] += 1
        counts[1] += r["status"] >= 400
        counts[2] += r["response_time"]
        counts[3 + bucket_of(r["response_time"])] += 1
    return [{"hour": k[0], **dict(zip(ROLLUP_DIMENSIONS, k[1:], strict=True)),
             **dict(zip(["requests", "errors", "response_time_sum", *_BUCKET_COLUMNS], v, strict=True))}
            for k, v in acc.items()]


class PostgresDialect(Dialect):
    raw_table = "platform.api_requests"
    rollup_table = "platform.api_request_rollups"

    def param(self, name: str, kind: str) -> str:
        return f":{name}"

    def scope(self, key: ApiKey) -> tuple[list[str], dict[str, Any]]:
        # The tenant's predicate is the scope's (telltale.platform.scoped); the key is this statement's.
        return ["api_key_id = CAST(:key AS uuid)"], {"key": key.id}

    def id_value(self, ident: int) -> Any:
        # A bigserial: no row's id passes 2^63 - 1, so a larger cursor id (a ClickHouse one, after a move
        # was undone) reads the same rows clamped, and stays a bigint the index can compare.
        return min(ident, 2**63 - 1)

    def trunc(self, unit: str, column: str) -> str:
        return f"date_trunc('{unit}', {column}, 'UTC')"

    def weekday(self, column: str) -> str:
        return f"CAST(extract(isodow FROM {column} AT TIME ZONE 'UTC') AS integer)"

    def hour_of_day(self, column: str) -> str:
        return f"CAST(extract(hour FROM {column} AT TIME ZONE 'UTC') AS integer)"

    def percentile(self, q: float, column: str) -> str:
        return f"percentile_cont({q}) WITHIN GROUP (ORDER BY {column})"

    def int_div(self, a: str, b: str) -> str:
        return f"div({a}, {b})"

    def to_float(self, x: str) -> str:
        return f"CAST({x} AS double precision)"

    def count_if(self, condition: str) -> str:
        return f"count(*) FILTER (WHERE {condition})"

    def matches(self, column: str, pattern: str) -> str:
        return f"{column} ~ '{pattern}'"

    def first_group(self, column: str, pattern: str) -> str:
        return f"substring({column} FROM '{pattern}')"

    def byte_order(self, column: str) -> str:
        return f'{column} COLLATE "C"'


class PostgresRequestStore:
    dialect = PostgresDialect()

    def _queries(self, tenant_id: str) -> Queries:
        scope, budget = scoped.tenant(tenant_id), Budget()

        def run(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
            timeout_ms = max(int(budget.left_s() * 1000), 1)
            try:
                with db.transaction() as tx:
                    tx.run("SET TRANSACTION READ ONLY")
                    tx.run(f"SET LOCAL statement_timeout = {timeout_ms}")
                    return scope.run(tx, sql, **params)
            except Exception as exc:
                if "57014" in str(exc):  # query_canceled: the budget ran out inside the statement
                    raise too_slow() from None
                raise
        return Queries(self.dialect, run)

    def insert(self, key: ApiKey, rows: list[dict[str, Any]]) -> int:
        """All in one transaction, rows and rollups: a batch is stored whole or, on an error, not at all."""
        return len(self.insert_returning_ids(key, rows))

    def insert_returning_ids(self, key: ApiKey, rows: list[dict[str, Any]]) -> list[int]:
        """As :meth:`insert`; the ids the rows were given, in order (what a tenant move copies by)."""
        ids: list[int] = []
        if not rows:
            return ids
        scope = scoped.tenant(key.tenant_id)
        with db.transaction() as tx:
            for start in range(0, len(rows), CHUNK):
                out = scope.run(tx, _INSERT, k=key.id, rows=db.jsonb(rows[start:start + CHUNK]))
                ids.extend(sorted(int(r["id"]) for r in out))  # a bigserial: in the order of the rows
            scope.run(tx, _UPSERT_ROLLUPS, k=key.id, rollups=db.jsonb(rollups_of(rows)))
        return ids

    def page(self, key: ApiKey, f: Filters, cursor: Cursor | None, size: int) -> Page:
        return self._queries(key.tenant_id).page(key, f, cursor, size)

    def stats(self, key: ApiKey, f: Filters) -> dict[str, Any]:
        return self._queries(key.tenant_id).stats(key, f)

    def delete(self, key_ids: list[str], tenant_id: str) -> int:
        if not key_ids:
            return 0
        scope = scoped.tenant(tenant_id)
        with db.transaction() as tx:
            scope.run(tx, "DELETE FROM platform.api_requests WHERE api_key_id = ANY(CAST(:k AS uuid[]))", k=key_ids)
            n = tx.row_count
            scope.run(tx, "DELETE FROM platform.api_request_rollups WHERE api_key_id = ANY(CAST(:k AS uuid[]))",
                      k=key_ids)
        return max(n, 0)
