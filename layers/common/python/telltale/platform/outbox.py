"""The internal event outbox: the platform publishes its own events (a secret created, a saved query
created or executed, ...) into the same event store as client events (spec 004, "internal event outbox").

Events go through the same queue and worker as ``POST /api/analytics/events``; each message body is one
event in the spec's AnalyticsEvent shape. Publishing never fails the request that caused it: if the
queue is down the event is logged and dropped (the request itself has already succeeded).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from telltale.platform.config import get_settings


def publish(tenant_id: str, event_type: str, *, actor_id: str | None = None, actor_type: str = "TENANT_STAFF",
            entity_type: str | None = None, entity_id: str | None = None,
            attributes: dict[str, str] | None = None) -> None:
    event = {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "occurredAt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tenantId": tenant_id,
        "actorType": actor_type if actor_id else "SYSTEM",
        "actorId": actor_id,
        "entityType": entity_type,
        "entityId": entity_id,
        "schemaVersion": 1,
        "attributes": {k: str(v) for k, v in (attributes or {}).items()},
        "source": "platform",
    }
    url = get_settings().events_queue_url
    if not url:
        return
    try:
        from telltale.platform import queue

        queue.send_batch(url, [json.dumps(event)])
    except Exception:  # noqa: BLE001 - the outbox must not fail the request that caused the event
        from telltale.platform.log import logger

        logger.warning("outbox event dropped", extra={"event_type": event_type, "tenant": tenant_id})
