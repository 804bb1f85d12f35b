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
    from telltale.events.stores.postgres import PostgresEventStore

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


# --------------------------------------------------------------------------- through the worker's handler
def _worker() -> Any:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "functions" / "ingest_event" / "worker.py"
    spec = importlib.util.spec_from_file_location("events_worker_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sqs(messages: list[tuple[str, str]]) -> dict[str, Any]:
    return {"Records": [{"messageId": mid, "receiptHandle": "r", "body": body, "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:EventsQueue",
                         "awsRegion": "us-east-1"} for mid, body in messages]}


def _api(tenant: str, i: int, month: str = "2026-05") -> str:
    """A message exactly as the ingest API enqueues it."""
    from datetime import datetime

    from telltale.events.models import Event, message_body

    at = datetime.fromisoformat(f"{month}-{i % 28 + 1:02d}T10:00:00.000+00:00")
    return message_body(Event(event_id=str(uuid.uuid4()), event_type="worker.test", occurred_at=at, tenant_id=tenant,
                              received_at=at, actor_type="CONTACT", actor_id=f"a{i % 7}", attributes={"i": str(i)}))


def _failures(out: dict[str, Any]) -> list[str]:
    return sorted(f["itemIdentifier"] for f in out["batchItemFailures"])


def _stored(db: Any, tenant: str) -> tuple[int, int]:
    row = db.query_one("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events.events WHERE tenant_id = :t",
                       t=tenant)
    return row["n"], row["d"]


def test_worker_fails_only_the_bad_messages_of_a_batch(platform_db: Any) -> None:
    worker = _worker()
    tenant = "worker" + uuid.uuid4().hex[:8]
    good = [(f"g{i}", _api(tenant, i)) for i in range(300)]
    valid = json.loads(good[0][1])
    bad = {
        "not-json": "{not json",
        "no-tenant": json.dumps({**valid, "eventId": str(uuid.uuid4()), "tenantId": None}),
        "unknown-field": json.dumps({**valid, "eventId": str(uuid.uuid4()), "marker": "x"}),
        "bad-type": json.dumps({**valid, "eventId": str(uuid.uuid4()), "eventType": "nodots"}),
        # Valid JSON that PostgreSQL could never store: before, such a message failed its whole batch.
        "nul": json.dumps({**valid, "eventId": str(uuid.uuid4()), "attributes": {"k": "a\x00b"}}),
        "surrogate": json.dumps({**valid, "eventId": str(uuid.uuid4()), "attributes": {"k": "\ud800"}}),
    }
    outbox = json.dumps({**valid, "eventId": str(uuid.uuid4()), "occurredAt": "2026-05-03T10:00:00.123456Z",
                         "source": "platform", "receivedAt": None, "attributes": {"name": "café \"q\"\tx"}})
    messages = [*good[:120], *bad.items(), ("outbox", outbox), ("dup", good[5][1]), *good[120:]]
    assert _failures(worker.handler(_sqs(messages), None)) == sorted(bad)
    assert _stored(platform_db, tenant) == (301, 301)
    row = platform_db.query_one("SELECT attributes, source, occurred_at FROM events.events WHERE tenant_id = :t"
                                " AND source = 'platform'", t=tenant)
    assert row["attributes"] == {"name": "café \"q\"\tx"} and row["occurred_at"].microsecond == 123000
    # SQS delivers the whole batch again (say the worker timed out after committing): each event still once.
    assert _failures(worker.handler(_sqs(messages), None)) == sorted(bad)
    assert _stored(platform_db, tenant) == (301, 301)
    # A batch half stored already and half new, all in the API's shape: only the new half is added.
    new = [(f"n{i}", _api(tenant, 1000 + i)) for i in range(100)]
    assert _failures(worker.handler(_sqs(good[:100] + new), None)) == []
    assert _stored(platform_db, tenant) == (401, 401)


def test_worker_escapes_text_and_replays_it_once(platform_db: Any) -> None:
    # Text with COPY's and arrays' special characters goes through the escaping path, first time and on replay.
    worker = _worker()
    tenant = 'we"ird\\' + uuid.uuid4().hex[:6] + ",{x}\tz\nq"
    body = json.dumps({"eventId": str(uuid.uuid4()), "eventType": "worker.test", "tenantId": tenant,
                       "occurredAt": "2026-05-02T00:00:00Z", "actorId": "a\\b\tc", "attributes": {"k": "\\N"}})
    for _ in range(2):
        assert _failures(worker.handler(_sqs([("m", body), ("again", body)]), None)) == []
        assert _stored(platform_db, tenant) == (1, 1)
    row = platform_db.query_one("SELECT actor_id, attributes FROM events.events WHERE tenant_id = :t", t=tenant)
    assert row["actor_id"] == "a\\b\tc" and row["attributes"] == {"k": "\\N"}


def test_worker_rejects_an_impossible_date_in_the_api_shape(platform_db: Any) -> None:
    # Every body has the API's shape, so the batch is read by the one-scan path, which leaves the calendar to
    # PostgreSQL: its COPY refuses 2026-02-30 and the worker checks the batch again message by message.
    worker = _worker()
    tenant = "worker" + uuid.uuid4().hex[:8]
    good = [(f"g{i}", _api(tenant, i)) for i in range(120)]
    feb30 = good[0][1].replace(json.loads(good[0][1])["occurredAt"][:10], "2026-02-30")
    feb30 = feb30.replace(json.loads(good[0][1])["eventId"], str(uuid.uuid4()))
    assert _failures(worker.handler(_sqs([*good[:60], ("feb30", feb30), *good[60:]]), None)) == ["feb30"]
    assert _stored(platform_db, tenant) == (120, 120)


def test_worker_makes_a_missing_partition(platform_db: Any) -> None:
    worker = _worker()
    tenant = "worker" + uuid.uuid4().hex[:8]
    month = f"2{uuid.uuid4().int % 99 + 100:03d}-{uuid.uuid4().int % 12 + 1:02d}"  # 2100-2198: no partition yet
    messages = [(f"m{i}", _api(tenant, i, month)) for i in range(10)]
    assert _failures(worker.handler(_sqs(messages), None)) == []
    assert _stored(platform_db, tenant) == (10, 10)


def test_concurrent_workers_store_a_shared_batch_once(platform_db: Any) -> None:
    # SQS may hand the same messages to two workers at once: each id is still stored once, whichever wins.
    import threading

    from telltale.events.service import store_messages

    tenant = "worker" + uuid.uuid4().hex[:8]
    shared = [(f"s{i}", _api(tenant, i)) for i in range(400)]
    results: list[tuple[list[str], list[str]]] = []
    barrier = threading.Barrier(3)

    def work(messages: list[tuple[str, str]]) -> None:
        barrier.wait()
        results.append(store_messages(messages))

    other = shared[200:] + [(f"o{i}", _api(tenant, 500 + i)) for i in range(50)]
    threads = [threading.Thread(target=work, args=(batch,)) for batch in (shared, shared[::-1], other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 3 and all(not failed for _, failed in results)
    assert _stored(platform_db, tenant) == (450, 450)
