"""Usage analytics catalog (spec 001): connectors (credentials in Secrets Manager, never returned), spaces,
and the data products of a space with the tables they own."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.usage import catalog
from telltale.web.http import current_auth, json_response, lambda_handler, logger
from telltale.web.openapi import takes_body
from telltale.web.paging import page_params

router = APIGatewayHttpRouter()
TAGS = ["Usage analytics: catalog"]


def _page(items: list[Any], total: int, page: Any) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page.page, "page_size": page.page_size}


@router.get("/connectors", summary="List connectors (credentials never included)", tags=TAGS)
def list_connectors():
    auth = current_auth(router)
    page = page_params(router)
    type_ = (router.current_event.query_string_parameters or {}).get("type")
    items, total = catalog.list_connectors(auth, limit=page.page_size, offset=page.offset, type_=type_)
    return json_response(200, _page(items, total, page))


CONNECTOR_DOC = (
    "Body: {name, type, config, credentials}. `credentials` go to Secrets Manager and are never returned. "
    "Per type: " + "; ".join(f"**{k}**: {v['doc']}" for k, v in catalog.CONNECTOR_TYPES.items())
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


@router.get("/spaces", summary="List spaces", tags=TAGS)
def list_spaces():
    auth = current_auth(router)
    page = page_params(router)
    items, total = catalog.list_spaces(auth, limit=page.page_size, offset=page.offset)
    return json_response(200, _page(items, total, page))


@router.post("/spaces", summary="Create a space: {slug, name, description}", tags=TAGS)
@takes_body(router, catalog.SpaceCreate, status=201)
def create_space(body: catalog.SpaceCreate):
    auth = current_auth(router)
    return json_response(201, catalog.create_space(auth, body))


@router.get("/spaces/<slug>", summary="Get a space", tags=TAGS)
def get_space(slug: str):
    auth = current_auth(router)
    return json_response(200, catalog.get_space(auth.tenant_id, slug))


@router.put("/spaces/<slug>", summary="Update a space's name or description", tags=TAGS)
@takes_body(router, catalog.SpaceUpdate)
def update_space(slug: str, body: catalog.SpaceUpdate):
    auth = current_auth(router)
    return json_response(200, catalog.update_space(auth, slug, body))


@router.delete("/spaces/<slug>", summary="Delete a space and its products", tags=TAGS)
def delete_space(slug: str):
    auth = current_auth(router)
    catalog.delete_space(auth, slug)
    return Response(status_code=204, body="")


@router.get("/spaces/<slug>/products", summary="List the data products of a space", tags=TAGS)
def list_products(slug: str):
    auth = current_auth(router)
    page = page_params(router)
    items, total = catalog.list_products(auth, slug, limit=page.page_size, offset=page.offset)
    return json_response(200, _page(items, total, page))


@router.post("/spaces/<slug>/products", summary="Create a data product: {name, tables: [schema.table]}", tags=TAGS)
@takes_body(router, catalog.ProductCreate, status=201)
def create_product(slug: str, body: catalog.ProductCreate):
    auth = current_auth(router)
    return json_response(201, catalog.create_product(auth, slug, body))


@router.get("/spaces/<slug>/products/<product_id>", summary="Get a data product with its usage stats", tags=TAGS)
def get_product(slug: str, product_id: str):
    auth = current_auth(router)
    return json_response(200, catalog.get_product(auth, slug, product_id))


@router.put("/spaces/<slug>/products/<product_id>", summary="Update a data product", tags=TAGS)
@takes_body(router, catalog.ProductUpdate)
def update_product(slug: str, product_id: str, body: catalog.ProductUpdate):
    auth = current_auth(router)
    return json_response(200, catalog.update_product(auth, slug, product_id, body))


@router.delete("/spaces/<slug>/products/<product_id>", summary="Delete a data product", tags=TAGS)
def delete_product(slug: str, product_id: str):
    auth = current_auth(router)
    catalog.delete_product(auth, slug, product_id)
    return Response(status_code=204, body="")


app, handler = lambda_handler(router)
