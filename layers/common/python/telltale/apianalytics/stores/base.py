"""The request log's store port, and the queries both adapters run, written once.

A store holds two tables: the raw rows (``api_requests``) and hourly rollups (``api_request_rollups``: per
key, UTC hour and combination of hostname, method, path, status, location, browser and OS, the request and
error counts, the response-time sum and a response-time histogram). PostgreSQL keeps the rollups in the
transaction that inserts the rows; ClickHouse by a materialized view on the insert.

Every count the dashboard draws reads the rollups when the filters are ones the rollups carry (all but
``ipAddress`` and ``user_id``), so its cost grows with hours and distinct endpoints, not with requests;
percentiles (computed in the database: ``percentile_cont`` / ``quantileExactInclusive``, the same
interpolation) and distinct users read the rows. The same statements run on both stores through a
:class:`Dialect`, and the results are the same: integer arithmetic for averages (rounded half up), the same
double division for rates, byte order for names.

Pages are read by keyset on ``(created_at, id)``: from a cursor, one index range wherever it starts. A page
number is turned into the row it starts at through the rollups' counts per hour (then an offset inside one
hour), so page 20,000 costs what page 1 does; with a filter the rollups lack, through an offset over the
filtered rows (a cursor is the cheap way there).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from telltale.platform.errors import ValidationError

if TYPE_CHECKING:
    from telltale.apianalytics.keys import ApiKey
    from telltale.apianalytics.query import Filters

# The columns of a row, as /api/data returns them.
COLUMNS = ("created_at", "hostname", "ip_address", "path", "method", "status", "response_time", "browser", "os",
           "location", "user_id", "framework")
# Response-time buckets (ms) of the distribution: [lower, upper) each, the last open-ended. The rollups
# store one count per bucket (rt_b0 .. rt_b6): changing these needs a migration of both stores.
RESPONSE_BUCKETS = (0, 50, 100, 250, 500, 1000, 2500)
# The dimensions a rollup row is keyed by (and so the filters the rollups can answer).
ROLLUP_DIMENSIONS = ("hostname", "method", "path", "status", "location", "browser", "os")
# The filters of telltale.apianalytics.query.Filters, by column, with the type a ClickHouse parameter has.
TIME = "DateTime64(6, 'UTC')"  # the ClickHouse type of a time parameter
FILTER_COLUMNS = {"hostname": "String", "ip_address": "String", "status": "UInt16", "location": "String",
                  "user_id": "String", "path": "String", "method": "String"}

Run = Callable[[str, dict[str, Any]], list[dict[str, Any]]]
# A page's rows, and where the next page starts when this one is full.
Page = tuple[list[dict[str, Any]], "Cursor | None"]


class RequestStore(Protocol):
    """Where one tenant's request log lives."""

    def insert(self, key: ApiKey, rows: list[dict[str, Any]]) -> int:
        """Store rows (``telltale.apianalytics.ingest.rows_of``), all or none."""
        ...

    def page(self, key: ApiKey, f: Filters, cursor: Cursor | None, size: int) -> Page:
        """One page: from ``cursor``, or else page ``f.page``; and the cursor after it when it is full."""
        ...

    def stats(self, key: ApiKey, f: Filters) -> dict[str, Any]:
        ...

    def delete(self, key_ids: list[str], tenant_id: str) -> int:
        """Every row and rollup of these keys of the tenant; how many rows."""
        ...


# The instants a cursor may name: inside ClickHouse's DateTime64 (1900-2299), with room either side of
# the log's own range (a row is at most 366 days old and a day ahead).
CURSOR_TIMES = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or at, for a page number's first row) ``(created_at, id)``."""

    created_at: datetime
    id: int
    inclusive: bool = False

    def encode(self) -> str:
        raw = json.dumps([self.created_at.astimezone(UTC).isoformat(), str(self.id)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            at, ident = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            created = datetime.fromisoformat(at)
            # Cursors are not signed: a forged one must be a 400 on both stores, so its values are held to
            # what both can bind (ClickHouse's UInt128 and DateTime64 have ranges; int() reads any
            # Unicode digit), which every real cursor is inside (rows are at most a year old).
            if created.tzinfo is None or not CURSOR_TIMES[0] <= created < CURSOR_TIMES[1] \
                    or not re.fullmatch(r"[0-9]{1,39}", ident) or int(ident) >= 2**128:
                raise ValueError
            return cls(created, int(ident))
        except (ValueError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError):
            raise ValidationError("invalid query parameters: cursor", errors={"cursor": [
                "is not a cursor this API gave: send the X-Next-Cursor of the page before, unchanged"]}) from None


@dataclass(frozen=True)
class Source:
    """What the dashboard's counts are read from: the raw rows, or the rollups (same names, summed)."""

    table: str
    time: str
    requests: str
    errors: str
    response_time_sum: str
    buckets: tuple[str, ...]
    dims: dict[str, str]  # dimension -> expression (ClickHouse stores '' for NULL in rollups)


class Dialect:
    """What differs between the stores' SQL; the statements themselves are in :class:`Queries`."""

    raw_table: str
    rollup_table: str

    def param(self, name: str, kind: str) -> str:
        """A bound parameter of a ClickHouse type (``String``, ``UInt16``, ``DateTime64(6, 'UTC')`` ...)."""
        raise NotImplementedError

    def scope(self, key: ApiKey) -> tuple[list[str], dict[str, Any]]:
        """The predicates every statement starts with."""
        raise NotImplementedError

    def time_value(self, t: datetime) -> Any:
        return t

    def id_value(self, ident: int) -> Any:
        """A cursor's id as this store binds it."""
        return ident

    def trunc(self, unit: str, column: str) -> str:
        raise NotImplementedError

    def weekday(self, column: str) -> str:
        raise NotImplementedError

    def hour_of_day(self, column: str) -> str:
        raise NotImplementedError

    def percentile(self, q: float, column: str) -> str:
        raise NotImplementedError

    def int_div(self, a: str, b: str) -> str:
        raise NotImplementedError

    def to_float(self, x: str) -> str:
        raise NotImplementedError

    def count_if(self, condition: str) -> str:
        raise NotImplementedError

    def matches(self, column: str, pattern: str) -> str:
        raise NotImplementedError

    def first_group(self, column: str, pattern: str) -> str:
        raise NotImplementedError

    def byte_order(self, column: str) -> str:
        return column

    def rollup_dim(self, name: str) -> str:
        return name

    def raw(self) -> Source:
        buckets = tuple(
            self.count_if(f"response_time >= {lo}" + (f" AND response_time < {RESPONSE_BUCKETS[i + 1]}"
                                                      if i + 1 < len(RESPONSE_BUCKETS) else ""))
            for i, lo in enumerate(RESPONSE_BUCKETS))
        return Source(self.raw_table, "created_at", "count(*)", self.count_if("status >= 400"),
                      "sum(response_time)", buckets, {d: d for d in ROLLUP_DIMENSIONS})

    def rollup(self) -> Source:
        return Source(self.rollup_table, "hour", "sum(requests)", "sum(errors)", "sum(response_time_sum)",
                      tuple(f"sum(rt_b{i})" for i in range(len(RESPONSE_BUCKETS))),
                      {d: self.rollup_dim(d) for d in ROLLUP_DIMENSIONS})


# Result names that are not column names: ClickHouse resolves an alias in WHERE and inside the aggregate
# (``sum(requests) AS requests`` would sum itself), so statements name results apart and rows are renamed.
_RESULT_NAMES = {"n": "requests", "n_errors": "errors", "hour_of_day": "hour"}


def _milliseconds(value: Any) -> float | None:
    """A percentile to the thousandth of a millisecond (response times are whole milliseconds).

    Both stores interpolate alike, but in different float operations, so the last bits differ
    (6724.999999999991 against 6725.000000000037): rounding gives the same number from both."""
    return None if value is None else round(float(value), 3)


def _renamed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{_RESULT_NAMES.get(k, k): v for k, v in r.items()} for r in rows]


class Budget:
    """The time one call may spend in its store, across all its statements (``apianalytics_query_budget_s``):
    each statement gets what is left as its own timeout, and none starts once it is spent."""

    def __init__(self) -> None:
        import time

        from telltale.platform.config import get_settings

        self._clock = time.monotonic
        self.deadline = self._clock() + get_settings().apianalytics_query_budget_s

    def left_s(self) -> float:
        """Seconds left; a 503 saying what to narrow when there are none."""
        left = self.deadline - self._clock()
        if left <= 0:
            raise too_slow()
        return left


def too_slow() -> Exception:
    from telltale.platform.config import get_settings
    from telltale.platform.errors import ServiceUnavailable

    return ServiceUnavailable(
        f"the request log took longer than {get_settings().apianalytics_query_budget_s:g} s to answer: narrow the"
        " date range (dateFrom, dateTo) or add filters; a key logging millions of requests belongs on the"
        " ClickHouse store")


def rollups_answer(f: Filters) -> bool:
    """Whether the rollups carry every filter of ``f``."""
    return f.ip_address is None and f.user_id is None


class Queries:
    """The data API's and the dashboard's statements over one store (``run`` executes one)."""

    def __init__(self, dialect: Dialect, run: Run) -> None:
        self.d, self.run = dialect, run

    # -- filters ---------------------------------------------------------------------------------------

    def where(self, key: ApiKey, f: Filters, source: Source, *, filtered: bool = True) -> tuple[str, dict[str, Any]]:
        """The scope (tenant and key), the whole UTC days of the date range as a half-open range (so the
        time index is used), and, if ``filtered``, the other filters."""
        parts, params = self.d.scope(key)
        if f.date_from:
            parts.append(f"{source.time} >= {self.d.param('t0', TIME)}")
            params["t0"] = self.d.time_value(datetime.combine(f.date_from, time(), UTC))
        if f.date_to:
            parts.append(f"{source.time} < {self.d.param('t1', TIME)}")
            params["t1"] = self.d.time_value(datetime.combine(f.date_to + timedelta(days=1), time(), UTC))
        if filtered:
            for column, kind in FILTER_COLUMNS.items():
                value = getattr(f, column)
                if value is not None:
                    parts.append(f"{column} = {self.d.param(column, kind)}")  # a value, never NULL or ''"
                    params[column] = value
        return " AND ".join(parts), params

    # -- the data API ----------------------------------------------------------------------------------

    def page(self, key: ApiKey, f: Filters, cursor: Cursor | None, size: int) -> Page:
        raw = self.d.raw()
        where, params = self.where(key, f, raw)
        offset = 0
        if cursor is None and f.page > 1:
            start = self.page_start(key, f, (f.page - 1) * size)
            if start is None:
                return [], None
            cursor, offset = start
        if cursor is not None:
            t, i = self.d.param("ct", TIME), self.d.param("ci", "UInt128")
            where += f" AND created_at >= {t} AND (created_at > {t} OR id {'>=' if cursor.inclusive else '>'} {i})"
            params.update(ct=self.d.time_value(cursor.created_at), ci=self.d.id_value(cursor.id))
        rows = self.run(
            f"SELECT {', '.join(COLUMNS)}, id FROM {raw.table} WHERE {where} ORDER BY created_at, id"
            f" LIMIT {int(size)}" + (f" OFFSET {int(offset)}" if offset else ""), params)
        after = Cursor(rows[-1]["created_at"], int(rows[-1]["id"])) if len(rows) == size else None
        for r in rows:
            del r["id"]
        return rows, after

    def page_start(self, key: ApiKey, f: Filters, skip: int) -> tuple[Cursor | None, int] | None:
        """Where the page after ``skip`` rows starts: its first row (and no offset), or, where the rollups
        cannot say, no cursor and the offset. None: past the end."""
        if not rollups_answer(f):
            return None, skip
        rollup = self.d.rollup()
        where, params = self.where(key, f, rollup)
        hours = self.run(f"SELECT hour AS h, {rollup.requests} AS n FROM {rollup.table} WHERE {where}"
                         " GROUP BY hour ORDER BY h", params)
        seen = 0
        for h in hours:
            n = int(h["n"])
            if seen + n > skip:
                raw = self.d.raw()
                where, params = self.where(key, f, raw)
                h0, h1 = self.d.param("h0", TIME), self.d.param("h1", TIME)
                params.update(h0=self.d.time_value(h["h"]), h1=self.d.time_value(h["h"] + timedelta(hours=1)))
                first = self.run(f"SELECT created_at, id FROM {raw.table} WHERE {where} AND created_at >= {h0}"
                                 f" AND created_at < {h1} ORDER BY created_at, id LIMIT 1 OFFSET {int(skip - seen)}",
                                 params)
                return (Cursor(first[0]["created_at"], int(first[0]["id"]), inclusive=True), 0) if first else None
            seen += n
        return None

    # -- the dashboard ---------------------------------------------------------------------------------

    def _rate(self, source: Source) -> str:
        n = source.requests
        return f"coalesce({self.d.to_float(f'{n} - {source.errors}')} / nullif({n}, 0), 0)"

    def _avg(self, source: Source) -> str:
        """The mean response time rounded half up, in integers (the same on both stores)."""
        n = source.requests
        return f"coalesce({self.d.int_div(f'2 * {source.response_time_sum} + {n}', f'nullif(2 * {n}, 0)')}, 0)"

    def _group(self, source: Source, where: str, params: dict[str, Any], expr: str,
               limit: int = 10) -> list[dict[str, Any]]:
        return _renamed(self.run(
            f"SELECT {expr} AS name, {source.requests} AS n FROM {source.table} WHERE {where}"
            f" GROUP BY {expr} ORDER BY n DESC, {self.d.byte_order(expr)} LIMIT {int(limit)}", params))

    def stats(self, key: ApiKey, f: Filters) -> dict[str, Any]:
        d = self.d
        raw = d.raw()
        source = d.rollup() if rollups_answer(f) else raw
        where, params = self.where(key, f, source)
        rwhere, rparams = self.where(key, f, raw)
        counted = self.run(f"SELECT {source.requests} AS n, {self._rate(source)} AS success_rate,"
                           f" {self._avg(source)} AS avg_response_time FROM {source.table} WHERE {where}", params)[0]
        n = int(counted["n"] or 0)
        exact: dict[str, Any] = {"users": 0, "p50": None, "p90": None, "p95": None, "p99": None,
                                 "first": None, "last": None}
        if n:
            exact = self.run(
                "SELECT count(DISTINCT coalesce(user_id, ip_address)) AS users, "
                + ", ".join(f"{d.percentile(q / 100, 'response_time')} AS p{q}" for q in (50, 90, 95, 99))
                + f", min(created_at) AS first, max(created_at) AS last FROM {raw.table} WHERE {rwhere}", rparams)[0]
        span = None
        if f.date_from and f.date_to:
            span = (f.date_to - f.date_from).days + 1
        elif exact["first"] and exact["last"]:
            span = (exact["last"] - exact["first"]).days + 1
        bucket = "hour" if span is not None and span <= 2 else "day"
        trunc = d.trunc(bucket, source.time)
        points = _renamed(self.run(
            f"SELECT {trunc} AS t, {source.requests} AS n, {source.errors} AS n_errors,"
            f" {self._avg(source)} AS avg_response_time FROM {source.table} WHERE {where} GROUP BY {trunc}"
            " ORDER BY t", params)) if n else []
        raw_trunc = d.trunc(bucket, "created_at")
        p95 = {r["t"]: _milliseconds(r["p95"]) for r in self.run(
            f"SELECT {raw_trunc} AS t, {d.percentile(0.95, 'response_time')} AS p95"
            f" FROM {raw.table} WHERE {rwhere} GROUP BY {raw_trunc}", rparams)} if n else {}
        endpoints = _renamed(self.run(
            f"SELECT method, path, {source.requests} AS n, {self._avg(source)} AS avg_response_time,"
            f" {self._rate(source)} AS success_rate FROM {source.table} WHERE {where} GROUP BY method, path"
            f" ORDER BY n DESC, {d.byte_order('path')}, {d.byte_order('method')} LIMIT 10", params))
        status_codes = _renamed(self.run(f"SELECT status, {source.requests} AS n FROM {source.table}"
                                         f" WHERE {where} GROUP BY status ORDER BY status", params))
        # The hostname choices ignore the other filters, so the dashboard can switch between them.
        rollup = d.rollup()
        hwhere, hparams = self.where(key, f, rollup, filtered=False)
        hostnames = [r["name"] for r in self._group(rollup, hwhere, hparams, rollup.dims["hostname"], limit=100)
                     if r["name"]]
        return {
            "totals": {"requests": n, "success_rate": counted["success_rate"],
                       "users": int(exact["users"]), "avg_response_time": counted["avg_response_time"],
                       **{f"p{q}": _milliseconds(exact[f"p{q}"]) for q in (50, 90, 95, 99)}},
            "first": exact["first"],
            "last": exact["last"],
            "timeline": {"bucket": bucket, "points": [{**p, "p95": p95.get(p["t"])} for p in points]},
            "endpoints": endpoints,
            "status_codes": status_codes,
            "locations": self._group(source, where, params, source.dims["location"]),
            "browsers": self._group(source, where, params, source.dims["browser"]),
            "os": self._group(source, where, params, source.dims["os"]),
            "users": self._group(raw, rwhere, rparams, "coalesce(user_id, ip_address)"),
            "hostnames": hostnames,
            **self._activity(source, where, params),
        }

    def _activity(self, source: Source, where: str, params: dict[str, Any]) -> dict[str, Any]:
        """What the peer's dashboard draws beyond the totals: requests by day of week (ISO, 1 = Monday) and
        hour of day (UTC), the response-time distribution, device types and API versions (a ``/v1/`` path
        prefix)."""
        d = self.d
        weekday, hour = d.weekday(source.time), d.hour_of_day(source.time)
        activity = _renamed(self.run(
            f"SELECT {weekday} AS weekday, {hour} AS hour_of_day, {source.requests} AS n FROM {source.table}"
            f" WHERE {where} GROUP BY {weekday}, {hour} ORDER BY weekday, hour_of_day", params))
        counts = self.run(f"SELECT {', '.join(f'{b} AS b{i}' for i, b in enumerate(source.buckets))}"
                          f" FROM {source.table} WHERE {where}", params)[0]
        distribution = [{"from_ms": lo, "to_ms": RESPONSE_BUCKETS[i + 1] if i + 1 < len(RESPONSE_BUCKETS) else None,
                         "requests": int(counts[f"b{i}"] or 0)} for i, lo in enumerate(RESPONSE_BUCKETS)]
        os_, browser, path = source.dims["os"], source.dims["browser"], source.dims["path"]
        device = (f"CASE WHEN {os_} IN ('iOS', 'Android', 'iPadOS', 'Windows Phone', 'BlackBerry OS') THEN 'mobile'"
                  f" WHEN {os_} IN ('Windows', 'Mac OS X', 'Linux', 'Ubuntu', 'Chrome OS', 'Fedora', 'FreeBSD',"
                  f" 'macOS') THEN 'desktop' WHEN {browser} IS NULL AND {os_} IS NULL THEN 'unknown'"
                  " ELSE 'other' END")
        return {
            "activity": activity,
            "response_times": distribution,
            "devices": self._group(source, where, params, device),
            "versions": self._group(source, f"{where} AND {d.matches(path, '^/v[0-9]+(/|$)')}", params,
                                    d.first_group(path, "^/(v[0-9]+)(/|$)")),
        }
