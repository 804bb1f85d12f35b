"""The data API's filters (spec 002: page, date, dateFrom, dateTo, hostname, ipAddress, status, location,
user_id; and the peer server's spellings ip and userID, and its compact=true), the raw rows, deletion,
and the dashboard's aggregates, all scoped to one key of one tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from telltale.apianalytics import enrich
from telltale.apianalytics.ingest import METHOD_RE
from telltale.apianalytics.keys import ApiKey
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
DATA_PARAMS = (*FILTER_PARAMS, "compact")
# 50,000 rows a page: a billion rows is far beyond any key's data, and the offset stays a bigint.
MAX_PAGE = 20_000
COLUMNS = ("created_at", "hostname", "ip_address", "path", "method", "status", "response_time", "browser", "os",
           "location", "user_id", "framework")
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
    errors: dict[str, list[str]] = field(default_factory=dict)

    def where(self, key: ApiKey) -> tuple[str, dict[str, Any]]:
        """A WHERE clause (the key first, always; the tenant's scope adds the tenant) and its bound parameters."""
        parts = ["api_key_id = CAST(:key AS uuid)"]
        params: dict[str, Any] = {"key": key.id}
        # Whole UTC days, as half-open ranges so the (key, created_at) index is used.
        if self.date_from:
            parts.append("created_at >= :t0")
            params["t0"] = datetime.combine(self.date_from, time(), UTC)
        if self.date_to:
            parts.append("created_at < :t1")
            params["t1"] = datetime.combine(self.date_to + timedelta(days=1), time(), UTC)
        for name, value in (("hostname", self.hostname), ("ip_address", self.ip_address),
                            ("status", self.status), ("location", self.location), ("user_id", self.user_id),
                            ("path", self.path), ("method", self.method)):
            if value is not None:
                parts.append(f"{name} = :{name}")
                params[name] = value
        return " AND ".join(parts), params


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


def fetch_page(key: ApiKey, f: Filters, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
    where, params = f.where(key)
    return scoped.tenant(key.tenant_id).query(
        f"SELECT {', '.join(COLUMNS)} FROM platform.api_requests WHERE {where}"
        " ORDER BY created_at, id LIMIT :limit OFFSET :offset",
        **params, limit=page_size, offset=(f.page - 1) * page_size,
    )


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
    scope = scoped.tenant(key.tenant_id)
    with db.transaction() as tx:
        scope.run(tx, "DELETE FROM platform.api_requests WHERE api_key_id = CAST(:k AS uuid)", k=key.id)
        n_requests = tx.row_count
        scope.run(tx, "DELETE FROM platform.api_monitor_results WHERE monitor_id IN"
                      " (SELECT id FROM platform.api_monitors WHERE api_key_id = CAST(:k AS uuid))", k=key.id)
        n_results = tx.row_count
    return {"requests": max(n_requests, 0), "monitor_results": max(n_results, 0)}


def _group(scope: scoped.Scope, where: str, params: dict[str, Any], expr: str,
           limit: int = 10) -> list[dict[str, Any]]:
    return scope.query(
        f"SELECT {expr} AS name, count(*) AS requests FROM platform.api_requests WHERE {where}"
        f" GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(limit)}", **params,
    )


def stats(key: ApiKey, f: Filters) -> dict[str, Any]:
    """Everything the dashboard draws, computed in the database over the filtered rows."""
    where, params = f.where(key)
    scope = scoped.tenant(key.tenant_id)
    totals = scope.query_one(
        "SELECT count(*) AS requests,"
        " coalesce(avg(CASE WHEN status < 400 THEN 1.0 ELSE 0.0 END), 0) AS success_rate,"
        " count(DISTINCT coalesce(user_id, ip_address)) AS users,"
        " coalesce(round(avg(response_time)), 0) AS avg_response_time,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY response_time) AS p50,"
        " percentile_cont(0.9) WITHIN GROUP (ORDER BY response_time) AS p90,"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time) AS p95,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time) AS p99,"
        " min(created_at) AS first, max(created_at) AS last"
        f" FROM platform.api_requests WHERE {where}", **params,
    ) or {}
    span = None
    if f.date_from and f.date_to:
        span = (f.date_to - f.date_from).days + 1
    elif totals.get("first") and totals.get("last"):
        span = (totals["last"] - totals["first"]).days + 1
    bucket = "hour" if span is not None and span <= 2 else "day"
    timeline = scope.query(
        f"SELECT date_trunc('{bucket}', created_at, 'UTC') AS t, count(*) AS requests,"
        " sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,"
        " round(avg(response_time)) AS avg_response_time,"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time) AS p95"
        f" FROM platform.api_requests WHERE {where} GROUP BY 1 ORDER BY 1", **params,
    )
    endpoints = scope.query(
        "SELECT method, path, count(*) AS requests, round(avg(response_time)) AS avg_response_time,"
        " avg(CASE WHEN status < 400 THEN 1.0 ELSE 0.0 END) AS success_rate"
        f" FROM platform.api_requests WHERE {where} GROUP BY 1, 2 ORDER BY 3 DESC, 2, 1 LIMIT 10", **params,
    )
    status_codes = scope.query(
        f"SELECT status, count(*) AS requests FROM platform.api_requests WHERE {where} GROUP BY 1 ORDER BY 1",
        **params,
    )
    # The hostname choices ignore the hostname filter, so the dashboard can switch between them.
    host_filter = Filters(date_from=f.date_from, date_to=f.date_to)
    hwhere, hparams = host_filter.where(key)
    hostnames = [r["name"] for r in _group(scope, hwhere, hparams, "hostname", limit=100) if r["name"]]
    return {
        "totals": {k: v for k, v in totals.items() if k not in ("first", "last")},
        "first": totals.get("first"),
        "last": totals.get("last"),
        "timeline": {"bucket": bucket, "points": timeline},
        "endpoints": endpoints,
        "status_codes": status_codes,
        "locations": _group(scope, where, params, "location"),
        "browsers": _group(scope, where, params, "browser"),
        "os": _group(scope, where, params, "os"),
        "users": _group(scope, where, params, "coalesce(user_id, ip_address)"),
        "hostnames": hostnames,
        **activity_stats(scope, where, params),
    }


# Response-time buckets (ms) of the distribution: [lower, upper) each, the last open-ended.
RESPONSE_BUCKETS = (0, 50, 100, 250, 500, 1000, 2500)
# Device types from the parsed OS (the user agent itself is not stored).
_DEVICE = ("CASE WHEN os IN ('iOS', 'Android', 'iPadOS', 'Windows Phone', 'BlackBerry OS') THEN 'mobile'"
           " WHEN os IN ('Windows', 'Mac OS X', 'Linux', 'Ubuntu', 'Chrome OS', 'Fedora', 'FreeBSD', 'macOS')"
           " THEN 'desktop' WHEN browser IS NULL AND os IS NULL THEN 'unknown' ELSE 'other' END")


def activity_stats(scope: scoped.Scope, where: str, params: dict[str, Any]) -> dict[str, Any]:
    """What the peer's dashboard draws beyond the totals: requests by day of week (ISO, 1 = Monday) and
    hour of day (UTC), the response-time distribution, device types and API versions (a ``/v1/`` path
    prefix), each over the filtered rows."""
    activity = scope.query(
        "SELECT CAST(extract(isodow FROM created_at AT TIME ZONE 'UTC') AS integer) AS weekday,"
        " CAST(extract(hour FROM created_at AT TIME ZONE 'UTC') AS integer) AS hour, count(*) AS requests"
        f" FROM platform.api_requests WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2", **params,
    )
    edges = ", ".join(str(e) for e in RESPONSE_BUCKETS[1:])
    buckets = scope.query(
        f"SELECT width_bucket(response_time, ARRAY[{edges}]) AS bucket, count(*) AS requests"
        f" FROM platform.api_requests WHERE {where} GROUP BY 1 ORDER BY 1", **params,
    )
    counts = {int(b["bucket"]): int(b["requests"]) for b in buckets}
    distribution = [{"from_ms": lo, "to_ms": RESPONSE_BUCKETS[i + 1] if i + 1 < len(RESPONSE_BUCKETS) else None,
                     "requests": counts.get(i, 0)} for i, lo in enumerate(RESPONSE_BUCKETS)]
    return {
        "activity": activity,
        "response_times": distribution,
        "devices": _group(scope, where, params, _DEVICE),
        "versions": _group(scope, f"{where} AND path ~ '^/v[0-9]+(/|$)'", params,
                           "substring(path FROM '^/(v[0-9]+)(/|$)')"),
    }
