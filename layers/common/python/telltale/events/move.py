"""Moving a tenant's events from PostgreSQL to ClickHouse (`telltale events move-tenant`), online.

1. The tenant is marked ``moving`` (``events.tenant_stores``): from then on every new event is written to
   both stores (PostgreSQL first, still the one read). The move waits ``event_store_cache_s`` so that
   every process has seen the mark.
2. The history is copied day by day, and each day verified: ClickHouse must count at least PostgreSQL's
   events of the day (more only once events go to ClickHouse alone, after the switch). A day already
   there is skipped, so a move that stopped (a crash, Ctrl-C) resumes where it was; the copy goes through
   the ClickHouse store's own write, which drops what ClickHouse already has by id, so copying a day
   twice, or an event the dual write brought, stores nothing twice.
3. Reads switch: the tenant is marked ``clickhouse``, and its new events go to ClickHouse alone. A process
   that has not yet seen the switch still writes to both stores (every process saw ``moving`` before the
   copy began), so nothing is written to PostgreSQL alone; the move waits the cache time and verifies
   every day once more.

PostgreSQL keeps the tenant's events (nothing is deleted): a move is undone by deleting its row from
``events.tenant_stores``; events written to ClickHouse alone since are then PostgreSQL's to catch up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from telltale.events.models import Event
from telltale.platform import db, scoped
from telltale.platform.config import get_settings
from telltale.platform.errors import ValidationError

BATCH = 5000
STORES = ("clickhouse",)


class Copy(Protocol):
    """Another of the tenant's data that moves with its events, at the same steps (the API request log:
    telltale.apianalytics.move): copied while the tenant is ``moving``, again after the switch, verified."""

    what: str

    def copy_short_days(self, tenant_id: str, say: Callable[[str], None]) -> int: ...

    def short_days(self, tenant_id: str) -> list[date]: ...

    def totals(self, tenant_id: str) -> dict[str, int]: ...


def move_tenant(tenant_id: str, to: str = "clickhouse", *, say: Callable[[str], None] = print,
                also: Sequence[Copy] = ()) -> dict[str, Any]:
    """Move ``tenant_id``'s events (and ``also``) to ``to``; what it did: days copied and rows per store."""
    from telltale.events import stores

    if to not in STORES:
        raise ValidationError(f"a tenant can be moved to {', '.join(STORES)}", errors={"to": [f"not {to!r}"]})
    settings = get_settings()
    if settings.event_store == "clickhouse" or tenant_id in {t.strip() for t in settings.clickhouse_tenants.split(",")}:
        raise ValidationError(f"{tenant_id}'s events are in ClickHouse by the settings (TELLTALE_EVENT_STORE,"
                              " TELLTALE_CLICKHOUSE_TENANTS): there is nothing in PostgreSQL to move",
                              errors={"tenant": ["already on ClickHouse"]})
    if stores.uses_clickhouse(tenant_id):
        say(f"{tenant_id}: moved already; verifying")
    scope = scoped.tenant(tenant_id)
    state = scope.query_one("SELECT state FROM events.tenant_stores")
    if state is None or state["state"] == "moving":
        _place(tenant_id, "moving")
        _wait_for_every_process(say, "every process writes to both stores")
        copied = _copy_short_days(tenant_id, say) + sum(c.copy_short_days(tenant_id, say) for c in also)
        _place(tenant_id, "clickhouse")
        _wait_for_every_process(say, "every process reads ClickHouse")
    else:
        copied = 0
    copied += _copy_short_days(tenant_id, say) + sum(c.copy_short_days(tenant_id, say) for c in also)
    pg, ch = _pg_days(tenant_id), _ch_days(tenant_id)
    left = _short_days(pg, ch)
    if left:
        raise RuntimeError(f"{tenant_id}: ClickHouse still lacks events of {len(left)} day(s)"
                           f" ({', '.join(map(str, left[:5]))}); run the move again")
    for c in also:
        if left := c.short_days(tenant_id):
            raise RuntimeError(f"{tenant_id}: ClickHouse still lacks {c.what} of {len(left)} day(s)"
                               f" ({', '.join(map(str, left[:5]))}); run the move again")
    totals = {"postgres": sum(pg.values()), "clickhouse": sum(ch.values())}
    say(f"{tenant_id}: moved; {totals['postgres']:,} events in PostgreSQL, {totals['clickhouse']:,} in ClickHouse,"
        " every day's PostgreSQL events in ClickHouse; reads now go to ClickHouse")
    result: dict[str, Any] = {"tenant": tenant_id, "copied": copied, **totals}
    for c in also:
        counts = c.totals(tenant_id)
        say(f"{tenant_id}: {c.what}: {counts['postgres']:,} rows in PostgreSQL, {counts['clickhouse']:,} in"
            " ClickHouse, every day's in ClickHouse")
        result[c.what] = counts
    return result


def _place(tenant_id: str, state: str) -> None:
    from telltale.events import stores

    scoped.tenant(tenant_id).query(
        "INSERT INTO events.tenant_stores (state) VALUES (:s)"
        " ON CONFLICT (tenant_id) DO UPDATE SET state = EXCLUDED.state, updated_at = now()", s=state)
    stores.forget_placements()


def _wait_for_every_process(say: Callable[[str], None], what: str) -> None:
    wait = get_settings().event_store_cache_s
    if wait > 0:
        say(f"waiting {wait:g} s until {what} (TELLTALE_EVENT_STORE_CACHE_S)")
        time.sleep(wait + 1)


def _pg_days(tenant_id: str) -> dict[date, int]:
    rows = scoped.tenant(tenant_id).query(
        "SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM events.events"
        " GROUP BY 1 ORDER BY 1")
    return {r["day"]: int(r["n"]) for r in rows}


def _ch_days(tenant_id: str) -> dict[date, int]:
    from telltale.events.stores.clickhouse import READ_SETTINGS, clickhouse_client

    database = get_settings().clickhouse_database
    result = clickhouse_client().query(
        f"SELECT toDate(occurred_at) AS day, count() FROM `{database}`.events FINAL WHERE tenant_id = {{t:String}}"
        " GROUP BY day ORDER BY day", parameters={"t": tenant_id}, settings=READ_SETTINGS)
    return {r[0]: int(r[1]) for r in result.result_rows}


def _short_days(pg: dict[date, int], ch: dict[date, int]) -> list[date]:
    """The days on which ClickHouse counts fewer of the tenant's events than PostgreSQL."""
    return sorted(d for d, n in pg.items() if ch.get(d, 0) < n)


def _copy_short_days(tenant_id: str, say: Callable[[str], None]) -> int:
    from telltale.events.stores.clickhouse import ClickHouseEventStore

    target = ClickHouseEventStore()
    copied = 0
    days = _short_days(_pg_days(tenant_id), _ch_days(tenant_id))
    for n, day in enumerate(days, 1):
        stored = sum(target.write(batch) for batch in _events_of(tenant_id, day))
        copied += stored
        scoped.tenant(tenant_id).query(
            "UPDATE events.tenant_stores SET progress = CAST(:p AS jsonb), updated_at = now()",
            p=db.jsonb({"last_day": day.isoformat(), "days_left": len(days) - n}))
        say(f"{tenant_id}: {day} copied ({stored:,} new), {len(days) - n} day(s) left")
    return copied


def _events_of(tenant_id: str, day: date) -> Iterator[list[Event]]:
    """The tenant's events of one UTC day, in batches, by keyset on (occurred_at, event_id)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    after: tuple[datetime, str] = (start - timedelta(microseconds=1), "")
    while True:
        rows = scoped.tenant(tenant_id).query(
            "SELECT event_id, event_type, occurred_at, received_at, actor_type, actor_id, entity_type, entity_id,"
            " schema_version, attributes, source FROM events.events"
            " WHERE occurred_at >= :start AND occurred_at < :end AND (occurred_at, event_id) > (:at, :id)"
            " ORDER BY occurred_at, event_id LIMIT :n", start=start, end=end, at=after[0], id=after[1], n=BATCH)
        if not rows:
            return
        yield [Event(event_id=r["event_id"], event_type=r["event_type"], occurred_at=r["occurred_at"],
                     tenant_id=tenant_id, received_at=r["received_at"], actor_type=r["actor_type"],
                     actor_id=r["actor_id"], entity_type=r["entity_type"], entity_id=r["entity_id"],
                     schema_version=int(r["schema_version"]), attributes=dict(r["attributes"] or {}),
                     source=r["source"]) for r in rows]
        after = (rows[-1]["occurred_at"], rows[-1]["event_id"])
