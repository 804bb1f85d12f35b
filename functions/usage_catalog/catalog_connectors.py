"""`/connectors`: the BI tools and warehouses a tenant reads usage from (spec 001; credentials in Secrets
Manager, never returned)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.usage import catalog, integrations
from telltale.web.http import current_auth, json_response, logger
from telltale.web.openapi import takes_body
from telltale.web.paging import listing, page_params

router = APIGatewayHttpRouter()
TAGS = ["Usage analytics: catalog"]


@router.get("/connectors", summary="List connectors (credentials never included)", tags=TAGS)
def list_connectors():
    auth = current_auth(router)
    page = page_params(router)
    type_ = (router.current_event.query_string_parameters or {}).get("type")
    items, total = catalog.list_connectors(auth, limit=page.page_size, offset=page.offset, type_=type_)
    return json_response(200, listing(items, total, page))


CONNECTOR_DOC = (
    "Body: {name, type, config, credentials}. `credentials` go to Secrets Manager and are never returned. "
    "Per type: " + "; ".join(f"**{k}**: {v.doc}" for k, v in integrations.REGISTRY.items())
    + ". Optional config for every HTTP tool: timeout_s, max_retries, retry_backoff_s, max_retry_wait_s, "
    "page_size, dialect (the SQL dialect of the tool's database); for the warehouses: lookback_days "
    "(first mining window, default 30), overlap_minutes (Snowflake, default 180)."
)


@router.post("/connectors", summary="Register a connector: {name, type, config, credentials}",
             description=CONNECTOR_DOC, tags=TAGS)
@takes_body(router, catalog.ConnectorCreate, status=201)
def create_connector(body: catalog.ConnectorCreate):
    auth = current_auth(router)
    row = catalog.create_connector(auth, body)
    logger.info("connector created", extra={"tenant": auth.tenant_id, "connector": str(row["id"]), "type": body.type})
    return json_response(201, row)


@router.get("/connectors/<connector_id>", summary="Get a connector", tags=TAGS)
def get_connector(connector_id: str):
    auth = current_auth(router)
    return json_response(200, catalog.get_connector(auth, connector_id))


@router.put("/connectors/<connector_id>", summary="Update a connector's name, config or credentials", tags=TAGS)
@takes_body(router, catalog.ConnectorUpdate)
def update_connector(connector_id: str, body: catalog.ConnectorUpdate):
    auth = current_auth(router)
    return json_response(200, catalog.update_connector(auth, connector_id, body))


@router.delete("/connectors/<connector_id>", summary="Delete a connector, its secret and its BI queries", tags=TAGS)
def delete_connector(connector_id: str):
    auth = current_auth(router)
    catalog.delete_connector(auth, connector_id)
    return Response(status_code=204, body="")
