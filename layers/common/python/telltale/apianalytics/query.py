"""The data API's filters (spec 002: page, date, dateFrom, dateTo, hostname, ipAddress, status, location,
user_id; and the peer server's spellings ip and userID, and its compact=true), the raw rows, deletion,
and the dashboard's aggregates, all scoped to one key of one tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from telltale.apianalytics import enrich
from telltale.apianalytics.ingest import METHOD_RE
from telltale.apianalytics.keys import ApiKey
from telltale.apianalytics.stores.base import COLUMNS, Cursor
from telltale.platform import dates, db, scoped
from telltale.platform.errors import NotAcceptable, ValidationError

PAGE_SIZE = 50_000
# The filters the spec lists, and so the only query parameters /api/data and /api/stats accept: a
# misspelt one (statuss=200) silently ignored would return unfiltered data as if it were filtered.
# The peer's own server (tom-draper/api-analytics) spells two of them differently: both spellings work.
ALIASES = {"ip": "ipAddress", "userID": "user_id"}
# path and method narrow to one endpoint (the dashboard's drill-down); the spec's filters are the rest.
FILTER_PARAMS = ("page", "date", "dateFrom", "dateTo", "hostname", "ipAddress", "status", "location", "user_id",
                 "path", "method", *ALIASES)
# /api/data only: compact=true answers as the peer's server does, column names first, then one array a row.
# and cursor=<X-Next-Cursor of the page before>: the next page by keyset, whatever the filters.
DATA_PARAMS = (*FILTER_PARAMS, "compact", "cursor")
# 50,000 rows a page: a billion rows is far beyond any key's data, and the offset stays a bigint.
MAX_PAGE = 20_000
_LOCATION_RE = re.compile(r"^[A-Za-z]{2}\Z")


@dataclass
class Filters:
    page: int = 1
    date_from: date | None = None
    date_to: date | None = None
    hostname: str | None = None
    ip_address: str | None = None
    status: int | None = None
    location: str | None = None
    user_id: str | None = None
    path: str | None = None
    method: str | None = None
    compact: bool = False
    cursor: Cursor | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


def unknown_params(q: dict[str, str], accepted: tuple[str, ...]) -> dict[str, list[str]]:
    """An error for each query parameter not in ``accepted``, listing the accepted ones."""
    accepted_ones = f"accepted: {', '.join(accepted)}" if accepted else "this route takes none"
    return {name: [f"is not a parameter here; {accepted_ones}"] for name in q if name not in accepted}


def _date(q: dict[str, str], name: str, errors: dict[str, list[str]]) -> date | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    try:
        return dates.day(raw)
    except ValueError as exc:
        errors.setdefault(name, []).append(str(exc))
        return None


def whole_number(raw: str, lo: int, hi: int) -> int:
    """An integer written in ASCII digits (int() also takes full-width and other Unicode digits)."""
    if not re.fullmatch(r"[0-9]{1,9}", raw) or not lo <= int(raw) <= hi:
        raise ValueError
    return int(raw)


def parse_filters(q: dict[str, str] | None, accepted: tuple[str, ...] = FILTER_PARAMS) -> Filters:
    """Filters from the query string; every bad value is reported under its own parameter name."""
    q = dict(q or {})
    f = Filters()
    errors = f.errors
    errors.update(unknown_params(q, accepted))
    for alias, name in ALIASES.items():
        if q.get(alias) not in (None, ""):
            if q.get(name) not in (None, "", q[alias]):
                errors[alias] = [f"is the same filter as {name}: give one of them"]
            q[name] = q[alias]
    if "compact" in q and "compact" in accepted:
        if q["compact"] not in ("true", "false", ""):
            errors["compact"] = ["must be true or false"]
        f.compact = q["compact"] == "true"
    if q.get("cursor") and "cursor" in accepted:
        try:
            f.cursor = Cursor.decode(q["cursor"])
        except ValidationError as exc:
            errors.update(exc.errors or {})
        if q.get("page") not in (None, "", "1"):
            errors["cursor"] = ["is where the next page starts: give cursor or page, not both"]
    if q.get("page") not in (None, ""):
        try:
            f.page = whole_number(q["page"], 1, MAX_PAGE)
        except ValueError:
            errors["page"] = [f"must be a whole number from 1 to {MAX_PAGE}"]
    day = _date(q, "date", errors)
    f.date_from = _date(q, "dateFrom", errors)
    f.date_to = _date(q, "dateTo", errors)
    if day is not None:
        # date is the exact day; combined with a range it narrows it further.
        f.date_from = max(day, f.date_from) if f.date_from else day
        f.date_to = min(day, f.date_to) if f.date_to else day
    if "dateFrom" not in errors and "dateTo" not in errors and f.date_from and f.date_to \
            and f.date_from > f.date_to and day is None:
        errors["dateFrom"] = ["must not be after dateTo"]
    if q.get("hostname"):
        f.hostname = q["hostname"]
    if q.get("ipAddress"):
        f.ip_address = enrich.normal_ip(q["ipAddress"])
        if f.ip_address is None:
            errors["ipAddress"] = ["must be an IPv4 or IPv6 address"]
    if q.get("status") not in (None, ""):
        try:
            f.status = whole_number(q["status"], 100, 599)
        except ValueError:
            errors["status"] = ["must be an HTTP status code between 100 and 599"]
    if q.get("location"):
        if _LOCATION_RE.match(q["location"]):
            f.location = q["location"].upper()
        else:
            errors["location"] = ["must be a two-letter country code, e.g. GB"]
    if q.get("user_id"):
        f.user_id = q["user_id"]
    if q.get("path"):
        f.path = q["path"]
    if q.get("method"):
        f.method = q["method"].strip().upper()
        if not METHOD_RE.match(f.method):
            errors["method"] = ["must be an HTTP method such as GET or POST"]
    return f


def require_valid(f: Filters) -> Filters:
    if f.errors:
        names = ", ".join(sorted(f.errors))
        raise ValidationError(f"invalid query parameters: {names}", errors=f.errors)
    return f


def compact_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The peer server's compact form: the column names, then each row's values in that order."""
    return [list(COLUMNS), *([r[c] for c in COLUMNS] for r in rows)]


def fetch_page(key: ApiKey, f: Filters, page_size: int = PAGE_SIZE) -> tuple[list[dict[str, Any]], Cursor | None]:
    """One page of the key's rows in time order, and the cursor of the next one when this one is full."""
    from telltale.apianalytics import stores

    return stores.store_for(key.tenant_id).page(key, f, f.cursor, page_size)


# Lambda refuses a reply over 6 MB, counting the body as escaped inside the reply's own JSON (a row's
# quotes grow by a fifth): 5 MB of JSON body is the most that surely fits. A full page (~10 MB) fits only
# gzip-compressed, which the reply is when the client accepts it.
MAX_PLAIN_REPLY = 5_000_000


def require_deliverable(body_size: int, accept_encoding: str | None) -> None:
    """A 406 that says what to do, instead of the bare 502 API Gateway gives for an oversized reply."""
    if body_size > MAX_PLAIN_REPLY and "gzip" not in (accept_encoding or "").lower():
        raise NotAcceptable(
            f"this page is {body_size:,} bytes of JSON, more than a reply can carry uncompressed: send"
            " Accept-Encoding: gzip (curl --compressed; most HTTP libraries do by default)")


def delete_all(key: ApiKey) -> dict[str, int]:
    """Every logged request and monitor result of the key (the key and its monitors stay usable)."""
    from telltale.apianalytics import stores

    # A moved (or moving) tenant's rows are in both stores; the one read holds them all, so the larger count.
    n_requests = max(store.delete([key.id], key.tenant_id) for store in stores.stores_holding(key.tenant_id))
    scope = scoped.tenant(key.tenant_id)
    with db.transaction() as tx:
        scope.run(tx, "DELETE FROM platform.api_monitor_results WHERE monitor_id IN"
                      " (SELECT id FROM platform.api_monitors WHERE api_key_id = CAST(:k AS uuid))", k=key.id)
        n_results = tx.row_count
    return {"requests": n_requests, "monitor_results": max(n_results, 0)}


def stats(key: ApiKey, f: Filters) -> dict[str, Any]:
    """Everything the dashboard draws, computed in the tenant's store over the filtered rows."""
    from telltale.apianalytics import stores

    return stores.store_for(key.tenant_id).stats(key, f)
