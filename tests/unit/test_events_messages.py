"""The worker's fast reading of queue messages (canonical_values, canonical_rows) accepts only what
from_message accepts, and gives the same values; everything else is left to from_message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from telltale.events.models import (
    CANONICAL_COLUMNS,
    Event,
    canonical_rows,
    canonical_values,
    events_of_canonical,
    from_message,
    iso_ms,
    message_body,
    validate_batch,
)

NOW = datetime(2026, 4, 22, 10, 30, 0, 123000, tzinfo=UTC)
EVENT = {"eventId": "0f8fad5b-d9cb-469f-a165-70867728950e", "eventType": "contact.created",
         "occurredAt": "2026-04-21T08:00:00.5Z", "tenantId": "t1", "actorType": "TENANT_STAFF", "actorId": "u1",
         "entityType": "CONTACT", "entityId": "c1", "schemaVersion": 2, "attributes": {"source": "CRM", "k.x": ""}}


def _message(**changes: Any) -> dict[str, Any]:
    """The ingest API's message for EVENT with ``changes`` applied (None removes a key)."""
    [event] = validate_batch(dict(EVENT), token_tenant="t1", now=NOW)
    message = event.to_message()
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    return message


def _compact(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def _columns(event: Event) -> dict[str, Any]:
    return {"event_id": event.event_id, "event_type": event.event_type, "occurred_at": iso_ms(event.occurred_at),
            "tenant_id": event.tenant_id, "actor_type": event.actor_type or "", "actor_id": event.actor_id or "",
            "entity_type": event.entity_type or "", "entity_id": event.entity_id or "",
            "schema_version": str(event.schema_version), "attributes": event.attributes, "source": event.source,
            "received_at": iso_ms(event.received_at)}


def _fast(body: str) -> dict[str, Any] | None:
    values = canonical_values(body)
    if values is None:
        return None
    columns = dict(zip(CANONICAL_COLUMNS, values, strict=True))
    columns["attributes"] = json.loads(columns["attributes"])  # compared as values: jsonb keeps no text
    return columns


def test_what_the_api_enqueues_is_read_fast_with_from_messages_values() -> None:
    events = validate_batch([dict(EVENT), {"eventType": "page.viewed", "tenantId": "t1"},  # API defaults
                             dict(EVENT, attributes={}, actorType=None, actorId=None, entityType=None, entityId=None,
                                  schemaVersion=None)], token_tenant="t1", now=NOW)
    bodies = [message_body(e) for e in events]
    for body, event in zip(bodies, events, strict=True):
        assert _fast(body) == _columns(from_message(body)) == _columns(event)
    rows = canonical_rows(bodies)
    assert rows is not None and rows == [canonical_values(b) for b in bodies]


CASES: dict[str, str] = {
    "outbox shape (spaces, no receivedAt)": json.dumps(_message(receivedAt=None, source="platform")),
    "keys in another order": _compact(dict(reversed(list(_message().items())))),
    "platform source": _compact(_message(source="platform")),
    "unknown source": _compact(_message(source="evil")),
    "uppercase UUID": _compact(_message(eventId=EVENT["eventId"].upper())),
    "UUID without dashes": _compact(_message(eventId=EVENT["eventId"].replace("-", ""))),
    "no eventId": _compact(_message(eventId=None)),
    "microseconds": _compact(_message(occurredAt="2026-04-21T08:00:00.123456Z")),
    "offset": _compact(_message(occurredAt="2026-04-21T10:00:00.000+02:00")),
    "naive time": _compact(_message(occurredAt="2026-04-21T08:00:00.000")),
    "year 1969": _compact(_message(occurredAt="1969-12-31T23:59:59.999Z")),
    "year 2200": _compact(_message(occurredAt="2200-12-31T23:59:59.999Z")),
    "year 2201": _compact(_message(occurredAt="2201-01-01T00:00:00.000Z")),
    "hour 24": _compact(_message(occurredAt="2026-04-21T24:00:00.000Z")),
    "occurredAt a number": _compact(_message(occurredAt=1745222400)),
    "bad receivedAt": _compact(_message(receivedAt="yesterday")),
    "no receivedAt": _compact(_message(receivedAt=None)),
    "type without a dot": _compact(_message(eventType="nodots")),
    "type of 8 parts": _compact(_message(eventType=".".join("abcdefgh"))),
    "type of 9 parts": _compact(_message(eventType=".".join("abcdefghi"))),
    "type with a space": _compact(_message(eventType="a.b c")),
    "empty tenant": _compact(_message(tenantId="")),
    "tenant of 128": _compact(_message(tenantId="t" * 128)),
    "tenant of 129": _compact(_message(tenantId="t" * 129)),
    "tenant a number": _compact(_message(tenantId=7)),
    "unknown actor type": _compact(_message(actorType="ROBOT")),
    "empty actor type": _compact(_message(actorType="")),
    "empty actor id": _compact(_message(actorId="")),
    "actor id a number": _compact(_message(actorId=5)),
    "entity type of 65": _compact(_message(entityType="e" * 65)),
    "entity id of 128": _compact(_message(entityId="e" * 128)),
    "schema version 0": _compact(_message(schemaVersion=0)),
    "schema version 10000": _compact(_message(schemaVersion=10000)),
    "schema version 10001": _compact(_message(schemaVersion=10001)),
    "schema version true": _compact(_message(schemaVersion=True)),
    "schema version 1.0": _compact(_message(schemaVersion=1.0)),
    "schema version text": _compact(_message(schemaVersion="1")),
    "no attributes": _compact(_message(attributes=None)),
    "null attributes": _compact(_message()).replace('"attributes":{"source":"CRM","k.x":""}', '"attributes":null'),
    "50 attributes": _compact(_message(attributes={f"k{i}": "v" for i in range(50)})),
    "51 attributes": _compact(_message(attributes={f"k{i}": "v" for i in range(51)})),
    "attribute value of 2048": _compact(_message(attributes={"k": "v" * 2048})),
    "attribute value of 2049": _compact(_message(attributes={"k": "v" * 2049})),
    "attribute a number": _compact(_message(attributes={"k": 1})),
    "attribute key with a space": _compact(_message(attributes={"a b": "v"})),
    "attributes a list": _compact(_message(attributes=["a"])),
    "duplicated attribute": _compact(_message()).replace('"k.x":""', '"k.x":"","k.x":"2"'),
    "escaped quote": _compact(_message(attributes={"k": 'say "hi"'})),
    "tab escape": _compact(_message(attributes={"k": "a\tb"})),
    "non-ASCII, escaped": _compact(_message(attributes={"k": "café"})),
    "non-ASCII, raw": json.dumps(_message(attributes={"k": "café"}), separators=(",", ":"), ensure_ascii=False),
    "NUL escape": _compact(_message(attributes={"k": "a\x00b"})),
    "lone surrogate escape": _compact(_message(attributes={"k": "\ud800"})),
    "raw tab in a string": _compact(_message()).replace('"CRM"', '"C\tRM"'),
    "unknown field": _compact(_message(marker="x")),
    "whitespace around": " " + _compact(_message()) + " ",
    "trailing line break": _compact(_message()) + "\n",
    "two objects": _compact(_message()) + _compact(_message()),
    "not JSON": "{not json",
    "an array": "[1, 2]",
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_fast_reading_never_accepts_what_from_message_refuses(name: str) -> None:
    body = CASES[name]
    fast = _fast(body)
    try:
        slow: dict[str, Any] | None = _columns(from_message(body))
    except (ValueError, TypeError):
        slow = None
    if fast is not None:
        assert fast == slow  # same verdict, same values
    # else: from_message decides alone (the worker's slow path)


def test_which_shapes_are_read_fast() -> None:
    fast = {name for name, body in CASES.items() if canonical_values(body) is not None}
    assert fast == {"platform source", "year 2200", "type of 8 parts", "tenant of 128", "entity id of 128",
                    "schema version 10000", "50 attributes", "attribute value of 2048", "duplicated attribute",
                    "non-ASCII, raw"}


def test_an_impossible_date_in_the_right_shape_is_left_to_postgresql() -> None:
    # The one rule the expression leaves out: PostgreSQL's timestamptz input refuses the date, and the worker
    # then checks the batch message by message (tests/integration/events/test_events_store_pg.py).
    body = _compact(_message(occurredAt="2026-02-30T00:00:00.000Z"))
    assert canonical_values(body) is not None
    with pytest.raises(ValueError):
        from_message(body)


def test_a_batch_is_read_fast_only_when_every_body_is() -> None:
    good = [message_body(e) for e in validate_batch([dict(EVENT)] * 3, token_tenant="t1", now=NOW)]
    assert canonical_rows(good) == [canonical_values(b) for b in good]
    assert canonical_rows([*good, CASES["outbox shape (spaces, no receivedAt)"]]) is None
    # A body holding two bodies on two lines, next to a body that is not read fast: never mistaken for two.
    assert canonical_rows([good[0] + "\n" + good[1], "{not json"]) is None
    assert canonical_rows([]) == []


def test_the_fast_events_are_from_messages_events() -> None:
    # The ClickHouse worker's reading (events_of_canonical over canonical_rows) gives the Events from_message
    # gives, defaults and nulls included; an impossible date sends the batch to from_message instead.
    events = validate_batch([dict(EVENT), {"eventType": "page.viewed", "tenantId": "t1"},
                             dict(EVENT, attributes={}, actorType=None, actorId=None, entityType=None, entityId=None,
                                  schemaVersion=None)], token_tenant="t1", now=NOW)
    bodies = [message_body(e) for e in events]
    rows = canonical_rows(bodies)
    assert rows is not None
    assert events_of_canonical(rows) == [from_message(b) for b in bodies] == events
    impossible = canonical_rows([*bodies, _compact(_message(occurredAt="2026-02-30T00:00:00.000Z"))])
    assert impossible is not None and events_of_canonical(impossible) is None
