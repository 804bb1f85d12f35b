"""Apache Superset (REST API v1): saved queries, charts (and their dashboards) and SQL Lab history.

Auth: POST /api/v1/security/login -> Bearer token (re-login on 401). Lists page with the rison argument
``q=(page:N,page_size:M)`` until ``page * page_size >= count``. Charts carry no SQL: a virtual dataset's SQL
is used, a physical dataset gives its table from the dataset metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from telltale.platform.dates import tool_time
from telltale.platform.errors import ConnectorError
from telltale.usage.integrations.base import BiRecord, HttpClient, ItemError, item_error, person
from telltale.usage.sql import dialect_name


class SupersetScraper:
    def __init__(self, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        self.state: dict[str, Any] = {}  # a BI tool is read whole at every sync: nothing to resume from
        self.config = config
        self.credentials = credentials
        self.page_size = int(config["page_size"])
        self.dialect = config["dialect"]
        self.http = HttpClient(str(config["base_url"]), config, login=self._login, tool="Superset")
        # A dataset is read once per sync; a failed read is remembered (reported once, its charts still kept).
        self._datasets: dict[int, dict[str, Any] | ConnectorError | None] = {}

    def _login(self, http: HttpClient) -> None:
        body = {"username": self.credentials.get("username"), "password": self.credentials.get("password"),
                "provider": self.credentials.get("provider", "db"), "refresh": True}
        data = http.json("POST", "/api/v1/security/login", json=body, auth=False)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise ConnectorError("Superset login returned no access_token")
        http.session.headers["Authorization"] = f"Bearer {token}"

    def _pages(self, path: str) -> Iterator[Any]:
        page = 0
        while True:
            q = quote(f"(page:{page},page_size:{self.page_size})", safe="")
            data = self.http.json("GET", f"{path}?q={q}")
            result = data.get("result") or []
            yield from result
            count = int(data.get("count") or 0)
            page += 1
            if not result or page * self.page_size >= count:
                return

    def _dataset(self, dataset_id: int) -> tuple[dict[str, Any] | None, ItemError | None]:
        """The dataset, and an ItemError the first time its read failed (the chart is kept without its
        tables; the failure is counted once, not once per chart)."""
        if dataset_id not in self._datasets:
            try:
                data = self.http.json("GET", f"/api/v1/dataset/{dataset_id}")
                self._datasets[dataset_id] = data.get("result") if isinstance(data, dict) else None
            except ConnectorError as exc:
                self._datasets[dataset_id] = exc
                return None, item_error(f"dataset {dataset_id}", exc)
        ds = self._datasets[dataset_id]
        return (None if isinstance(ds, ConnectorError) else ds), None

    def _dialect(self, database: Any) -> str | None:
        backend = database.get("backend") if isinstance(database, dict) else None
        return self.dialect or dialect_name(backend)

    def collect(self) -> Iterator[BiRecord | ItemError]:
        for item in self._pages("/api/v1/saved_query/"):
            try:
                yield BiRecord(
                    resource_type="saved_query", resource_id=str(item["id"]), title=item.get("label"),
                    sql=item.get("sql"), dialect=self._dialect(item.get("database")),
                    default_schema=item.get("schema") or None,
                    executed_by=person(item.get("changed_by"), item.get("created_by")),
                    # The list API gives no run time (only "2 days ago"): a saved query is a definition.
                    modified_at=tool_time(item.get("changed_on")),
                )
            except (KeyError, TypeError, ValueError) as exc:
                yield item_error("saved_query", exc)
        for item in self._pages("/api/v1/chart/"):
            try:
                yield from self._chart(item)
            except (KeyError, TypeError, ValueError, AttributeError, ConnectorError) as exc:
                yield item_error("chart", exc)
        for item in self._pages("/api/v1/query/"):
            try:
                yield BiRecord(
                    resource_type="query_log", resource_id=str(item["id"]), title=item.get("tab_name"),
                    sql=item.get("executed_sql") or item.get("sql"), dialect=self._dialect(item.get("database")),
                    default_schema=item.get("schema") or None, executed_by=person(item.get("user")),
                    executed_at=tool_time(item.get("start_time")),
                )
            except (KeyError, TypeError, ValueError) as exc:
                yield item_error("query_log", exc)

    def _chart(self, item: dict[str, Any]) -> Iterator[BiRecord | ItemError]:
        chart_id = str(item["id"])
        sql, tables, dialect, schema = None, [], self.dialect, None
        if item.get("datasource_type") in ("table", "dataset", None) and item.get("datasource_id") is not None:
            ds, failure = self._dataset(int(item["datasource_id"]))
            if failure is not None:
                yield failure
            if ds:
                dialect = self._dialect(ds.get("database"))
                schema = ds.get("schema") or None
                if ds.get("sql") and ds.get("sql") != "null":
                    sql = ds.get("rendered_sql") or ds["sql"]
                elif ds.get("table_name"):
                    tables = [".".join(p for p in (ds.get("schema"), ds["table_name"]) if p)]
        dashboards = [d for d in (item.get("dashboards") or []) if isinstance(d, dict)]
        first = dashboards[0] if dashboards else {}
        base = {"title": item.get("slice_name"), "sql": sql, "tables": tables, "dialect": dialect,
                "default_schema": schema,
                "executed_by": person(*(item.get("owners") or []), item.get("changed_by")),
                "modified_at": tool_time(item.get("changed_on_utc") or item.get("last_saved_at"))}
        yield BiRecord(resource_type="chart", resource_id=chart_id,
                       dashboard_id=str(first["id"]) if first.get("id") is not None else None,
                       dashboard_title=first.get("dashboard_title"),
                       dashboard_url=self._dashboard_url(first), **base)  # type: ignore[arg-type]
        for d in dashboards:
            yield BiRecord(resource_type="dashboard_chart", resource_id=f"{d['id']}:{chart_id}",
                           dashboard_id=str(d["id"]), dashboard_title=d.get("dashboard_title"),
                           dashboard_url=self._dashboard_url(d), **base)  # type: ignore[arg-type]

    def _dashboard_url(self, dashboard: dict[str, Any]) -> str | None:
        if dashboard.get("id") is None:
            return None
        path = dashboard.get("url") or f"/superset/dashboard/{dashboard.get('slug') or dashboard['id']}/"
        return self.http.base_url + path


def make(config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> SupersetScraper:
    return SupersetScraper(config, credentials)
