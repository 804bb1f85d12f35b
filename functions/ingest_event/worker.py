"""The events queue worker: writes each SQS batch to the event store, reporting partial batch failures.

Messages come from POST /api/analytics/events and from the platform's outbox (telltale.platform.outbox), both in
the AnalyticsEvent shape. The store is idempotent on (tenant, eventId), so a redelivered message (after
a timeout, a crash or a partial failure) is stored once. A message that keeps failing goes to the
dead-letter queue after maxReceiveCount receives (``telltale dlq list|redrive`` locally).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from telltale.events import service
from telltale.platform.log import powertools_logger

logger = powertools_logger()  # from telltale.platform.log, not telltale.web.http: no HTTP resolver to import

processor = BatchProcessor(event_type=EventType.SQS)


class _Failed(Exception):
    pass


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    # The whole batch is written at once (what makes the worker fast); the record handler below then only
    # reports each record's outcome to the BatchProcessor.
    stored, failed = service.store_messages([(r["messageId"], r.get("body") or "") for r in records])
    failed_ids = set(failed)
    logger.info("events batch", extra={"received": len(records), "stored": len(stored), "failed": len(failed)})
    if not failed:
        # What the BatchProcessor answers when every record succeeded, without its per-record bookkeeping
        # (a few milliseconds per thousand records).
        return {"batchItemFailures": []}

    def record_handler(record: SQSRecord) -> None:
        if record.message_id in failed_ids:
            raise _Failed(record.message_id)

    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                         context=context))
