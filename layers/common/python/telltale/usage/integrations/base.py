"""What every usage integration shares: the contract (:class:`Integration`), the records it yields, an HTTP
client with retries and re-authentication, and time parsing for the formats the tools use."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from telltale.platform import netguard
from telltale.platform.errors import ConnectorError

RETRY_STATUSES = {429, 500, 502, 503, 504}


@dataclass
class BiRecord:
    """One saved query, chart or dashboard tile as the tool describes it (SQL not yet anonymized)."""

    resource_type: str
    resource_id: str
    title: str | None = None
    sql: str | None = None
    dialect: str | None = None
    default_schema: str | None = None
    # Tables the tool itself names (dataset metadata, MBQL table ids, Catalog lineage), beside any parsed SQL.
    tables: list[str] = field(default_factory=list)
    executed_by: str | None = None
    # Usage activity rule (docs/usage-analytics.md, "Activity"): executed_at is only ever a time the tool
    # says the resource was run or viewed; a definition's edit time goes to modified_at and counts no usage.
    executed_at: datetime | None = None
    modified_at: datetime | None = None
    execution_count: int = 1
    dashboard_id: str | None = None
    dashboard_title: str | None = None
    dashboard_url: str | None = None


@dataclass
class ItemError:
    """An item the tool returned that could not be read; counted as failed, the sync goes on."""

    resource: str
    message: str


class Integration(Protocol):
    """A BI tool or a warehouse's query log, as a sync reads it.

    ``collect`` yields what the source holds (BiRecords; a warehouse's are ``resource_type = query_log``)
    and an ItemError for each item it could not read. ``state`` is where an incremental run stopped: saved
    on the connector after a run that did not fail, and given back to the next run's ``make``. A BI tool is
    read whole at every sync and leaves it empty. Each module of this package has
    ``make(config, credentials, state) -> Integration``, with the config validated and its defaults filled
    in (:mod:`telltale.usage.integrations.config`)."""

    state: dict[str, Any]

    def collect(self) -> Iterator[BiRecord | ItemError]: ...


def item_error(resource: str, exc: BaseException) -> ItemError:
    if isinstance(exc, ConnectorError):
        # The tool refused or failed this one item (a 404, a 500 after retries): the sync goes on.
        return ItemError(resource, f"{resource}: {exc.message}"[:300])
    kind = type(exc).__name__
    return ItemError(resource, f"{resource}: malformed item ({kind}: {str(exc)[:200]})")


class HttpClient:
    """requests with the rules every tool needs: retries with exponential backoff (and Retry-After) on 429 and
    5xx and connection errors, and one re-login when the session expired (401)."""

    def __init__(self, base_url: str, config: dict[str, Any], *, login: Callable[[HttpClient], None] | None = None,
                 tool: str = "the BI tool") -> None:
        """``config`` is the connector's effective config (telltale.usage.integrations.config: validated,
        defaults filled in)."""
        import requests

        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        adapter = _guarded_adapter()()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json"})
        self.timeout = float(config["timeout_s"])
        self.max_retries = int(config["max_retries"])
        self.backoff = float(config["retry_backoff_s"])
        self.max_wait = float(config["max_retry_wait_s"])
        self.verify = bool(config["verify_tls"])
        self.login = login
        self.tool = tool
        self.logged_in = False
        self.retries = 0
        self.relogins = 0

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def ensure_login(self) -> None:
        if self.login is not None and not self.logged_in:
            self.login(self)
            self.logged_in = True

    def request(self, method: str, path: str, *, auth: bool = True, **kw: Any) -> Any:
        """The response (status < 400); ConnectorError when the tool keeps failing or refuses."""
        import requests

        if auth:
            self.ensure_login()
        relogged = False
        attempt = 0
        while True:
            try:
                resp = self.session.request(method, self.url(path), timeout=self.timeout, verify=self.verify, **kw)
            except netguard.Blocked as exc:
                raise ConnectorError(f"{self.tool} cannot be contacted: {exc}") from None
            except requests.RequestException as exc:
                if attempt >= self.max_retries:
                    raise ConnectorError(f"{self.tool} is unreachable: {type(exc).__name__}") from None
                self._sleep(attempt, None)
                attempt += 1
                continue
            if resp.status_code == 401 and auth and self.login is not None and not relogged:
                # The session or token expired mid-scrape: log in again once and repeat the call.
                relogged = True
                self.relogins += 1
                self.logged_in = False
                self.ensure_login()
                continue
            if resp.status_code in RETRY_STATUSES and attempt < self.max_retries:
                self._sleep(attempt, resp.headers.get("Retry-After"))
                attempt += 1
                continue
            if resp.status_code >= 400:
                raise ConnectorError(f"{self.tool} answered {resp.status_code} to {method} {path.split('?')[0]}",
                                     details={"status": resp.status_code})
            return resp

    def json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self.request(method, path, **kw)
        try:
            return resp.json()
        except ValueError:
            raise ConnectorError(f"{self.tool} did not answer JSON to {path.split('?')[0]}") from None

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        self.retries += 1
        wait = self.backoff * (2 ** attempt) * (0.5 + random.random() / 2)
        if retry_after:
            with contextlib.suppress(ValueError):
                wait = max(wait, float(retry_after))
        time.sleep(min(wait, self.max_wait))


@lru_cache(maxsize=1)
def _guarded_adapter() -> type[Any]:
    """A requests adapter whose every new connection goes only where telltale.platform.netguard allows: the host is
    resolved once, every answer checked, and the socket opened to the address that passed, so DNS cannot
    swap in a private address between the check (also made when the connector was saved) and the connect.
    Redirects and absolute URLs a tool hands back (a status URL, a token URL) pass through it too. TLS still
    verifies the certificate against the host name."""
    from requests.adapters import HTTPAdapter
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    checked, checked_tls = netguard.urllib3_connection_classes()

    class _Pool(HTTPConnectionPool):
        ConnectionCls = checked

    class _TLSPool(HTTPSConnectionPool):
        ConnectionCls = checked_tls

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}

    return GuardedAdapter


def person(*values: Any) -> str | None:
    """The first usable identity among email, username or a {first_name, last_name} record."""
    for v in values:
        if isinstance(v, dict):
            email = v.get("email") or v.get("emailAddress")
            if email:
                return str(email)
            name = " ".join(str(v[k]) for k in ("first_name", "last_name") if v.get(k))
            if name:
                return name
            if v.get("username"):
                return str(v["username"])
        elif isinstance(v, str | int) and str(v):
            return str(v)
    return None
