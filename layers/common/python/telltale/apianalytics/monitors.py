"""Uptime monitors: endpoints a key's owner registered, the scheduled checks and the uptime read API.

Only registered URLs are ever pinged, through the outbound policy (telltale.platform.netguard): a registered URL
may point at a private address only inside TELLTALE_ALLOWED_NETWORKS (empty when deployed; the local stack
allows loopback, to watch an app on this machine); redirects into private ranges are never followed
(see pinger).
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

from pydantic import BaseModel, Field, field_validator

from telltale.apianalytics import pinger, query
from telltale.apianalytics.keys import ApiKey
from telltale.platform import dates, db, netguard, scoped
from telltale.platform.config import get_settings
from telltale.platform.errors import Conflict, NotFound, ValidationError, uuid_or_404
from telltale.platform.log import logger

MAX_MONITORS_PER_KEY = 20
INTERVALS = (1, 5, 15, 30, 60, 360, 1440)
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def check_timeout() -> float:
    """A check's deadline in seconds (TELLTALE_APIANALYTICS_CHECK_TIMEOUT_S, 0.5 to 20, checked by Settings)."""
    return get_settings().apianalytics_check_timeout_s


class MonitorCreate(BaseModel):
    # The schema extras state, for the API description, what the validators below enforce.
    url: str = Field(max_length=2048, json_schema_extra={"format": "uri", "pattern": "^https?://[^/?#]+"})
    method: str = Field(default="GET", json_schema_extra={"enum": list(METHODS)})
    expected_status: int = Field(default=200, ge=100, le=599)
    interval_minutes: int = Field(default=5, json_schema_extra={"enum": list(INTERVALS)})

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        v = v.strip()
        netguard.split_url(v)  # ValueError -> a 400 naming "url"
        return v

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        if v.upper() not in METHODS:
            raise ValueError(f"must be one of {', '.join(METHODS)}")
        return v.upper()

    @field_validator("interval_minutes")
    @classmethod
    def _interval(cls, v: int) -> int:
        if v not in INTERVALS:
            raise ValueError(f"must be one of {', '.join(map(str, INTERVALS))} (minutes)")
        return v


_COLS = "id, url, method, expected_status, interval_minutes, created_at, last_checked_at"


def create(key: ApiKey, body: MonitorCreate) -> dict[str, Any]:
    _, host, port = netguard.split_url(body.url)
    try:
        netguard.outbound_address(host, port)
    except netguard.Blocked as exc:
        raise ValidationError("the monitor's URL cannot be watched", errors={"url": [str(exc)]}) from None
    scope = scoped.tenant(key.tenant_id)
    with db.transaction() as tx:
        # Serialise creations per key so the cap cannot be raced past.
        tx.run("SELECT pg_advisory_xact_lock(hashtext(:k))", k=key.id)
        count = scope.run(tx, "SELECT count(*) AS n FROM platform.api_monitors WHERE api_key_id = CAST(:k AS uuid)",
                          k=key.id)[0]["n"]
        if count >= MAX_MONITORS_PER_KEY:
            raise Conflict(f"at most {MAX_MONITORS_PER_KEY} monitors per API key; delete one first")
        rows = scope.run(
            tx, "INSERT INTO platform.api_monitors (id, api_key_id, url, method, expected_status, interval_minutes)"
                " VALUES (CAST(:id AS uuid), CAST(:k AS uuid), :url, :m, :s, :i)"
                f" ON CONFLICT (api_key_id, url, method) DO NOTHING RETURNING {_COLS}",
            id=str(uuid.uuid4()), k=key.id, url=body.url, m=body.method, s=body.expected_status,
            i=body.interval_minutes,
        )
        if not rows:
            raise Conflict(f"{body.method} {body.url} is already monitored with this key")
    return rows[0]


def list_monitors(key: ApiKey) -> list[dict[str, Any]]:
    return scoped.tenant(key.tenant_id).query(
        f"SELECT {_COLS} FROM platform.api_monitors WHERE api_key_id = CAST(:k AS uuid) ORDER BY created_at", k=key.id,
    )


def _parse_id(monitor_id: str) -> str:
    return uuid_or_404(monitor_id, f"monitor '{monitor_id}' not found")


def get(key: ApiKey, monitor_id: str) -> dict[str, Any]:
    row = scoped.tenant(key.tenant_id).query_one(
        f"SELECT {_COLS} FROM platform.api_monitors WHERE api_key_id = CAST(:k AS uuid) AND id = CAST(:id AS uuid)",
        k=key.id, id=_parse_id(monitor_id),
    )
    if row is None:
        raise NotFound(f"monitor '{monitor_id}' not found for this API key")
    return row


def delete(key: ApiKey, monitor_id: str) -> None:
    rows = scoped.tenant(key.tenant_id).query(
        "DELETE FROM platform.api_monitors WHERE api_key_id = CAST(:k AS uuid) AND id = CAST(:id AS uuid) RETURNING id",
        k=key.id, id=_parse_id(monitor_id),
    )
    if not rows:
        raise NotFound(f"monitor '{monitor_id}' not found for this API key")


def _range(q: dict[str, str], accepted: tuple[str, ...] = ("dateFrom", "dateTo"),
           default_days: int = 7) -> tuple[datetime, datetime]:
    """The [dateFrom, dateTo] range in whole UTC days (the last ``default_days`` by default), parsed as
    the data API parses it; an unknown parameter is a 400 too."""
    errors = query.unknown_params(q, accepted)
    today = datetime.now(UTC).date()
    out: dict[str, date] = {}
    for name, default in (("dateFrom", today - timedelta(days=default_days - 1)), ("dateTo", today)):
        raw = q.get(name)
        try:
            out[name] = dates.day(raw) if raw else default
        except ValueError as exc:
            errors[name] = [str(exc)]
    if not errors and out["dateFrom"] > out["dateTo"]:
        errors["dateFrom"] = ["must not be after dateTo"]
    if errors:
        raise ValidationError(f"invalid query parameters: {', '.join(sorted(errors))}", errors=errors)
    return (datetime.combine(out["dateFrom"], time(), UTC),
            datetime.combine(out["dateTo"] + timedelta(days=1), time(), UTC))


def results(key: ApiKey, monitor_id: str, q: dict[str, str]) -> list[dict[str, Any]]:
    monitor = get(key, monitor_id)
    t0, t1 = _range(q, ("dateFrom", "dateTo", "limit"))
    try:
        limit = query.whole_number(q.get("limit") or "500", 1, 10_000)
    except ValueError:
        raise ValidationError("invalid query parameters: limit",
                              errors={"limit": ["must be a whole number between 1 and 10000"]}) from None
    return scoped.tenant(key.tenant_id).query(
        "SELECT checked_at, status, response_time, up, error FROM platform.api_monitor_results"
        " WHERE monitor_id = CAST(:m AS uuid) AND checked_at >= :t0 AND checked_at < :t1"
        " ORDER BY checked_at DESC LIMIT :limit", m=str(monitor["id"]), t0=t0, t1=t1, limit=limit,
    )


def uptime(key: ApiKey, q: dict[str, str]) -> list[dict[str, Any]]:
    """Per monitor: uptime and latency over the range, and per hour (<= 2 days) or per day."""
    t0, t1 = _range(q)
    bucket = "hour" if (t1 - t0) <= timedelta(days=2) else "day"
    params = {"k": key.id, "t0": t0, "t1": t1}
    scope = scoped.tenant(key.tenant_id)
    summary = scope.query(
        "SELECT m.id, m.url, m.method, m.expected_status, m.interval_minutes, count(r.id) AS checks,"
        " coalesce(sum(CASE WHEN r.up THEN 1 ELSE 0 END), 0) AS up_checks,"
        " CASE WHEN count(r.id) = 0 THEN NULL ELSE avg(CASE WHEN r.up THEN 1.0 ELSE 0.0 END) END AS uptime,"
        " round(avg(r.response_time)) AS avg_response_time,"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY r.response_time) AS p95"
        " FROM platform.api_monitors m LEFT JOIN platform.api_monitor_results r ON r.monitor_id = m.id"
        " AND r.checked_at >= :t0 AND r.checked_at < :t1"
        " WHERE m.api_key_id = CAST(:k AS uuid) GROUP BY m.id, m.url, m.method, m.expected_status,"
        " m.interval_minutes, m.created_at ORDER BY m.created_at",
        **params,
    )
    points = scope.query(
        f"SELECT r.monitor_id, date_trunc('{bucket}', r.checked_at, 'UTC') AS t, count(*) AS checks,"
        " avg(CASE WHEN r.up THEN 1.0 ELSE 0.0 END) AS uptime, round(avg(r.response_time)) AS avg_response_time"
        " FROM platform.api_monitor_results r JOIN platform.api_monitors m ON m.id = r.monitor_id"
        " WHERE m.api_key_id = CAST(:k AS uuid) AND r.checked_at >= :t0 AND r.checked_at < :t1"
        " GROUP BY 1, 2 ORDER BY 1, 2", **params,
    )
    by_monitor: dict[str, list[dict[str, Any]]] = {}
    for p in points:
        by_monitor.setdefault(str(p.pop("monitor_id")), []).append(p)
    for s in summary:
        s["bucket"] = bucket
        s["points"] = by_monitor.get(str(s["id"]), [])
    return summary


# ---------------------------------------------------------------- the scheduled checker
# Checks are network waits, not CPU: many run at once. A run claims no more monitors than it can check
# before the Lambda's own timeout, at WORKERS checks per check_timeout().
WORKERS = 32
MAX_CLAIM = 500
# The checker claims and gives back whichever monitors are due, of every tenant; results go in by tenant.
_ALL_MONITORS = scoped.across_tenants("the uptime checker claims the due monitors of every tenant")
# Kept back from the Lambda's remaining time for the last result's write and the run's log line.
RESERVE_S = 5.0


def run_due(remaining_s: float, *, workers: int = WORKERS) -> list[dict[str, Any]]:
    """Claim the monitors that are due and that can be checked within ``remaining_s`` (the invocation's
    remaining time), check them, and record each result as soon as it is known."""
    timeout = check_timeout()
    budget = remaining_s - RESERVE_S
    # Every check ends within ``timeout`` (pinger's deadline), so ``workers`` checks per ``timeout``.
    limit = min(MAX_CLAIM, workers * int(budget // timeout))
    if limit <= 0:
        return []
    return run_checks(claim_due(limit), deadline=monotonic() + budget, timeout=timeout, workers=workers)


def claim_due(limit: int) -> list[dict[str, Any]]:
    """Monitors due for a check, marked as checked in the same statement so that overlapping runs (a
    slow run and the next schedule tick) never ping the same monitor twice. Each row keeps its previous
    ``last_checked_at`` so that a claim the run cannot honour in time can be given back (:func:`release`)."""
    # 10 seconds of slack: a 1-minute schedule fires a little early or late, and a monitor due at
    # 60 s must not wait for the following tick.
    return _ALL_MONITORS.query(
        "WITH due AS (SELECT id, last_checked_at FROM platform.api_monitors WHERE last_checked_at IS NULL"
        " OR last_checked_at <= now() - make_interval(mins => interval_minutes) + interval '10 seconds'"
        " ORDER BY last_checked_at NULLS FIRST LIMIT :limit FOR UPDATE SKIP LOCKED)"
        " UPDATE platform.api_monitors m SET last_checked_at = now() FROM due WHERE m.id = due.id"
        " RETURNING m.id, m.tenant_id, m.url, m.method, m.expected_status, due.last_checked_at AS prev_checked_at",
        limit=limit,
    )


def release(monitors: list[dict[str, Any]]) -> None:
    """Give back claims that were not checked: they are due again at the next run, not an interval later."""
    if monitors:
        _ALL_MONITORS.query(
            "UPDATE platform.api_monitors m SET last_checked_at = r.prev"
            " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id uuid, prev timestamptz) WHERE m.id = r.id",
            rows=db.jsonb([{"id": str(m["id"]), "prev": m["prev_checked_at"]} for m in monitors]),
        )


def record(row: dict[str, Any]) -> None:
    scoped.tenant(row["tenant_id"]).query(
        "INSERT INTO platform.api_monitor_results (monitor_id, status, response_time, up, error)"
        " SELECT CAST(:m AS uuid), :s, :rt, :up, :e"
        # A monitor deleted while it was being checked has nowhere to put its result.
        " WHERE EXISTS (SELECT 1 FROM platform.api_monitors WHERE id = CAST(:m AS uuid))",
        m=row["monitor_id"], s=row["status"], rt=row["response_time"], up=row["up"],
        e=row["error"],
    )


# The least time worth starting a check with: below it, the claim is given back instead.
MIN_CHECK_S = 0.5


def run_checks(monitors: list[dict[str, Any]], *, deadline: float, timeout: float | None = None,
               workers: int = WORKERS) -> list[dict[str, Any]]:
    """Check ``monitors`` in parallel, each within ``timeout`` and all before ``deadline`` (monotonic
    clock). Each result is written as soon as it is known, so one slow endpoint, or a run cut short,
    costs no other monitor its result; monitors there was no time left to check are released."""
    if not monitors:
        return []
    timeout = check_timeout() if timeout is None else timeout

    def one(m: dict[str, Any]) -> dict[str, Any] | None:
        left = deadline - monotonic()
        if left < MIN_CHECK_S:
            return None
        r = pinger.check(m["url"], m["method"], int(m["expected_status"]), timeout=min(timeout, left))
        return {"tenant_id": m["tenant_id"], "monitor_id": str(m["id"]), "status": r.status,
                "response_time": r.response_time, "up": r.up, "error": r.error}

    done: list[dict[str, Any]] = []
    unchecked: list[dict[str, Any]] = []
    # Results are written from this thread only (one database connection), in the order they finish.
    with ThreadPoolExecutor(max_workers=min(workers, len(monitors))) as pool:
        futures = {pool.submit(one, m): m for m in monitors}
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception:  # noqa: BLE001 - a bug in one check must not cost the others their results
                logger.exception("uptime check failed unexpectedly", extra={"monitor": str(futures[future]["id"])})
                row = None
            if row is None:
                unchecked.append(futures[future])
                continue
            record(row)
            done.append(row)
    release(unchecked)
    return done
