"""The ClickHouse event store: a replayed eventId counts once before any merge (FINAL), the first copy wins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def test_replays_collapse_and_first_copy_wins(clickhouse_server: Any, monkeypatch: Any) -> None:
    from telltale.events import dsl
    from telltale.events.models import Event
    from telltale.events.stores import clickhouse as store
    from telltale.platform import config

    monkeypatch.setenv("TELLTALE_CLICKHOUSE_HOST", clickhouse_server.host)
    monkeypatch.setenv("TELLTALE_CLICKHOUSE_PORT", str(clickhouse_server.port))
    monkeypatch.setenv("TELLTALE_CLICKHOUSE_DATABASE", "events_" + uuid.uuid4().hex[:8])
    config.reset_settings()
    store.reset_clickhouse()
    try:
        ch = store.ClickHouseEventStore()
        now = datetime(2026, 4, 22, 10, 30, tzinfo=UTC)
        eid = str(uuid.uuid4())

        def ev(plan: str, received: datetime) -> Event:
            return Event(event_id=eid, event_type="ch.test", occurred_at=now, tenant_id="t1", received_at=received,
                         actor_id="a1", attributes={"plan": plan})

        ch.write([ev("first", now)])
        ch.write([ev("second", now + timedelta(seconds=5))])  # a replay (separate insert: separate part)
        ch.write([Event(event_id=str(uuid.uuid4()), event_type="ch.test", occurred_at=now, tenant_id="t2",
                        received_at=now)])  # another tenant: never visible to t1
        q = dsl.Query.model_validate({
            "eventType": "ch.test", "timeRange": {"from": "2026-04-01T00:00:00Z", "to": "2026-04-30T00:00:00Z"},
            "groupBy": [{"field": "attributes.plan"}], "aggregations": [{"function": "COUNT", "alias": "n"}]})
        rows = ch.run(dsl.compile_query(q, "t1", dialect="clickhouse", table=ch.table))
        assert rows == [("first", 1)]
        history = ch.recent_events("t1", "a1", now - timedelta(days=1), 10)
        assert [h["attributes"] for h in history] == [{"plan": "first"}]
    finally:
        monkeypatch.undo()
        config.reset_settings()
        store.reset_clickhouse()


def _settings(monkeypatch: Any, clickhouse_server: Any) -> str:
    from telltale.events.stores import clickhouse as store
    from telltale.platform import config

    database = "events_" + uuid.uuid4().hex[:8]
    monkeypatch.setenv("TELLTALE_CLICKHOUSE_HOST", clickhouse_server.host)
    monkeypatch.setenv("TELLTALE_CLICKHOUSE_PORT", str(clickhouse_server.port))
    monkeypatch.setenv("TELLTALE_CLICKHOUSE_DATABASE", database)
    config.reset_settings()
    store.reset_clickhouse()
    return database


def _count(ch: Any, tenant: str, event_type: str = "ch.test") -> list[tuple[Any, ...]]:
    from telltale.events import dsl

    q = dsl.Query.model_validate({
        "eventType": event_type, "timeRange": {"from": "2026-01-01T00:00:00Z", "to": "2026-12-31T00:00:00Z"},
        "groupBy": [{"field": "attributes.plan"}], "aggregations": [{"function": "COUNT", "alias": "n"}]})
    return ch.run(dsl.compile_query(q, tenant, dialect="clickhouse", table=ch.table))


def test_a_copy_a_crash_let_through_counts_once_before_any_merge(clickhouse_server: Any, monkeypatch: Any) -> None:
    """Two workers racing on one event both find no id and both insert it (what the ids table cannot stop).
    The copy has the first one's sorting key: FINAL reads it once, the first received wins, and a replay
    that changed its type or time is refused at insert by the id lookup."""
    from telltale.events.models import Event
    from telltale.events.stores import clickhouse as store
    from telltale.platform import config

    database = _settings(monkeypatch, clickhouse_server)
    try:
        ch = store.ClickHouseEventStore()
        now = datetime(2026, 4, 22, 10, 30, tzinfo=UTC)
        eid = str(uuid.uuid4())
        first = Event(event_id=eid, event_type="ch.test", occurred_at=now, tenant_id="t1", received_at=now,
                      attributes={"plan": "first"})
        assert ch.write([first]) == 1
        client = store.clickhouse_client()
        # The race: the same event once more in the table, inserted by a worker that looked before the first.
        late = Event(event_id=eid, event_type="ch.test", occurred_at=now, tenant_id="t1",
                     received_at=now + timedelta(seconds=30), attributes={"plan": "second"})
        client.insert("events", [[late.tenant_id, late.event_id, late.event_type, late.occurred_at, late.received_at,
                                  None, None, None, None, 1, late.attributes, "api"]],
                      column_names=store.CH_COLUMNS, database=database)
        assert client.query(f"SELECT count() FROM `{database}`.events").result_rows[0][0] == 2  # two parts, unmerged
        assert _count(ch, "t1") == [("first", 1)]
        # A replay with another type and time: refused by its id, so not counted under either.
        moved = Event(event_id=eid, event_type="ch.other", occurred_at=now + timedelta(days=40), tenant_id="t1",
                      received_at=now + timedelta(minutes=1), attributes={"plan": "moved"})
        assert ch.write([moved, first]) == 0
        assert _count(ch, "t1", "ch.other") == [] and _count(ch, "t1") == [("first", 1)]
        # The same id in another tenant is another event.
        assert ch.write([Event(event_id=eid, event_type="ch.test", occurred_at=now, tenant_id="t2",
                               received_at=now, attributes={"plan": "t2"})]) == 1
        assert _count(ch, "t2") == [("t2", 1)] and _count(ch, "t1") == [("first", 1)]
    finally:
        monkeypatch.undo()
        config.reset_settings()
        store.reset_clickhouse()


def test_migrations_apply_once_and_move_an_earlier_table(clickhouse_server: Any, monkeypatch: Any) -> None:
    """A database made by an earlier release (one table ordered by tenant and id, replays not yet merged)
    gets the new layout with each event once, the first copy; applying again changes nothing."""
    import clickhouse_connect

    from telltale.events.stores import clickhouse as store
    from telltale.events.stores import clickhouse_schema as schema
    from telltale.platform import config

    database = _settings(monkeypatch, clickhouse_server)
    client = clickhouse_connect.get_client(host=clickhouse_server.host, port=clickhouse_server.port)
    try:
        client.command(f"CREATE DATABASE `{database}`")
        client.command(f"CREATE TABLE `{database}`.events ({schema.EVENT_COLUMNS}\n)"
                       " ENGINE = ReplacingMergeTree(version) ORDER BY (tenant_id, event_id)")
        t0 = datetime(2026, 3, 1, tzinfo=UTC)
        for plan, received in (("first", t0), ("second", t0 + timedelta(seconds=9))):  # two parts: a replay
            client.insert("events", [["t1", "e1", "ch.test", t0, received, None, None, None, None, 1,
                                      {"plan": plan}, "api"]], column_names=store.CH_COLUMNS, database=database)
        client.insert("events", [["t1", "e2", "ch.test", t0 + timedelta(days=40), t0, None, None, None, None, 1,
                                  {"plan": "april"}, "api"]], column_names=store.CH_COLUMNS, database=database)

        layout = schema.Layout(database)
        assert schema.apply(client, layout) == [m for m, _ in schema.MIGRATIONS]
        assert schema.apply(client, layout) == []  # recorded: nothing to do the second time
        key, partition = client.query("SELECT sorting_key, partition_key FROM system.tables WHERE database ="
                                      " {d:String} AND name = 'events'", parameters={"d": database}).result_rows[0]
        assert (key, partition) == ("tenant_id, event_type, occurred_at, event_id", "toYYYYMM(occurred_at)")
        ch = store.ClickHouseEventStore()
        assert sorted(_count(ch, "t1")) == [("april", 1), ("first", 1)]
        assert client.query(f"SELECT count() FROM `{database}`.events_legacy").result_rows[0][0] == 3  # kept
        # The moved events' ids are known: a replay of one, even with another type, is refused at insert.
        from telltale.events.models import Event

        assert ch.write([Event(event_id="e1", event_type="ch.moved", occurred_at=t0, tenant_id="t1",
                               received_at=t0 + timedelta(days=1))]) == 0
    finally:
        monkeypatch.undo()
        config.reset_settings()
        store.reset_clickhouse()


def test_a_large_batch_is_looked_up_and_stored_once(clickhouse_server: Any, monkeypatch: Any) -> None:
    """A batch as the queue delivers it: the id lookup's parameters pass 4 KB, which clickhouse-connect
    sends as form data; every event stored once, and the same batch again stores nothing."""
    from telltale.events.models import Event
    from telltale.events.stores import clickhouse as store
    from telltale.platform import config

    _settings(monkeypatch, clickhouse_server)
    try:
        ch = store.ClickHouseEventStore()
        now = datetime(2026, 4, 22, 10, 30, tzinfo=UTC)
        batch = [Event(event_id=str(uuid.uuid4()), event_type="ch.test", occurred_at=now + timedelta(minutes=i),
                       tenant_id="t1", received_at=now, attributes={"plan": "p"}) for i in range(1000)]
        assert ch.write(batch) == 1000
        assert ch.write(batch) == 0
        assert _count(ch, "t1") == [("p", 1000)]
    finally:
        monkeypatch.undo()
        config.reset_settings()
        store.reset_clickhouse()
