"""Metabase: cards (questions, models) and dashboards.

Auth: ``x-api-key`` when an API key is given, else POST /api/session -> ``X-Metabase-Session`` (re-login on
401). ``GET /api/card`` is one unpaged array; dashboards are found through collections, whose items page
with ``limit``/``offset`` (``data``, ``total``). Native cards carry SQL (MBQL 4 ``native.query`` or MBQL 5
``stages[].native``); MBQL cards name table ids, resolved with ``GET /api/table/:id``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from telltale.platform.dates import tool_time
from telltale.platform.errors import ConnectorError
from telltale.usage.integrations.base import BiRecord, HttpClient, ItemError, item_error, person
from telltale.usage.sql import dialect_name


class MetabaseScraper:
    def __init__(self, config: dict[str, Any], credentials: dict[str, Any]) -> None:
        self.state: dict[str, Any] = {}  # a BI tool is read whole at every sync: nothing to resume from
        self.credentials = credentials
        self.page_size = int(config["page_size"])
        self.dialect = config["dialect"]
        api_key = credentials.get("api_key")
        self.http = HttpClient(str(config["base_url"]), config, login=None if api_key else self._login,
                               tool="Metabase")
        if api_key:
            self.http.session.headers["x-api-key"] = str(api_key)
        self._tables: dict[int, str | None] = {}
        self._engines: dict[int, str | None] = {}
        # A table read that failed, reported once (as a failed item) after the card that met it.
        self._failures: list[ItemError] = []

    def _login(self, http: HttpClient) -> None:
        data = http.json("POST", "/api/session", auth=False, json={"username": self.credentials.get("username"),
                                                                  "password": self.credentials.get("password")})
        if not isinstance(data, dict) or not data.get("id"):
            raise ConnectorError("Metabase login returned no session id")
        http.session.headers["X-Metabase-Session"] = str(data["id"])

    def _table(self, table_id: int) -> str | None:
        if table_id not in self._tables:
            try:
                t = self.http.json("GET", f"/api/table/{table_id}")
                if not isinstance(t, dict):
                    raise TypeError("the table is not an object")
                self._tables[table_id] = ".".join(p for p in (t.get("schema"), t.get("name")) if p) or None
            except (ConnectorError, TypeError) as exc:
                # The card is kept without that table; the loss is counted, not silent.
                self._tables[table_id] = None
                self._failures.append(item_error(f"table {table_id}", exc))
        return self._tables[table_id]

    def _dialect(self, database_id: Any) -> str | None:
        if self.dialect or not isinstance(database_id, int):
            return self.dialect
        if database_id not in self._engines:
            try:
                self._engines[database_id] = dialect_name(self.http.json("GET", f"/api/database/{database_id}")
                                                          .get("engine"))
            except ConnectorError:
                self._engines[database_id] = None
        return self._engines[database_id]

    def _card_fields(self, card: dict[str, Any]) -> dict[str, Any]:
        dq = card.get("dataset_query") or {}
        if not isinstance(dq, dict):
            raise TypeError("dataset_query is not an object")
        sql, tables = None, []
        if dq.get("type") == "native":
            sql = (dq.get("native") or {})["query"]
        elif dq.get("stages"):  # MBQL 5
            for stage in dq["stages"]:
                if stage.get("native"):
                    sql = stage["native"]
                elif isinstance(stage.get("source-table"), int):
                    tables.append(self._table(stage["source-table"]))
                for join in stage.get("joins") or []:
                    for js in join.get("stages") or []:
                        if isinstance(js.get("source-table"), int):
                            tables.append(self._table(js["source-table"]))
        elif dq.get("type") == "query":
            query = dq.get("query") or {}
            sources = [query.get("source-table")] + [j.get("source-table") for j in query.get("joins") or []]
            # "card__N" sources are other cards: their own rows carry their tables.
            tables = [self._table(s) for s in sources if isinstance(s, int)]
        edit = card.get("last-edit-info") or {}
        return {"title": card.get("name"), "sql": sql, "tables": [t for t in tables if t],
                "dialect": self._dialect(dq.get("database") or card.get("database_id")),
                "executed_by": person(edit, card.get("creator")),
                # last_used_at is when the card last ran; the edit time is no usage.
                "executed_at": tool_time(card.get("last_used_at")),
                "modified_at": tool_time(edit.get("timestamp") or card.get("updated_at"))}

    def _dashboard_ids(self) -> Iterator[int | ItemError]:
        collections = self.http.json("GET", "/api/collection/")
        ids: list[Any] = ["root"] + [c.get("id") for c in collections if isinstance(c, dict)
                                      and isinstance(c.get("id"), int)]
        seen: set[int] = set()
        for cid in ids:
            offset = 0
            while True:
                data = self.http.json("GET", f"/api/collection/{cid}/items?models=dashboard"
                                             f"&limit={self.page_size}&offset={offset}")
                items = data.get("data") or []
                for it in items:
                    if not isinstance(it, dict):
                        yield ItemError(f"collection {cid}", f"collection {cid}: an item is not an object")
                        continue
                    if isinstance(it.get("id"), int) and it["id"] not in seen:
                        seen.add(it["id"])
                        yield it["id"]
                offset += len(items)
                if not items or offset >= int(data.get("total") or 0):
                    break

    def collect(self) -> Iterator[BiRecord | ItemError]:
        cards = self.http.json("GET", "/api/card?f=all")
        for card in cards if isinstance(cards, list) else []:
            try:
                if card.get("archived"):
                    continue
                yield BiRecord(resource_type="chart", resource_id=str(card["id"]), **self._card_fields(card),
                               dashboard_url=None)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield item_error("card", exc)
            yield from self._drain_failures()
        for dash_id in self._dashboard_ids():
            if isinstance(dash_id, ItemError):
                yield dash_id
                continue
            try:
                dash = self.http.json("GET", f"/api/dashboard/{dash_id}")
                if not isinstance(dash, dict):
                    raise TypeError("the dashboard is not an object")
            except (ConnectorError, TypeError) as exc:
                yield item_error(f"dashboard {dash_id}", exc)
                continue
            for dc in dash.get("dashcards") or dash.get("ordered_cards") or []:
                try:
                    card = dc.get("card")
                    if not card or card.get("id") is None:
                        continue  # text and heading cards
                    yield BiRecord(resource_type="dashboard_chart", resource_id=f"{dash_id}:{card['id']}",
                                   dashboard_id=str(dash_id), dashboard_title=dash.get("name"),
                                   dashboard_url=f"{self.http.base_url}/dashboard/{dash_id}",
                                   **self._card_fields(card))
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    yield item_error("dashboard card", exc)
                yield from self._drain_failures()

    def _drain_failures(self) -> Iterator[ItemError]:
        yield from self._failures
        self._failures.clear()


def make(config: dict[str, Any], credentials: dict[str, Any], state: dict[str, Any]) -> MetabaseScraper:
    return MetabaseScraper(config, credentials)
