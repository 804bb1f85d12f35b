"""The data API's filters (spec 002: page, date, dateFrom, dateTo, hostname, ipAddress, status, location,
user_id), the raw rows, deletion, and the dashboard's aggregates, all scoped to one key of one tenant."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from telltale import db
from telltale.apianalytics import enrich
from telltale.apianalytics.keys import ApiKey
from telltale.errors import ValidationError

PAGE_SIZE = 50_000
COLUMNS = ("created_at", "hostname", "ip_address", "path", "method", "status", "response_time", "user_agent",
           "browser", "os", "location", "user_id", "framework")
_LOCATION_RE = re.compile(r"^[A-Za-z]{2}$")


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
    errors: dict[str, list[str]] = field(default_factory=dict)

    def where(self, key: ApiKey) -> tuple[str, dict[str, Any]]:
        """A WHERE clause (tenant and key first, always) and its bound parameters."""
        parts = ["tenant_id = :tenant", "api_key_id = CAST(:key AS uuid)"]
        params: dict[str, Any] = {"tenant": key.tenant_id, "key": key.id}
        # Whole UTC days, as half-open ranges so the (key, created_at) index is used.
        if self.date_from:
            parts.append("created_at >= :t0")
            params["t0"] = datetime.combine(self.date_from, time(), UTC)
        if self.date_to:
            parts.append("created_at < :t1")
            params["t1"] = datetime.combine(self.date_to + timedelta(days=1), time(), UTC)
        for name, value in (("hostname", self.hostname), ("ip_address", self.ip_address),
                            ("status", self.status), ("location", self.location), ("user_id", self.user_id)):
            if value is not None:
                parts.append(f"{name} = :{name}")
                params[name] = value
        return " AND ".join(parts), params


def _date(q: dict[str, str], name: str, errors: dict[str, list[str]]) -> date | None:
    raw = q.get(name)
    if raw is None or raw == "":
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        errors.setdefault(name, []).append("must be a date as YYYY-MM-DD")
        return None


def parse_filters(q: dict[str, str] | None) -> Filters:
    """Filters from the query string; every bad value is reported under its own parameter name."""
    q = q or {}
    f = Filters()
    errors = f.errors
    if q.get("page") not in (None, ""):
        try:
            f.page = int(q["page"])
            if f.page < 1:
                raise ValueError
        except ValueError:
            errors["page"] = ["must be a whole number, 1 or more"]
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
            f.status = int(q["status"])
            if not 100 <= f.status <= 599:
                raise ValueError
        except ValueError:
            errors["status"] = ["must be an HTTP status code between 100 and 599"]
    if q.get("location"):
        if _LOCATION_RE.match(q["location"]):
            f.location = q["location"].upper()
        else:
            errors["location"] = ["must be a two-letter country code, e.g. GB"]
    if q.get("user_id"):
        f.user_id = q["user_id"]
    return f


def require_valid(f: Filters) -> Filters:
    if f.errors:
        names = ", ".join(sorted(f.errors))
        raise ValidationError(f"invalid query parameters: {names}", errors=f.errors)
    return f


def fetch_page(key: ApiKey, f: Filters, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
    where, params = f.where(key)
    return db.query(
        f"SELECT {', '.join(COLUMNS)} FROM platform.api_requests WHERE {where}"
        " ORDER BY created_at, id LIMIT :limit OFFSET :offset",
        **params, limit=page_size, offset=(f.page - 1) * page_size,
    )


def delete_all(key: ApiKey) -> dict[str, int]:
    """Every logged request and monitor result of the key (the key and its monitors stay usable)."""
    with db.transaction() as tx:
        tx.run("DELETE FROM platform.api_requests WHERE tenant_id = :t AND api_key_id = CAST(:k AS uuid)",
                          t=key.tenant_id, k=key.id)
        n_requests = tx.row_count
        tx.run("DELETE FROM platform.api_monitor_results WHERE tenant_id = :t AND monitor_id IN"
               " (SELECT id FROM platform.api_monitors WHERE tenant_id = :t AND api_key_id = CAST(:k AS uuid))",
               t=key.tenant_id, k=key.id)
        n_results = tx.row_count
    return {"requests": max(n_requests, 0), "monitor_results": max(n_results, 0)}


def _group(where: str, params: dict[str, Any], expr: str, limit: int = 10) -> list[dict[str, Any]]:
    return db.query(
        f"SELECT {expr} AS name, count(*) AS requests FROM platform.api_requests WHERE {where}"
        f" GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(limit)}", **params,
    )


def stats(key: ApiKey, f: Filters) -> dict[str, Any]:
    """Everything the dashboard draws, computed in the database over the filtered rows."""
    where, params = f.where(key)
    totals = db.query_one(
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
    timeline = db.query(
        f"SELECT date_trunc('{bucket}', created_at, 'UTC') AS t, count(*) AS requests,"
        " sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,"
        " round(avg(response_time)) AS avg_response_time,"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time) AS p95"
        f" FROM platform.api_requests WHERE {where} GROUP BY 1 ORDER BY 1", **params,
    )
    endpoints = db.query(
        "SELECT method, path, count(*) AS requests, round(avg(response_time)) AS avg_response_time,"
        " avg(CASE WHEN status < 400 THEN 1.0 ELSE 0.0 END) AS success_rate"
        f" FROM platform.api_requests WHERE {where} GROUP BY 1, 2 ORDER BY 3 DESC, 2, 1 LIMIT 10", **params,
    )
    status_codes = db.query(
        f"SELECT status, count(*) AS requests FROM platform.api_requests WHERE {where} GROUP BY 1 ORDER BY 1",
        **params,
    )
    # The hostname choices ignore the hostname filter, so the dashboard can switch between them.
    host_filter = Filters(date_from=f.date_from, date_to=f.date_to)
    hwhere, hparams = host_filter.where(key)
    hostnames = [r["name"] for r in _group(hwhere, hparams, "hostname", limit=100) if r["name"]]
    return {
        "totals": {k: v for k, v in totals.items() if k not in ("first", "last")},
        "first": totals.get("first"),
        "last": totals.get("last"),
        "timeline": {"bucket": bucket, "points": timeline},
        "endpoints": endpoints,
        "status_codes": status_codes,
        "locations": _group(where, params, "location"),
        "browsers": _group(where, params, "browser"),
        "os": _group(where, params, "os"),
        "users": _group(where, params, "coalesce(user_id, ip_address)"),
        "hostnames": hostnames,
    }
