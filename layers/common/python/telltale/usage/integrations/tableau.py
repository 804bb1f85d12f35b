"""Tableau: sheets, dashboards and custom SQL through the Metadata API (GraphQL), signed in over REST.

Auth: POST /api/{version}/auth/signin (personal access token or name/password, JSON) -> ``X-Tableau-Auth``;
signed in again on 401. GraphQL connections page with ``first``/``after`` cursors. Sheets have no SQL: their
tables come from Catalog lineage (``upstreamTables``); custom SQL tables give their query text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from telltale.platform.dates import tool_time
from telltale.platform.errors import ConnectorError
from telltale.usage.integrations.base import BiRecord, HttpClient, ItemError, item_error, person
from telltale.usage.sql import dialect_name

SHEETS = """query Sheets($first: Int, $after: String) {
  sheetsConnection(first: $first, after: $after) {
    nodes { id luid name path updatedAt
            workbook { id luid name owner { username email } }
            containedInDashboards { id luid name path }
            upstreamTables { name schema fullName database { name connectionType } } }
    pageInfo { hasNextPage endCursor }
  }
}"""

CUSTOM_SQL = """query CustomSql($first: Int, $after: String) {
  customSQLTablesConnection(first: $first, after: $after) {
    nodes { id name query isUnsupportedCustomSql connectionType
            database { name connectionType }
            tables { name schema fullName } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def _table(t: dict[str, Any]) -> str | None:
    name = t.get("name")
    if not name:
        return None
    return ".".join(p for p in (t.get("schema"), name) if p)


class TableauScraper:
    def __init__(self, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        self.state: dict[str, Any] = {}  # a BI tool is read whole at every sync: nothing to resume from
        self.credentials = credentials
        self.version = str(config["api_version"])
        self.site = str(config["site"])
        self.page_size = int(config["page_size"])
        self.dialect = config["dialect"]
        self.http = HttpClient(str(config["base_url"]), config, login=self._login, tool="Tableau")

    def _login(self, http: HttpClient) -> None:
        c = self.credentials
        creds: dict[str, Any] = {"site": {"contentUrl": self.site}}
        if c.get("pat_name"):
            creds.update(personalAccessTokenName=c["pat_name"], personalAccessTokenSecret=c.get("pat_secret"))
        else:
            creds.update(name=c.get("username"), password=c.get("password"))
        data = http.json("POST", f"/api/{self.version}/auth/signin", auth=False, json={"credentials": creds})
        token = ((data or {}).get("credentials") or {}).get("token")
        if not token:
            raise ConnectorError("Tableau sign-in returned no token")
        http.session.headers["X-Tableau-Auth"] = str(token)

    def _nodes(self, query: str, connection: str) -> Iterator[dict[str, Any]]:
        after = None
        while True:
            data = self.http.json("POST", "/api/metadata/graphql",
                                  json={"query": query, "variables": {"first": self.page_size, "after": after}})
            conn = ((data or {}).get("data") or {}).get(connection)
            if conn is None:
                errors = (data or {}).get("errors") or []
                msg = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
                raise ConnectorError(f"Tableau Metadata API error: {msg or 'no data'}"[:300])
            # NODE_LIMIT_EXCEEDED is a warning with partial data: keep the nodes and go on.
            nodes = conn.get("nodes") or []
            yield from nodes
            info = conn.get("pageInfo") or {}
            cursor = info.get("endCursor")
            # An empty page or a cursor that does not move ends it, whatever hasNextPage says.
            if not info.get("hasNextPage") or not nodes or not cursor or cursor == after:
                return
            after = cursor

    def _view_url(self, path: str | None) -> str | None:
        if not path:
            return None
        return f"{self.http.base_url}/#/site/{self.site}/views/{path}" if self.site else \
            f"{self.http.base_url}/#/views/{path}"

    def collect(self) -> Iterator[BiRecord | ItemError]:
        for sheet in self._nodes(SHEETS, "sheetsConnection"):
            try:
                sheet_id = str(sheet.get("luid") or sheet["id"])
                tables = [t for t in (_table(u) for u in sheet.get("upstreamTables") or []) if t]
                owner = (sheet.get("workbook") or {}).get("owner") or {}
                dashboards = sheet.get("containedInDashboards") or []
                common: dict[str, Any] = {"title": sheet.get("name"), "tables": tables,
                          "executed_by": person(owner.get("email"), owner.get("username")),
                          "modified_at": tool_time(sheet.get("updatedAt"))}
                first = dashboards[0] if dashboards else {}
                yield BiRecord(resource_type="chart", resource_id=sheet_id, dashboard_id=first.get("luid")
                               or first.get("id"), dashboard_title=first.get("name"),
                               dashboard_url=self._view_url(first.get("path")), **common)
                for d in dashboards:
                    dash_id = str(d.get("luid") or d["id"])
                    yield BiRecord(resource_type="dashboard_chart", resource_id=f"{dash_id}:{sheet_id}",
                                   dashboard_id=dash_id, dashboard_title=d.get("name"),
                                   dashboard_url=self._view_url(d.get("path")), **common)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield item_error("sheet", exc)
        for node in self._nodes(CUSTOM_SQL, "customSQLTablesConnection"):
            try:
                db = node.get("database") or {}
                yield BiRecord(resource_type="saved_query", resource_id=str(node["id"]), title=node.get("name"),
                               sql=str(node["query"]), tables=[t for t in (_table(x) for x in node.get("tables") or [])
                                                              if t],
                               dialect=self.dialect or dialect_name(node.get("connectionType")
                                                                    or db.get("connectionType")))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield item_error("custom SQL", exc)


def make(config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> TableauScraper:
    return TableauScraper(config, credentials)
