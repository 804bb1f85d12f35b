"""Snowflake: SNOWFLAKE.ACCOUNT_USAGE.QUERY_HISTORY through the SQL API (POST /api/v2/statements).

Auth: ``Authorization: Bearer <token>`` with ``X-Snowflake-Authorization-Token-Type`` (OAUTH by default, or
PROGRAMMATIC_ACCESS_TOKEN / KEYPAIR_JWT). A statement still running answers 202 and is polled at its
``statementStatusUrl`` until ``statement_timeout_s`` (plus a margin) has passed; results beyond the first
partition are fetched with ``?partition=N``.

Incremental: the run remembers the newest ``start_time`` it stored and next time reads from there minus
``overlap_minutes`` (ACCOUNT_USAGE lags by up to 3 hours, so late rows are not missed); rows already
stored are not counted again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from telltale.platform.dates import tool_time
from telltale.platform.errors import ConnectorError
from telltale.usage.integrations.base import BiRecord, HttpClient, ItemError, item_error

POLL_MARGIN_S = 60

HISTORY_SQL = """
SELECT query_id, query_text, user_name, role_name, database_name, schema_name,
       DATE_PART(epoch_millisecond, start_time) AS start_ms
FROM snowflake.account_usage.query_history
WHERE start_time >= TO_TIMESTAMP_LTZ(?, 3)
  AND execution_status = 'SUCCESS'
  AND query_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'CREATE_TABLE_AS_SELECT')
ORDER BY start_time
LIMIT ?
"""


class SnowflakeMiner:
    def __init__(self, config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> None:
        self.config = config
        self.state = state
        base = config.get("base_url") or f"https://{config.get('account')}.snowflakecomputing.com"
        self.http = HttpClient(str(base), config, tool="Snowflake")
        self.http.session.headers.update({
            "Authorization": f"Bearer {credentials.get('token')}",
            "X-Snowflake-Authorization-Token-Type": str(credentials.get("token_type", "OAUTH")),
            "Content-Type": "application/json",
        })
        self.max_rows = int(config["max_rows"])
        self.poll_s = float(config["poll_s"])
        self.statement_timeout_s = int(config["statement_timeout_s"])

    def _since_ms(self) -> int:
        if self.state.get("last_start_ms"):
            overlap = int(self.config["overlap_minutes"]) * 60_000
            return int(self.state["last_start_ms"]) - overlap
        lookback = timedelta(days=int(self.config["lookback_days"]))
        return int((datetime.now(UTC) - lookback).timestamp() * 1000)

    def _statement(self, sql: str, bindings: list[str]) -> tuple[list[str], Iterator[list[Any]]]:
        body: dict[str, Any] = {"statement": sql, "timeout": self.statement_timeout_s,
                                "bindings": {str(i + 1): {"type": "TEXT", "value": v} for i, v in enumerate(bindings)}}
        for key in ("warehouse", "role", "database"):
            if self.config.get(key):
                body[key] = self.config[key]
        resp = self.http.request("POST", "/api/v2/statements", json=body)
        data = resp.json()
        # Snowflake stops the statement at its own timeout; the margin covers its queueing and our polling,
        # so a status URL that keeps answering 202 cannot hold the sync (and its lock) until the Lambda dies.
        deadline = time.monotonic() + self.statement_timeout_s + POLL_MARGIN_S
        while resp.status_code == 202:
            if time.monotonic() > deadline:
                raise ConnectorError(f"Snowflake statement still running after {self.statement_timeout_s} s"
                                     f" (+{POLL_MARGIN_S} s); raise statement_timeout_s or narrow lookback_days")
            time.sleep(self.poll_s)
            resp = self.http.request("GET", data.get("statementStatusUrl")
                                     or f"/api/v2/statements/{data['statementHandle']}")
            data = resp.json()
        meta = data.get("resultSetMetaData") or {}
        names = [c["name"].lower() for c in meta.get("rowType") or []]
        handle = data.get("statementHandle")
        partitions = len(meta.get("partitionInfo") or []) or 1

        def rows() -> Iterator[list[Any]]:
            yield from data.get("data") or []
            for p in range(1, partitions):
                more = self.http.json("GET", f"/api/v2/statements/{handle}?partition={p}")
                yield from more.get("data") or []
        return names, rows()

    def collect(self) -> Iterator[BiRecord | ItemError]:
        names, rows = self._statement(HISTORY_SQL, [str(self._since_ms()), str(self.max_rows)])
        if "query_id" not in names:
            raise ConnectorError("Snowflake's answer has no query_id column")
        newest = int(self.state.get("last_start_ms") or 0)
        for values in rows:
            try:
                row = dict(zip(names, values, strict=True))
                start_ms = int(float(row["start_ms"]))
                newest = max(newest, start_ms)
                yield BiRecord(resource_type="query_log", resource_id=str(row["query_id"]), sql=row["query_text"],
                               dialect="snowflake", default_schema=row.get("schema_name") or None,
                               executed_by=row.get("user_name"), executed_at=tool_time(start_ms))
            except (KeyError, TypeError, ValueError) as exc:
                yield item_error("query_history row", exc)
        self.state["last_start_ms"] = newest


def make(config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> SnowflakeMiner:
    return SnowflakeMiner(config, credentials, state)
