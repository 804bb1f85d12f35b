"""API request analytics (spec 002): API keys, request-batch ingestion and the data API.

``POST /api/keys`` is a tenant's (Bearer JWT). Everything else is authenticated by the API key in the
``X-AUTH-TOKEN`` header: those routes are public at the gateway and the key is checked here.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.apianalytics import ingest, keys, peer, query
from telltale.platform.errors import TelltaleError, ValidationError
from telltale.web.http import JSON, current_auth, dumps, json_body, json_response, lambda_handler, logger, success
from telltale.web.openapi import documents_body, takes_body
from telltale.web.replies import log_error

router = APIGatewayHttpRouter()
# These routes authenticate with an API key, not the JWT (the OpenAPI description says so).
API_KEY_AUTH: list[dict[str, list[str]]] = [{"apiKey": []}]


def _key() -> keys.ApiKey:
    return keys.authenticate(router.current_event.headers)


@router.post("/api/keys", summary="Generate an API key (shown once, stored hashed)", tags=["API analytics"])
@takes_body(router, keys.KeyCreate, status=201, optional=True)
def create_key(body: keys.KeyCreate):
    auth = current_auth(router)
    created = keys.create(auth.tenant_id, auth.user_id, body.name)
    logger.info("api key created", extra={"tenant": auth.tenant_id, "key_id": str(created["id"])})
    return success(created, message="API key created; store it now, it is not shown again", status=201)


@router.get("/api/keys", summary="List the tenant's API keys (never the keys themselves)", tags=["API analytics"])
def list_keys():
    auth = current_auth(router)
    rows = keys.list_keys(auth.tenant_id)
    return success(rows, total=len(rows))


@router.delete("/api/keys/<key_id>", summary="Revoke an API key: it stops working at once, and its data is deleted",
               tags=["API analytics"])
def revoke_key(key_id: str):
    auth = current_auth(router)
    keys.revoke(auth.tenant_id, key_id)
    logger.info("api key revoked", extra={"tenant": auth.tenant_id, "key_id": key_id})
    return success(message="API key revoked; it no longer authenticates and the data logged with it was deleted")


@router.post("/api/requests", security=API_KEY_AUTH,
             summary="Ingest a batch of logged requests (X-AUTH-TOKEN)", tags=["API analytics"])
@documents_body(ingest.RequestBatch, status=201)
def ingest_requests():
    key = _key()
    batch = ingest.parse_batch(json_body(router))
    stored = ingest.store(key, batch)
    return success({"stored": stored}, message="Requests logged", status=201)


@router.post("/api/log-request", security=API_KEY_AUTH,
             summary="Ingest a batch from an api-analytics client (the peer's protocol: api_key in the body)",
             tags=["API analytics"])
@documents_body(peer.PeerPayload, status=201)
def log_request():
    # The peer's clients read nothing but the status, yet its replies are {status, message}: so are these.
    headers = router.current_event.headers
    try:
        body, unreadable = None, None
        try:
            body = peer.body_of(router.current_event.raw_event)
        except ValidationError as exc:  # told only to a caller with a key
            unreadable = exc
        key = keys.authenticate({keys.HEADER: peer.api_key_of(body, headers, unreadable)})  # before the rest
        if unreadable is not None:
            raise unreadable
        batch = peer.read(body, headers)
        if not batch.records:
            raise peer.nothing_stored(batch)
        stored = peer.store(key, batch)
    except TelltaleError as exc:
        log_error(exc)  # as the resolver logs the errors it answers
        return json_response(exc.status_code, peer.reply(exc.status_code, exc.message, errors=exc.errors))
    if batch.n_skipped:
        logger.info("api-analytics batch: rows skipped", extra={"tenant": key.tenant_id, "key_id": key.id,
                                                                 "stored": stored, "skipped": batch.n_skipped})
    return json_response(201, peer.success_reply(batch, stored))


@router.get("/api/data", security=API_KEY_AUTH,
             summary="Logged requests, filtered, 50,000 per page; X-Next-Cursor gives the next (X-AUTH-TOKEN)",
             tags=["API analytics"])
def get_data():
    key = _key()
    f = query.require_valid(query.parse_filters(router.current_event.query_string_parameters, query.DATA_PARAMS))
    rows, after = query.fetch_page(key, f)
    body = dumps(query.compact_rows(rows) if f.compact else rows)
    query.require_deliverable(len(body), (router.current_event.headers or {}).get("accept-encoding"))
    headers = {"X-Page": str(f.page), "X-Page-Size": str(query.PAGE_SIZE)}
    if after is not None:  # the next page, at the cost of the first: ?cursor=<this>
        headers["X-Next-Cursor"] = after.encode()
    return Response(status_code=200, content_type=JSON, body=body, compress=True, headers=headers)


@router.delete("/api/data", security=API_KEY_AUTH,
             summary="Delete all data logged with this key (X-AUTH-TOKEN)", tags=["API analytics"])
def delete_data():
    key = _key()
    # It deletes everything: a filter here would look as if it narrowed the delete, so refuse one.
    if router.current_event.query_string_parameters:
        raise ValidationError("DELETE /api/data takes no parameters: it deletes all data logged with the key",
                              errors=query.unknown_params(router.current_event.query_string_parameters, ()))
    deleted = query.delete_all(key)
    logger.info("api analytics data deleted", extra={"tenant": key.tenant_id, "key_id": key.id, **deleted})
    return success({"deleted": deleted}, message="All data logged with this API key was deleted")


@router.get("/api/stats", security=API_KEY_AUTH,
             summary="Dashboard aggregates over the filtered requests (X-AUTH-TOKEN)",
            tags=["API analytics"])
def get_stats():
    key = _key()
    f = query.require_valid(query.parse_filters(router.current_event.query_string_parameters))
    return success(query.stats(key, f))


app, handler = lambda_handler(router)
