"""The request log in ClickHouse: ``api_requests`` (MergeTree, by month, ordered by tenant, key and time) and
``api_request_rollups`` (SummingMergeTree, kept by a materialized view). The tables are migrations 0003 and
0004 of :mod:`telltale.events.stores.clickhouse_schema`, on the event store's server and database."""

from __future__ import annotations

import math
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from telltale.apianalytics.stores.base import COLUMNS, Budget, Cursor, Dialect, Page, Queries, too_slow
from telltale.events.stores.clickhouse import clickhouse_client, layout
from telltale.events.stores.clickhouse_schema import REQUEST_COLUMNS, column_types
from telltale.platform.config import get_settings

if TYPE_CHECKING:
    from telltale.apianalytics.keys import ApiKey
    from telltale.apianalytics.query import Filters

READ_SETTINGS = {"readonly": 2}
_COLUMNS = ["tenant_id", "api_key_id", "id", *COLUMNS]
# Given with each insert, so that clickhouse-connect need not ask the server for them first.
_TYPES = [column_types(REQUEST_COLUMNS)[c] for c in _COLUMNS]
_NULLABLE_IN_ROLLUPS = ("hostname", "location", "browser", "os")


def new_ids(n: int) -> list[int]:
    """``n`` ids, unique, increasing within the batch and in time order across batches: the millisecond
    above 64 random bits (a keyset needs them unique; two batches would share one only by drawing
    overlapping ranges of 2^64)."""
    base = (time.time_ns() // 1_000_000) << 64
    start = secrets.randbits(64)
    return [base | ((start + i) & (2**64 - 1)) for i in range(n)]


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class ClickHouseDialect(Dialect):
    @property
    def raw_table(self) -> str:  # type: ignore[override]
        return layout().q("api_requests")

    @property
    def rollup_table(self) -> str:  # type: ignore[override]
        return layout().q("api_request_rollups")

    def param(self, name: str, kind: str) -> str:
        return f"{{{name}:{kind}}}"

    def scope(self, key: ApiKey) -> tuple[list[str], dict[str, Any]]:
        return (["tenant_id = {tenant:String}", "api_key_id = {key:String}"],
                {"tenant": key.tenant_id, "key": key.id})

    def time_value(self, t: datetime) -> Any:
        return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    def trunc(self, unit: str, column: str) -> str:
        return f"toStartOf{unit.capitalize()}({column})"

    def weekday(self, column: str) -> str:
        return f"toDayOfWeek({column})"  # ISO: 1 = Monday

    def hour_of_day(self, column: str) -> str:
        return f"toHour({column})"

    def percentile(self, q: float, column: str) -> str:
        # The interpolation of PostgreSQL's percentile_cont, exactly.
        return f"quantileExactInclusive({q})({column})"

    def int_div(self, a: str, b: str) -> str:
        return f"intDiv({a}, {b})"

    def to_float(self, x: str) -> str:
        return f"toFloat64({x})"

    def count_if(self, condition: str) -> str:
        return f"countIf({condition})"

    def matches(self, column: str, pattern: str) -> str:
        return f"match({column}, '{pattern}')"

    def first_group(self, column: str, pattern: str) -> str:
        return f"extract({column}, '{pattern}')"

    def rollup_dim(self, name: str) -> str:
        return f"nullIf({name}, '')" if name in _NULLABLE_IN_ROLLUPS else name


class ClickHouseRequestStore:
    dialect = ClickHouseDialect()

    def _runner(self) -> Queries:
        budget = Budget()

        def run(sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
            settings = {**READ_SETTINGS, "max_execution_time": max(budget.left_s(), 0.001)}
            try:
                result = clickhouse_client().query(sql, parameters=params, settings=settings)
            except Exception as exc:
                if "TIMEOUT_EXCEEDED" in str(exc) or "Code: 159" in str(exc):
                    raise too_slow() from None
                raise
            return [{k: _utc(v) for k, v in zip(result.column_names, r, strict=True)} for r in result.result_rows]
        return Queries(self.dialect, run)

    def insert(self, key: ApiKey, rows: list[dict[str, Any]], ids: list[int] | None = None) -> int:
        """One insert (one part, and the rollups of the same block); on a cluster in the foreground, so that
        what the reply counts is on its shard. ``ids``: PostgreSQL's, for rows a tenant move copies (they
        are below 2^64, the ids made here above it, so the two never meet)."""
        if not rows:
            return 0
        ids = ids or new_ids(len(rows))
        data = [[key.tenant_id, key.id, i, *(r[c] for c in COLUMNS)] for i, r in zip(ids, rows, strict=True)]
        settings = {"distributed_foreground_insert": 1} if get_settings().clickhouse_cluster else None
        clickhouse_client().insert("api_requests", data, column_names=_COLUMNS, column_type_names=_TYPES,
                                   database=get_settings().clickhouse_database, settings=settings)
        return len(rows)

    def page(self, key: ApiKey, f: Filters, cursor: Cursor | None, size: int) -> Page:
        return self._runner().page(key, f, cursor, size)

    def stats(self, key: ApiKey, f: Filters) -> dict[str, Any]:
        return self._runner().stats(key, f)

    def delete(self, key_ids: list[str], tenant_id: str) -> int:
        if not key_ids:
            return 0
        client, lay = clickhouse_client(), layout()
        where = "tenant_id = {t:String} AND api_key_id IN {k:Array(String)}"
        params = {"t": tenant_id, "k": key_ids}
        n = int(client.query(f"SELECT count() FROM {lay.q('api_requests')} WHERE {where}",
                             parameters=params).result_rows[0][0])
        for table in ("api_requests", "api_request_rollups"):
            client.command(f"DELETE FROM {lay.q(lay.data_table(table))}{lay.on_cluster} WHERE {where}",
                           parameters=params)
        return n
