"""Looker (API 4.0): Looks and dashboard tiles, with the SQL Looker generates for their queries.

Auth: POST /api/4.0/login (form client_id, client_secret) -> ``Authorization: token <t>``; re-login on 401.
``/looks/search`` and ``/dashboards/search`` page with ``limit``/``offset``. SQL comes from
``GET /queries/{id}/run/sql``; when Looker will not give it (no ``see_sql``), the explore's
``sql_table_name`` from the LookML model is recorded as the table.

With ``config.history`` (default on) the System Activity ``history`` explore gives one ``query_log`` row per
run of a Look, tile or explore query in the last ``history_days`` (who ran it, when); an API user without
``see_system_activity`` is answered 403 and the history is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from telltale.platform.dates import tool_time
from telltale.platform.errors import ConnectorError
from telltale.usage.integrations.base import BiRecord, HttpClient, ItemError, item_error, person

API = "/api/4.0"


class LookerScraper:
    def __init__(self, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        self.state: dict[str, Any] = {}  # a BI tool is read whole at every sync: nothing to resume from
        self.credentials = credentials
        self.page_size = int(config["page_size"])
        self.dialect = config["dialect"]
        self.http = HttpClient(str(config["base_url"]), config, login=self._login, tool="Looker")
        self._sql: dict[str, tuple[str | None, list[str]]] = {}
        self.history = bool(config["history"])
        self.history_days = int(config["history_days"])
        self.history_limit = int(config["history_limit"])

    def _login(self, http: HttpClient) -> None:
        form = {"client_id": self.credentials.get("client_id"),
                "client_secret": self.credentials.get("client_secret")}
        data = http.json("POST", f"{API}/login", auth=False, data=form)
        if not isinstance(data, dict) or not data.get("access_token"):
            raise ConnectorError("Looker login returned no access_token")
        http.session.headers["Authorization"] = f"token {data['access_token']}"

    def _search(self, what: str) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            items = self.http.json("GET", f"{API}/{what}/search?limit={self.page_size}&offset={offset}")
            if not isinstance(items, list):
                raise ConnectorError(f"Looker /{what}/search did not return a list")
            yield from items
            offset += len(items)
            if not items or len(items) < self.page_size:  # an empty page ends it, whatever page_size says
                return

    def _query_sql(self, query: dict[str, Any] | None, query_id: Any) -> tuple[str | None, list[str]]:
        qid = str(query_id or (query or {}).get("id") or "")
        if not qid:
            return None, []
        if qid not in self._sql:
            try:
                sql = self.http.request("GET", f"{API}/queries/{qid}/run/sql").text
                self._sql[qid] = (sql, [])
            except ConnectorError:
                self._sql[qid] = (None, self._explore_tables(query))
        return self._sql[qid]

    def _explore_tables(self, query: dict[str, Any] | None) -> list[str]:
        if not query or not query.get("model") or not query.get("view"):
            return []
        try:
            explore = self.http.json("GET", f"{API}/lookml_models/{query['model']}/explores/{query['view']}")
        except ConnectorError:
            return []
        name = explore.get("sql_table_name") if isinstance(explore, dict) else None
        return [str(name).strip()] if name else []

    def collect(self) -> Iterator[BiRecord | ItemError]:
        for look in self._search("looks"):
            try:
                sql, tables = self._query_sql(look.get("query"), look.get("query_id"))
                yield BiRecord(resource_type="chart", resource_id=str(look["id"]), title=look.get("title"),
                               sql=sql, tables=tables, dialect=self.dialect,
                               executed_by=person(look.get("user_name"), look.get("user_id")),
                               executed_at=tool_time(look.get("last_viewed_at") or look.get("last_accessed_at")),
                               modified_at=tool_time(look.get("updated_at")), dashboard_url=None)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield item_error("look", exc)
        for summary in self._search("dashboards"):
            try:
                dash_id = str(summary["id"])
                dash = self.http.json("GET", f"{API}/dashboards/{dash_id}")
                if not isinstance(dash, dict):
                    raise TypeError("the dashboard is not an object")
            except (KeyError, TypeError, ConnectorError) as exc:
                yield item_error("dashboard", exc)
                continue
            yield from self._elements(dash_id, dash)
        if self.history:
            yield from self._history()

    def _history(self) -> Iterator[BiRecord | ItemError]:
        body = {"model": "system__activity", "view": "history",
                "fields": ["history.id", "history.created_time", "user.email", "query.id", "query.model",
                           "query.view", "history.dashboard_id", "look.id", "look.title", "dashboard.title"],
                "filters": {"history.created_date": f"{self.history_days} days"},
                "sorts": ["history.created_time"], "limit": str(self.history_limit)}
        try:
            rows = self.http.json("POST", f"{API}/queries/run/json", json=body)
        except ConnectorError:
            return  # no see_system_activity: Looks and tiles are still scraped
        for row in rows if isinstance(rows, list) else []:
            try:
                query_id = row.get("query.id")
                sql, tables = self._query_sql({"id": query_id, "model": row.get("query.model"),
                                               "view": row.get("query.view")}, query_id)
                dash_id = row.get("history.dashboard_id")
                yield BiRecord(resource_type="query_log", resource_id=str(row["history.id"]),
                               title=row.get("look.title") or row.get("dashboard.title"), sql=sql, tables=tables,
                               dialect=self.dialect, executed_by=row.get("user.email"),
                               executed_at=tool_time(row["history.created_time"]),
                               dashboard_id=str(dash_id) if dash_id else None,
                               dashboard_title=row.get("dashboard.title"),
                               dashboard_url=f"{self.http.base_url}/dashboards/{dash_id}" if dash_id else None)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield item_error("history row", exc)

    def _elements(self, dash_id: str, dash: dict[str, Any]) -> Iterator[BiRecord | ItemError]:
        for el in dash.get("dashboard_elements") or []:
            try:
                look = el.get("look") or {}
                query = el.get("query") or look.get("query")
                query_id = el.get("query_id") or (query or {}).get("id")
                if not query_id and not query:
                    continue  # text tiles
                sql, tables = self._query_sql(query, query_id)
                yield BiRecord(resource_type="dashboard_chart", resource_id=f"{dash_id}:{el['id']}",
                               title=el.get("title") or look.get("title"), sql=sql, tables=tables,
                               dialect=self.dialect, executed_by=person(dash.get("user_name"), dash.get("user_id")),
                               executed_at=tool_time(dash.get("last_viewed_at")),
                               modified_at=tool_time(dash.get("updated_at")), dashboard_id=dash_id,
                               dashboard_title=dash.get("title"),
                               dashboard_url=f"{self.http.base_url}/dashboards/{dash_id}")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield item_error("dashboard element", exc)


def make(config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> LookerScraper:
    return LookerScraper(config, credentials)
