"""Power BI: reports, dashboard tiles and dataset tables through the admin scanner API.

Auth: Entra ID client credentials (POST to the token URL) -> Bearer; a new token on 401. Workspaces page
with OData ``$top``/``$skip``; each batch of at most 100 is scanned (getInfo -> scanStatus -> scanResult).
Reports and tiles have no SQL: their tables come from the dataset's Power Query (M) navigation steps;
tables built with ``Value.NativeQuery`` give their SQL as a saved query.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from telltale.platform.dates import tool_time
from telltale.platform.errors import ConnectorError
from telltale.usage.integrations.base import BiRecord, HttpClient, ItemError, item_error, person

SCOPE = "https://analysis.windows.net/powerbi/api/.default"
M_DIALECTS = {"Snowflake.Databases": "snowflake", "Sql.Database": "tsql", "Sql.Databases": "tsql",
              "PostgreSQL.Database": "postgres", "GoogleBigQuery.Database": "bigquery",
              "AmazonRedshift.Database": "redshift", "MySQL.Database": "mysql", "Databricks.Catalogs": "databricks"}
_NAV = re.compile(r'\{\[Name\s*=\s*"([^"]+)"\s*,\s*Kind\s*=\s*"(Database|Schema|Table|View)"\]\}')
_SQLDB_ITEM = re.compile(r'\{\[Schema\s*=\s*"([^"]+)"\s*,\s*Item\s*=\s*"([^"]+)"\]\}')
_STRING = re.compile(r'\s*"((?:[^"]|"")*)"')


def m_tables(expression: str) -> list[str]:
    """schema.table names a Power Query expression navigates to."""
    out: list[str] = []
    schema = None
    for name, kind in _NAV.findall(expression):
        if kind == "Schema":
            schema = name
        elif kind in ("Table", "View"):
            out.append(f"{schema}.{name}" if schema else name)
    out += [f"{s}.{t}" for s, t in _SQLDB_ITEM.findall(expression)]
    return out


def m_native_sql(expression: str) -> str | None:
    """The SQL text of ``Value.NativeQuery(<source>, "<sql>", ...)``: the string after the first top-level comma."""
    start = expression.find("Value.NativeQuery(")
    if start < 0:
        return None
    depth, i, n = 0, start + len("Value.NativeQuery("), len(expression)
    while i < n:
        ch = expression[i]
        if ch == '"':
            end = expression.find('"', i + 1)
            while end >= 0 and expression[end + 1:end + 2] == '"':  # "" escapes a quote in M
                end = expression.find('"', end + 2)
            if end < 0:
                return None
            i = end
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                return None
            depth -= 1
        elif ch == "," and depth == 0:
            m = _STRING.match(expression, i + 1)
            return m.group(1).replace('""', '"') if m else None
        i += 1
    return None


def m_dialect(expression: str) -> str | None:
    for fn, dialect in M_DIALECTS.items():
        if fn + "(" in expression:
            return dialect
    return None


class PowerBiScraper:
    def __init__(self, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        self.state: dict[str, Any] = {}  # a BI tool is read whole at every sync: nothing to resume from
        self.config = config
        self.credentials = credentials
        self.page_size = int(config["page_size"])
        self.poll_s = float(config["scan_poll_s"])
        self.scan_timeout_s = float(config["scan_timeout_s"])
        self.app_url = str(config["app_url"]).rstrip("/")
        self.token_url = str(config.get("token_url") or
                             f"https://login.microsoftonline.com/{config.get('azure_tenant_id')}/oauth2/v2.0/token")
        self.http = HttpClient(str(config.get("base_url") or "https://api.powerbi.com/v1.0/myorg"), config,
                               login=self._login, tool="Power BI")

    def _login(self, http: HttpClient) -> None:
        data = http.json("POST", self.token_url, auth=False, data={
            "grant_type": "client_credentials", "client_id": self.credentials.get("client_id"),
            "client_secret": self.credentials.get("client_secret"), "scope": self.config["scope"] or SCOPE})
        if not isinstance(data, dict) or not data.get("access_token"):
            raise ConnectorError("the Entra ID token endpoint returned no access_token")
        http.session.headers["Authorization"] = f"Bearer {data['access_token']}"

    def _workspaces(self) -> list[str]:
        if self.config.get("workspaces"):
            return [str(w) for w in self.config["workspaces"]]
        ids: list[str] = []
        skip = 0
        while True:
            data = self.http.json("GET", f"/admin/groups?$top={self.page_size}&$skip={skip}")
            page = data.get("value") or []
            ids += [str(g["id"]) for g in page if isinstance(g, dict) and g.get("id")]
            skip += len(page)
            if not page or len(page) < self.page_size:  # an empty page ends it, whatever page_size says
                return ids

    def _scan(self, batch: list[str]) -> dict[str, Any]:
        req = self.http.json("POST", "/admin/workspaces/getInfo?lineage=True&datasourceDetails=True"
                                     "&datasetSchema=True&datasetExpressions=True&getArtifactUsers=True",
                             json={"workspaces": batch})
        scan_id = req["id"]
        deadline = time.monotonic() + self.scan_timeout_s
        while True:
            status = self.http.json("GET", f"/admin/workspaces/scanStatus/{scan_id}").get("status")
            if status == "Succeeded":
                break
            if status not in ("NotStarted", "Running") or time.monotonic() > deadline:
                raise ConnectorError(f"Power BI workspace scan ended with status {status}")
            time.sleep(self.poll_s)
        result: dict[str, Any] = self.http.json("GET", f"/admin/workspaces/scanResult/{scan_id}")
        return result

    def collect(self) -> Iterator[BiRecord | ItemError]:
        workspaces = self._workspaces()
        batches = [workspaces[i:i + 100] for i in range(0, len(workspaces), 100)]
        failed = 0
        for batch in batches:
            try:
                result = self._scan(batch)
            except ConnectorError as exc:
                # One scan failing (timed out, refused) loses its workspaces, not the other batches':
                # each of its workspaces is a failed item.
                failed += 1
                for ws_id in batch:
                    yield item_error(f"workspace {ws_id}", exc)
                if failed == len(batches):
                    raise  # every scan failed: the tool itself is failing, the job says so
                continue
            for ws in result.get("workspaces") or []:
                yield from self._workspace(ws)

    def _workspace(self, ws: dict[str, Any]) -> Iterator[BiRecord | ItemError]:
        ws_id = ws.get("id")
        datasets: dict[str, list[str]] = {}
        for ds in ws.get("datasets") or []:
            try:
                tables: list[str] = []
                for table in ds.get("tables") or []:
                    expr = " ".join(str(s.get("expression") or "") for s in table.get("source") or [])
                    tables += m_tables(expr)
                    sql = m_native_sql(expr)
                    if sql:
                        yield BiRecord(resource_type="saved_query", resource_id=f"{ds['id']}:{table['name']}",
                                       title=table["name"], sql=sql, dialect=m_dialect(expr),
                                       executed_by=ds.get("configuredBy"))
                datasets[str(ds["id"])] = tables
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield item_error("dataset", exc)
        for rep in ws.get("reports") or []:
            try:
                yield BiRecord(resource_type="chart", resource_id=str(rep["id"]), title=rep.get("name"),
                               tables=datasets.get(str(rep.get("datasetId")), []),
                               executed_by=person(rep.get("modifiedBy"), *(rep.get("users") or [])),
                               modified_at=tool_time(rep.get("modifiedDateTime")),
                               dashboard_url=rep.get("webUrl") or f"{self.app_url}/groups/{ws_id}/reports/{rep['id']}")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield item_error("report", exc)
        for dash in ws.get("dashboards") or []:
            for tile in dash.get("tiles") or []:
                try:
                    yield BiRecord(resource_type="dashboard_chart", resource_id=f"{dash['id']}:{tile['id']}",
                                   title=tile.get("title"), tables=datasets.get(str(tile.get("datasetId")), []),
                                   dashboard_id=str(dash["id"]), dashboard_title=dash.get("displayName"),
                                   dashboard_url=dash.get("webUrl")
                                   or f"{self.app_url}/groups/{ws_id}/dashboards/{dash['id']}")
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    yield item_error("dashboard tile", exc)


def make(config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> PowerBiScraper:
    return PowerBiScraper(config, credentials)
