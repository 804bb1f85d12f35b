"""The PostgreSQL event store's worker path: raw messages in, each valid event stored once, bad ones named."""

from __future__ import annotations

import json
import uuid
from typing import Any


def _msg(tenant: str, **kw: Any) -> str:
    body = {"eventId": str(uuid.uuid4()), "eventType": "store.test", "tenantId": tenant,
            "occurredAt": "2026-03-31T23:59:59.999Z", "attributes": {"a": "1"}, **kw}
    return json.dumps(body)


def test_write_messages_validates_and_deduplicates(platform_db: Any) -> None:
    from telltale.events.store import PostgresEventStore

    tenant = "store" + uuid.uuid4().hex[:8]
    good = _msg(tenant)
    messages = [
        ("m1", good), ("m2", good),  # the same event twice in one batch
        ("m3", _msg(tenant, occurredAt="2026-04-01T00:00:00Z", source="platform", actorId="u1")),
        ("no-id", json.dumps({"eventType": "a.b", "tenantId": tenant,
                                                         "occurredAt": "2026-04-01T00:00:00Z"})),
        ("bad-time", _msg(tenant, occurredAt="yesterday")), ("bad-attr", _msg(tenant, attributes={"n": 1})),
        ("bad-type", _msg(tenant, eventType="nodots")), ("not-object", "[1, 2]"),
    ]
    store = PostgresEventStore()
    stored, invalid = store.write_messages(messages)
    assert sorted(invalid) == ["bad-attr", "bad-time", "bad-type", "no-id", "not-object"]
    assert stored == ["m1", "m2", "m3"]
    rows = platform_db.query("SELECT event_id, source, occurred_at, actor_id, attributes FROM events.events"
                             " WHERE tenant_id = :t ORDER BY occurred_at", t=tenant)
    assert len(rows) == 2
    assert rows[0]["attributes"] == {"a": "1"} and rows[1]["source"] == "platform" and rows[1]["actor_id"] == "u1"
    # Replayed (a redelivery after a crash): nothing new is stored, nothing is reported invalid.
    assert store.write_messages(messages[:3]) == (["m1", "m2", "m3"], [])
    assert platform_db.query_one("SELECT count(*) AS n FROM events.events WHERE tenant_id = :t", t=tenant)["n"] == 2
    # A body that is not JSON fails the one-statement path; the worker falls back to message-by-message.
    from telltale.events.service import store_messages

    fresh = _msg(tenant, occurredAt="2026-04-02T00:00:00Z")
    assert store_messages([("ok", fresh), ("bad-json", "{not json")]) == (["ok"], ["bad-json"])
    # The partitions are monthly: the two events sit in March and April.
    parts = platform_db.query("SELECT DISTINCT tableoid::regclass::text AS p FROM events.events WHERE tenant_id = :t",
                              t=tenant)
    assert {p["p"] for p in parts} == {"events.events_p202603", "events.events_p202604"}
