"""BigQuery: ``region-xx``.INFORMATION_SCHEMA.JOBS through the REST API (jobs.query, then getQueryResults).

Auth: ``Authorization: Bearer <access_token>``. Results page with ``pageToken``; a query not finished within
``timeoutMs`` (``jobComplete: false``) is polled with getQueryResults. Tables come from the job's own
``referenced_tables`` (anonymous result datasets ``_…`` excluded) as well as from the parsed SQL.

Incremental: the newest ``creation_time`` stored is the next run's lower bound (exclusive).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from telltale.platform.dates import tool_time
from telltale.usage.integrations.base import BiRecord, HttpClient, ItemError, item_error

JOBS_SQL = """
SELECT job_id, creation_time, user_email, query, statement_type, referenced_tables
FROM `{project}`.`region-{region}`.INFORMATION_SCHEMA.JOBS
WHERE creation_time > @since
  AND job_type = 'QUERY' AND state = 'DONE' AND error_result IS NULL
  AND statement_type NOT IN ('SCRIPT', 'CREATE_PROCEDURE', 'CALL')
  AND NOT CONTAINS_SUBSTR(query, '.INFORMATION_SCHEMA.')
ORDER BY creation_time
"""


def cell(field: dict[str, Any], value: Any) -> Any:
    """A value of BigQuery's f/v row format, nested records and repeated fields included."""
    if value is None:
        return None
    if field.get("mode") == "REPEATED":
        return [cell({**field, "mode": "NULLABLE"}, item.get("v") if isinstance(item, dict) else item)
                for item in value]
    if field.get("type") in ("RECORD", "STRUCT"):
        return {f["name"]: cell(f, c.get("v")) for f, c in zip(field["fields"], value["f"], strict=True)}
    return value


class BigQueryMiner:
    def __init__(self, config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> None:
        self.config = config
        self.state = state
        self.project = str(config["project"])
        self.region = str(config["region"]).lower().removeprefix("region-")
        self.http = HttpClient(str(config.get("base_url") or "https://bigquery.googleapis.com/bigquery/v2"),
                               config, tool="BigQuery")
        self.http.session.headers["Authorization"] = f"Bearer {credentials.get('access_token')}"
        self.page_size = int(config["page_size"])

    def _since(self) -> str:
        if self.state.get("last_creation_time"):
            return str(self.state["last_creation_time"])
        start = datetime.now(UTC) - timedelta(days=int(self.config["lookback_days"]))
        return start.isoformat()

    def _rows(self) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        """(schema fields, raw f/v row) pairs; decoded per row by the caller, so one bad row is one failure."""
        body = {"query": JOBS_SQL.format(project=self.project, region=self.region), "useLegacySql": False,
                "maxResults": self.page_size, "timeoutMs": 30_000, "parameterMode": "NAMED",
                "queryParameters": [{"name": "since", "parameterType": {"type": "TIMESTAMP"},
                                     "parameterValue": {"value": self._since()}}]}
        data = self.http.json("POST", f"/projects/{self.project}/queries", json=body)
        job = data.get("jobReference") or {}
        while True:
            if data.get("jobComplete", True):
                fields = (data.get("schema") or {}).get("fields") or []
                for r in data.get("rows") or []:
                    yield fields, r
                if not data.get("pageToken"):
                    return
                token = f"&pageToken={data['pageToken']}"
            else:
                token = ""
            data = self.http.json("GET", f"/projects/{self.project}/queries/{job['jobId']}"
                                         f"?maxResults={self.page_size}&location={job.get('location', '')}{token}")

    def collect(self) -> Iterator[BiRecord | ItemError]:
        newest = self.state.get("last_creation_time")
        newest_dt = tool_time(newest) if newest else None
        for fields, raw in self._rows():
            try:
                row = {f["name"]: cell(f, c.get("v")) for f, c in zip(fields, raw["f"], strict=True)}
                created = tool_time(row["creation_time"])
                tables = [".".join(p for p in (t.get("project_id"), t.get("dataset_id"), t.get("table_id")) if p)
                          for t in row.get("referenced_tables") or []
                          if not str(t.get("dataset_id") or "").startswith("_")]
                if created and (newest_dt is None or created > newest_dt):
                    newest_dt = created
                yield BiRecord(resource_type="query_log", resource_id=str(row["job_id"]), sql=row["query"],
                               dialect="bigquery", tables=tables, executed_by=row.get("user_email"),
                               executed_at=created)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield item_error("JOBS row", exc)
        if newest_dt is not None:
            self.state["last_creation_time"] = newest_dt.isoformat()


def make(config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> BigQueryMiner:
    return BigQueryMiner(config, credentials, state)
