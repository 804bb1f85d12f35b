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
