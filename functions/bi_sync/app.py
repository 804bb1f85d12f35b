"""BI sync and query-log mining (spec 001), the connectors' sync jobs and BiQuery rows; the scheduled sync
(an EventBridge schedule queues a job per connector) and the queue worker that runs the jobs, all through
the same handler."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths

from telltale.platform.errors import ValidationError
from telltale.usage import catalog, store, sync
from telltale.web.http import current_auth, json_response, logger, make_resolver
from telltale.web.openapi import documents_reply
from telltale.web.paging import page_params

router = APIGatewayHttpRouter()
TAGS = ["Usage analytics: BI sync"]
RESOURCE_TYPES = ("saved_query", "chart", "dashboard_chart", "query_log")


_QUEUE_ERRORS = {404: "No such connector (in this tenant)",
                 409: "A sync of this connector is already queued",
                 503: "The sync queue is unavailable; the job is recorded as failed, try again"}


@router.post("/connectors/<connector_id>/bi-sync",
             summary="Run a full BI scrape: 200 with the finished SyncJob (spec 001), or 202 with the job when it"
                     " is still running after TELLTALE_USAGE_SYNC_WAIT_S (follow it at GET /sync-jobs/{id})",
             tags=TAGS)
@documents_reply(200, errors={202: "Still running: the SyncJob, to follow at GET /sync-jobs/{id}", **_QUEUE_ERRORS})
def bi_sync(connector_id: str):
    auth = current_auth(router)
    job, finished = sync.wait_for(auth.tenant_id, sync.request_bi_sync(auth.tenant_id, connector_id))
    return json_response(200 if finished else 202, job)


@router.post("/connectors/<connector_id>/query-log-mining",
             summary="Mine a warehouse's query log (snowflake, bigquery, postgres) from where it stopped: 200 with"
                     " {rows_upserted, job_id, status} when the run is over, or 202 with the SyncJob when it is"
                     " still running after TELLTALE_USAGE_SYNC_WAIT_S", tags=TAGS)
@documents_reply(200, errors={202: "Still running: the SyncJob, whose rows_upserted is set when the run is over",
                              **_QUEUE_ERRORS})
def query_log_mining(connector_id: str):
    auth = current_auth(router)
    job, finished = sync.wait_for(auth.tenant_id, sync.request_mining(auth.tenant_id, connector_id))
    return json_response(200, sync.mining_reply(job)) if finished else json_response(202, job)


@router.get("/connectors/<connector_id>/sync-jobs", summary="The connector's sync jobs, newest first", tags=TAGS)
def list_sync_jobs(connector_id: str):
    auth = current_auth(router)
    page = page_params(router)
    catalog.get_connector(auth, connector_id)
    items, total = store.list_jobs(auth.tenant_id, connector_id, limit=page.page_size, offset=page.offset)
    return json_response(200, {"items": items, "total": total, "page": page.page, "page_size": page.page_size})


@router.get("/sync-jobs/<job_id>", summary="One sync job", tags=TAGS)
def get_sync_job(job_id: str):
    auth = current_auth(router)
    return json_response(200, store.get_job(auth.tenant_id, job_id))


@router.get("/connectors/<connector_id>/bi-queries", summary="The connector's BiQuery rows (paged)", tags=TAGS)
def list_bi_queries(connector_id: str):
    auth = current_auth(router)
    page = page_params(router, default_size=50, max_size=500)
    catalog.get_connector(auth, connector_id)
    rt = (router.current_event.query_string_parameters or {}).get("resource_type")
    if rt is not None and rt not in RESOURCE_TYPES:
        raise ValidationError("invalid filter",
                              errors={"resource_type": [f"must be one of {', '.join(RESOURCE_TYPES)}"]})
    items, total = store.list_bi_queries(auth.tenant_id, connector_id, limit=page.page_size, offset=page.offset,
                                         resource_type=rt)
    return json_response(200, {"items": items, "total": total, "page": page.page, "page_size": page.page_size})


app = make_resolver()
app.include_router(router)


def _is_schedule(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event"


def _is_queue(event: dict[str, Any]) -> bool:
    records = event.get("Records") or []
    return bool(records) and records[0].get("eventSource") == "aws:sqs"


def _run_job(record: Any) -> None:
    sync.run_queued(record.body)


def _run_queue_batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Imported here: the API and the schedule, which share this handler, never need the batch utilities.
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    # One job per message (BatchSize 1); a record that raises is retried by the queue.
    return dict(process_partial_response(event=event, record_handler=_run_job,
                                         processor=BatchProcessor(event_type=EventType.SQS), context=context))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if _is_queue(event):
        return _run_queue_batch(event, context)
    if _is_schedule(event):
        detail = event.get("detail") or {}
        result = sync.scheduled_sync_all(int(detail.get("min_interval_minutes", sync.SCHEDULE_MIN_INTERVAL_MINUTES)))
        logger.info("scheduled sync done", extra=result)
        return result
    return app.resolve(event, context)
