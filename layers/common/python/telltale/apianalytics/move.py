"""The API request log's part of a tenant move (``telltale events move-tenant``, telltale.events.move): the
same steps as the events. While the tenant is ``moving``, new rows go to PostgreSQL and then to ClickHouse
with PostgreSQL's ids (telltale.apianalytics.ingest); the copy brings, day by day, the rows whose id
ClickHouse lacks, so copying twice, or a row the dual write brought, stores nothing twice; a day is
verified when ClickHouse counts at least PostgreSQL's rows of it. PostgreSQL keeps its copy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from telltale.apianalytics.keys import ApiKey
from telltale.apianalytics.stores.base import COLUMNS
from telltale.platform import scoped
from telltale.platform.config import get_settings

BATCH = 5000
# ClickHouse's own ids are the millisecond above 64 random bits; PostgreSQL's (copied) are below 2^64.
_COPIED = 2**64


class RequestLogCopy:
    what = "request log"

    def pg_days(self, tenant_id: str) -> dict[date, int]:
        rows = scoped.tenant(tenant_id).query(
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM platform.api_requests"
            " GROUP BY 1 ORDER BY 1")
        return {r["day"]: int(r["n"]) for r in rows}

    def ch_days(self, tenant_id: str) -> dict[date, int]:
        from telltale.events.stores.clickhouse import clickhouse_client

        result = clickhouse_client().query(
            f"SELECT toDate(created_at) AS day, count() FROM `{get_settings().clickhouse_database}`.api_requests"
            " WHERE tenant_id = {t:String} GROUP BY day ORDER BY day", parameters={"t": tenant_id})
        return {r[0]: int(r[1]) for r in result.result_rows}

    def short_days(self, tenant_id: str) -> list[date]:
        from telltale.apianalytics import stores

        if stores.by_settings(tenant_id):  # the settings put it in ClickHouse: PostgreSQL has none to move
            return []
        ch = self.ch_days(tenant_id)
        return sorted(d for d, n in self.pg_days(tenant_id).items() if ch.get(d, 0) < n)

    def totals(self, tenant_id: str) -> dict[str, int]:
        return {"postgres": sum(self.pg_days(tenant_id).values()), "clickhouse": sum(self.ch_days(tenant_id).values())}

    def copy_short_days(self, tenant_id: str, say: Callable[[str], None]) -> int:
        days = self.short_days(tenant_id)
        copied = 0
        for n, day in enumerate(days, 1):
            stored = self._copy_day(tenant_id, day)
            copied += stored
            say(f"{tenant_id}: request log of {day} copied ({stored:,} new), {len(days) - n} day(s) left")
        return copied

    def _copy_day(self, tenant_id: str, day: date) -> int:
        from telltale.apianalytics.stores.clickhouse import ClickHouseRequestStore
        from telltale.events.stores.clickhouse import clickhouse_client

        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        database = get_settings().clickhouse_database
        there = {int(r[0]) for r in clickhouse_client().query(
            f"SELECT id FROM `{database}`.api_requests WHERE tenant_id = {{t:String}}"
            " AND created_at >= {s:DateTime64(6, 'UTC')} AND created_at < {e:DateTime64(6, 'UTC')}"
            " AND id < {copied:UInt128}",
            parameters={"t": tenant_id, "s": start.strftime("%Y-%m-%d %H:%M:%S"),
                        "e": end.strftime("%Y-%m-%d %H:%M:%S"), "copied": _COPIED}).result_rows}
        target, stored, after = ClickHouseRequestStore(), 0, 0
        while True:
            rows = scoped.tenant(tenant_id).query(
                f"SELECT id, CAST(api_key_id AS text) AS key_id, {', '.join(COLUMNS)} FROM platform.api_requests"
                " WHERE created_at >= :s AND created_at < :e AND id > :after ORDER BY id LIMIT :n",
                s=start, e=end, after=after, n=BATCH)
            if not rows:
                return stored
            after = int(rows[-1]["id"])
            by_key: dict[str, list[dict[str, Any]]] = {}
            for r in rows:
                if int(r["id"]) not in there:
                    by_key.setdefault(r["key_id"], []).append(r)
            for key_id, missing in by_key.items():
                stored += target.insert(ApiKey(id=key_id, tenant_id=tenant_id),
                                        [{c: r[c] for c in COLUMNS} for r in missing],
                                        ids=[int(r["id"]) for r in missing])
