"""Saved queries API (spec 000): list, create, get, update and delete query templates of an app, and
look up the record of an execution by its ``execution_key``. Execution itself is its own function
(``functions/execute_query``) so that this one never loads a database driver."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.queries import service
from telltale.queries.models import QueryCreate, QueryUpdate
from telltale.web.http import current_auth, lambda_handler, logger, success
from telltale.web.openapi import takes_body
from telltale.web.paging import page_params

router = APIGatewayHttpRouter()
BASE = "/api/apps/<app_slug>/analytics/queries"


@router.get(f"{BASE}/", summary="List the app's saved queries (paged; filter by tag or search by name)",
            tags=["Analytics queries"])
def list_queries(app_slug: str):
    auth = current_auth(router)
    page = page_params(router)
    q = router.current_event.query_string_parameters or {}
    rows, total = service.list_queries(auth, app_slug, limit=page.page_size, offset=page.offset,
                                       tag=q.get("tag") or None, search=q.get("search") or None)
    return success(rows, total=total, page=page.page, page_size=page.page_size)


@router.post(f"{BASE}/", summary="Create a saved query (the template is validated now)", tags=["Analytics queries"])
@takes_body(router, QueryCreate, status=201)
def create_query(app_slug: str, body: QueryCreate):
    auth = current_auth(router)
    row = service.create(auth, app_slug, body)
    logger.info("saved query created", extra={"tenant": auth.tenant_id, "app": app_slug, "slug": row["slug"],
                                               "connection_type": row["connection_type"]})
    return success(row, message="Query created successfully", status=201)


@router.get(f"{BASE}/<slug>/", summary="Get a saved query", tags=["Analytics queries"])
def get_query(app_slug: str, slug: str):
    auth = current_auth(router)
    return success(service.get(auth, app_slug, slug))


@router.put(f"{BASE}/<slug>/", summary="Update a saved query (any field; re-validated)", tags=["Analytics queries"])
@takes_body(router, QueryUpdate)
def update_query(app_slug: str, slug: str, body: QueryUpdate):
    auth = current_auth(router)
    return success(service.update(auth, app_slug, slug, body), message="Query updated successfully")


@router.delete(f"{BASE}/<slug>/", summary="Delete a saved query", tags=["Analytics queries"])
def delete_query(app_slug: str, slug: str):
    auth = current_auth(router)
    service.delete(auth, app_slug, slug)
    return success(message="Query deleted successfully")


@router.get(f"{BASE}/<slug>/executions/", summary="List the query's executions (newest first)",
            tags=["Analytics queries"])
def list_executions(app_slug: str, slug: str):
    auth = current_auth(router)
    page = page_params(router)
    rows, total = service.list_executions(auth, app_slug, slug, limit=page.page_size, offset=page.offset)
    return success(rows, total=total, page=page.page, page_size=page.page_size)


@router.get(f"{BASE}/<slug>/executions/<execution_key>/", summary="Get one execution's record",
            tags=["Analytics queries"])
def get_execution(app_slug: str, slug: str, execution_key: str):
    auth = current_auth(router)
    return success(service.get_execution(auth, app_slug, slug, execution_key))


app, handler = lambda_handler(router)
