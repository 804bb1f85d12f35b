"""Event ingestion (spec 004): POST /api/analytics/events -> validate -> queue -> 202 with no body.

The write to the event store happens in worker.py, from the queue; the API only answers 202 once every
event of the request is durably queued (else 503 and the client retries: nothing is half-accepted).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.events import models, service
from telltale.web.http import current_auth, json_body, lambda_handler, logger
from telltale.web.openapi import documents_json_body, documents_reply

router = APIGatewayHttpRouter()


@router.post("/api/analytics/events", summary="Ingest one event or an array of events (202, async)",
             tags=["Analytics"])
@documents_reply(202, errors={413: "more events than a batch may hold"})
@documents_json_body("AnalyticsEvents", models.ingest_body_schema(), status=202)
def ingest():
    auth = current_auth(router)
    body = json_body(router)
    if body is None:
        from telltale.platform.errors import ValidationError

        raise ValidationError("a JSON body is required: an AnalyticsEvent or an array of them",
                              errors={"body": ["is required"]})
    n = service.accept(body, token_tenant=auth.tenant_id)
    logger.info("events accepted", extra={"tenant": auth.tenant_id, "count": n})
    return Response(status_code=202, body="")


app, handler = lambda_handler(router)
