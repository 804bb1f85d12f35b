"""The AnalyticsEvent of spec 004: validation, defaults and the normalised form the worker stores.

Validation is hand-written rather than a pydantic model per event because a batch of up to 10,000
events must be checked in a few milliseconds and every problem reported with the event's index and
field name ("events[3].occurredAt"), all at once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from telltale.platform import dates
from telltale.platform.errors import PayloadTooLarge, ValidationError

MAX_BATCH = 10_000
MAX_ATTRIBUTES = 50
MAX_KEY_LEN = 128
MAX_VALUE_LEN = 2048
MAX_ID_LEN = 128
EVENT_TYPE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){1,7}$")
ATTRIBUTE_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
ACTOR_TYPES = ("TENANT_STAFF", "CONTACT", "SYSTEM")
FIELDS = ("eventId", "eventType", "occurredAt", "tenantId", "actorType", "actorId", "entityType", "entityId",
          "schemaVersion", "attributes")
# The outbox marks the platform's own events; clients cannot claim to be the platform.
SOURCES = ("api", "platform")


@dataclass
class Event:
    """One validated event, normalised: UTC times with millisecond precision (what both stores keep)."""

    event_id: str
    event_type: str
    occurred_at: datetime
    tenant_id: str
    received_at: datetime
    actor_type: str | None = None
    actor_id: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    schema_version: int = 1
    attributes: dict[str, str] = field(default_factory=dict)
    source: str = "api"

    def to_message(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id, "eventType": self.event_type, "occurredAt": iso_ms(self.occurred_at),
            "tenantId": self.tenant_id, "actorType": self.actor_type, "actorId": self.actor_id,
            "entityType": self.entity_type, "entityId": self.entity_id, "schemaVersion": self.schema_version,
            "attributes": self.attributes, "source": self.source, "receivedAt": iso_ms(self.received_at),
        }


def iso_ms(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _opt_str(raw: dict[str, Any], key: str, errors: dict[str, list[str]], prefix: str,
             max_len: int = MAX_ID_LEN) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.setdefault(prefix + key, []).append("must be a string")
        return None
    if len(value) > max_len:
        errors.setdefault(prefix + key, []).append(f"must be at most {max_len} characters")
        return None
    return value or None


def validate_event(raw: Any, *, index: int | None, now: datetime, errors: dict[str, list[str]],
                   source: str = "api", from_queue: bool = False) -> Event | None:
    """Validate one raw event; problems go to ``errors`` keyed "events[i].field" (or "field")."""
    prefix = f"events[{index}]." if index is not None else ""
    if not isinstance(raw, dict):
        errors.setdefault(prefix.rstrip(".") or "body", []).append("must be a JSON object (an AnalyticsEvent)")
        return None
    before = len(errors)  # every problem of this event adds a key (keys carry the event's index)
    # Only queue messages carry the internal fields (the outbox's "source", the API's "receivedAt").
    internal = {"source", "receivedAt"} if from_queue else set()
    unknown = sorted(set(raw) - set(FIELDS) - internal)
    if unknown:
        errors.setdefault(prefix + unknown[0], []).append(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    event_type = raw.get("eventType")
    if event_type is None or event_type == "":
        errors.setdefault(prefix + "eventType", []).append("is required")
    elif not isinstance(event_type, str) or not EVENT_TYPE_RE.match(event_type):
        errors.setdefault(prefix + "eventType", []).append(
            "must be a dot-separated category such as contact.created (letters, digits, _ and -)")
    tenant_id = raw.get("tenantId")
    if tenant_id is None or tenant_id == "":
        errors.setdefault(prefix + "tenantId", []).append("is required")
    elif not isinstance(tenant_id, str) or len(tenant_id) > MAX_ID_LEN:
        errors.setdefault(prefix + "tenantId", []).append(f"must be a string of at most {MAX_ID_LEN} characters")
    event_id = raw.get("eventId")
    if event_id is None:
        event_id = str(uuid.uuid4())
    elif not isinstance(event_id, str):
        errors.setdefault(prefix + "eventId", []).append("must be a UUID string")
    else:
        try:
            event_id = str(uuid.UUID(event_id))
        except ValueError:
            errors.setdefault(prefix + "eventId", []).append(f"'{event_id[:80]}' is not a UUID")
    occurred_at = now
    if raw.get("occurredAt") is not None:
        try:
            occurred_at = dates.timestamp(raw["occurredAt"])
        except ValueError as exc:
            errors.setdefault(prefix + "occurredAt", []).append(str(exc))
    actor_type = _opt_str(raw, "actorType", errors, prefix, 64)
    if actor_type is not None and actor_type not in ACTOR_TYPES:
        errors.setdefault(prefix + "actorType", []).append(f"must be one of {', '.join(ACTOR_TYPES)}")
    actor_id = _opt_str(raw, "actorId", errors, prefix)
    entity_type = _opt_str(raw, "entityType", errors, prefix, 64)
    entity_id = _opt_str(raw, "entityId", errors, prefix)
    schema_version = raw.get("schemaVersion", 1)
    if schema_version is None:
        schema_version = 1
    if isinstance(schema_version, bool) or not isinstance(schema_version, int) or not 1 <= schema_version <= 10_000:
        errors.setdefault(prefix + "schemaVersion", []).append("must be an integer from 1 to 10000")
        schema_version = 1
    attributes = raw.get("attributes")
    clean: dict[str, str] = {}
    if attributes is not None:
        if not isinstance(attributes, dict):
            errors.setdefault(prefix + "attributes", []).append("must be an object of string keys and string values")
        elif len(attributes) > MAX_ATTRIBUTES:
            errors.setdefault(prefix + "attributes", []).append(f"must have at most {MAX_ATTRIBUTES} keys")
        else:
            for key, value in attributes.items():
                where = f"{prefix}attributes.{str(key)[:64]}"
                if not ATTRIBUTE_KEY_RE.match(key):
                    errors.setdefault(where, []).append("keys use letters, digits and _ . : - (1 to 128 characters)")
                elif not isinstance(value, str):
                    errors.setdefault(where, []).append("must be a string (attributes are string key-value pairs)")
                elif len(value) > MAX_VALUE_LEN:
                    errors.setdefault(where, []).append(f"must be at most {MAX_VALUE_LEN} characters")
                else:
                    clean[key] = value
    if len(errors) != before:
        return None
    return Event(event_id=str(event_id), event_type=str(event_type), occurred_at=occurred_at,
                 tenant_id=str(tenant_id), received_at=now, actor_type=actor_type, actor_id=actor_id,
                 entity_type=entity_type, entity_id=entity_id, schema_version=int(schema_version),
                 attributes=clean, source=source)


def validate_batch(body: Any, *, token_tenant: str, now: datetime | None = None) -> list[Event]:
    """One event or an array of them; the whole batch is rejected (400) if any event is invalid."""
    now = dates.truncate_ms(now or datetime.now(UTC))
    single = isinstance(body, dict)
    items = [body] if single else body
    if not isinstance(items, list):
        raise ValidationError("the body must be an AnalyticsEvent object or an array of them",
                              errors={"body": ["must be an object or an array"]})
    if not items:
        raise ValidationError("the batch is empty: send at least one event", errors={"body": ["is empty"]})
    if len(items) > MAX_BATCH:
        raise PayloadTooLarge(f"a batch holds at most {MAX_BATCH} events; this one has {len(items)}",
                              errors={"body": [f"at most {MAX_BATCH} events per request"]})
    errors: dict[str, list[str]] = {}
    events: list[Event] = []
    for i, raw in enumerate(items):
        ev = validate_event(raw, index=None if single else i, now=now, errors=errors)
        if ev is not None:
            events.append(ev)
    if errors:
        bad = sorted({k.split(".")[0] for k in errors if k.startswith("events[")}, key=lambda s: int(s[7:-1]))
        what = (f"{len(bad)} of {len(items)} events are invalid ({', '.join(bad[:10])})" if bad
                else "the event is invalid")
        raise ValidationError(f"{what}; nothing was accepted; see errors for each field", errors=errors)
    from telltale.platform.errors import Forbidden

    for ev in events:
        if ev.tenant_id != token_tenant:
            raise Forbidden("tenantId names a tenant other than the token's; events can only be sent for your own "
                            "tenant")
    return events


# --- The queue message, and the worker's fast reading of it ---------------------------------------------
def message_body(event: Event) -> str:
    """The queue message of a validated event (what the ingest API enqueues): compact JSON, the keys in
    :meth:`Event.to_message` order. The worker reads this exact shape fast (:func:`canonical_rows`)."""
    import json

    return json.dumps(event.to_message(), separators=(",", ":"))


# message_body's output as a regular expression. It accepts only bodies that from_message accepts, and
# captures the values from_message produces: text free of escapes (no backslash, control character or lone
# surrogate in a string, so each captured text is the decoded value as it is), the UUID in lowercase, times
# in milliseconds and UTC. The one rule it leaves out is the calendar (2026-02-30 has the right shape):
# PostgreSQL's timestamptz input refuses such a date, and the worker then checks the batch message by message.
# Any other body (the outbox's, another producer's, one with an escape) goes through from_message.
_TEXT = r'[^"\\\x00-\x1f\ud800-\udfff]'
_TIME = (r"((?:19[7-9]\d|2[01]\d\d|2200)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
         r"T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z)")
_ATTRIBUTE = rf'"[A-Za-z0-9_.:-]{{1,{MAX_KEY_LEN}}}":"{_TEXT}{{0,{MAX_VALUE_LEN}}}"'


def _optional(max_len: int) -> str:
    return rf'(?:null|"({_TEXT}{{1,{max_len}}})")'


_CANONICAL = (
    r'\{"eventId":"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"'
    r',"eventType":"([A-Za-z0-9_-]{1,64}(?:\.[A-Za-z0-9_-]{1,64}){1,7})"'
    rf',"occurredAt":"{_TIME}"'
    rf',"tenantId":"({_TEXT}{{1,{MAX_ID_LEN}}})"'
    rf',"actorType":(?:null|"({"|".join(ACTOR_TYPES)})")'
    rf',"actorId":{_optional(MAX_ID_LEN)},"entityType":{_optional(64)},"entityId":{_optional(MAX_ID_LEN)}'
    r',"schemaVersion":([1-9]\d{0,3}|10000)'
    rf',"attributes":(\{{(?:{_ATTRIBUTE}(?:,{_ATTRIBUTE}){{0,{MAX_ATTRIBUTES - 1}}})?\}})'
    rf',"source":"({"|".join(SOURCES)})"'
    rf',"receivedAt":"{_TIME}"\}}'
)
_canonical_one = re.compile(_CANONICAL + r"\Z").match
_canonical_lines = re.compile(f"^{_CANONICAL}$", re.MULTILINE).findall
# The columns canonical_values and canonical_rows give, in this order. A null is "" (no text column of a
# valid event is ever the empty string: from_message turns "" into None).
CANONICAL_COLUMNS = ("event_id", "event_type", "occurred_at", "tenant_id", "actor_type", "actor_id", "entity_type",
                     "entity_id", "schema_version", "attributes", "source", "received_at")


def canonical_values(body: str) -> tuple[str, ...] | None:
    """The columns of a body in message_body's shape, or None for any other body.

    None does not mean invalid, only that :func:`from_message` must decide. The attributes come as their
    JSON text, the schema version as its digits, a null as "".
    """
    m = _canonical_one(body)
    return m.groups("") if m else None


def canonical_rows(bodies: list[str]) -> list[tuple[str, ...]] | None:
    """:func:`canonical_values` of every body, if all are in message_body's shape; else None.

    One regular-expression scan over the whole batch: no Python code runs per message.
    """
    if not bodies:
        return []
    text = "\n".join(bodies)
    if text.count("\n") != len(bodies) - 1:  # a body with a line break of its own: not the shape
        return None
    rows: list[tuple[str, ...]] = _canonical_lines(text)
    return rows if len(rows) == len(bodies) else None  # each line matches once at most (anchored)


def events_of_canonical(rows: list[tuple[str, ...]]) -> list[Event] | None:
    """The Events of :func:`canonical_rows`' rows (what the regular expression checked needs no second
    check), or None if a time is not on the calendar (the caller reads those bodies with from_message)."""
    import json

    out = []
    try:
        for (event_id, event_type, occurred, tenant, actor_type, actor_id, entity_type, entity_id, version,
             attributes, source, received) in rows:
            out.append(Event(event_id=event_id, event_type=event_type, occurred_at=datetime.fromisoformat(occurred),
                             tenant_id=tenant, received_at=datetime.fromisoformat(received),
                             actor_type=actor_type or None, actor_id=actor_id or None,
                             entity_type=entity_type or None, entity_id=entity_id or None,
                             schema_version=int(version), attributes=json.loads(attributes), source=source))
    except ValueError:  # 2026-02-30 has the shape the expression checks, not a date
        return None
    return out


def from_message(body: str | dict[str, Any]) -> Event:
    """A queue message (from the ingest API or the platform outbox) back to an Event. Raises ValueError."""
    import json

    raw = json.loads(body) if isinstance(body, str) else body
    if not isinstance(raw, dict):
        raise ValueError("the message is not an event object")
    errors: dict[str, list[str]] = {}
    received = raw.get("receivedAt")
    now = dates.timestamp(received) if received else dates.truncate_ms(datetime.now(UTC))
    source = raw.get("source") if raw.get("source") in SOURCES else "api"
    if not raw.get("eventId"):
        raise ValueError("the message has no eventId (the ingest API and the outbox always set one)")
    ev = validate_event(raw, index=None, now=now, errors=errors, source=str(source), from_queue=True)
    if ev is None:
        raise ValueError(f"the message is not a valid event: {errors}")
    if not storable(ev):
        raise ValueError("the message holds a NUL character or a lone surrogate (\\u0000, \\ud800 escapes): no store "
                         "can keep such text")
    return ev


def storable(event: Event) -> bool:
    """False if a text of the event holds a NUL (PostgreSQL's text and jsonb cannot) or a lone surrogate (not
    Unicode, so not UTF-8). JSON escapes can make both; an event with either could never be stored."""
    text = "".join([event.tenant_id, event.event_type, event.actor_type or "", event.actor_id or "",
                    event.entity_type or "", event.entity_id or "", *event.attributes, *event.attributes.values()])
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _event_schema() -> dict[str, Any]:
    """The AnalyticsEvent as JSON Schema, from the rules validate_event enforces (for the API description)."""
    def text(n: int) -> dict[str, Any]:
        return {"type": "string", "maxLength": n}

    return {
        "title": "AnalyticsEvent",
        "type": "object",
        "additionalProperties": False,
        "required": ["eventType", "tenantId"],
        "properties": {
            "eventId": {"type": "string", "format": "uuid", "description": "set by the API when absent"},
            "eventType": {"type": "string", "pattern": EVENT_TYPE_RE.pattern},
            "occurredAt": {"type": "string", "format": "date-time",
                           "description": "ISO 8601 with a zone; the time of receipt when absent"},
            "tenantId": {**text(MAX_ID_LEN), "minLength": 1, "description": "the token's tenant"},
            "actorType": {"type": "string", "enum": list(ACTOR_TYPES)},
            "actorId": text(MAX_ID_LEN), "entityType": text(64), "entityId": text(MAX_ID_LEN),
            "schemaVersion": {"type": "integer", "minimum": 1, "maximum": 10_000},
            "attributes": {"type": "object", "maxProperties": MAX_ATTRIBUTES,
                           "propertyNames": {"pattern": ATTRIBUTE_KEY_RE.pattern},
                           "additionalProperties": text(MAX_VALUE_LEN)},
        },
    }


def ingest_body_schema() -> dict[str, Any]:
    """The body of POST /api/analytics/events: one event, or an array of 1 to MAX_BATCH of them."""
    event = _event_schema()
    return {"title": "AnalyticsEvents", "oneOf": [event, {"type": "array", "items": event, "minItems": 1,
                                                          "maxItems": MAX_BATCH}]}
