"""`/spaces/{slug}/products`: a space's data products and the tables they own, with their usage (spec 001)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.usage import catalog
from telltale.web.http import current_auth, json_response
from telltale.web.openapi import takes_body
from telltale.web.paging import listing, page_params

router = APIGatewayHttpRouter()
TAGS = ["Usage analytics: catalog"]


@router.get("/spaces/<slug>/products", summary="List the data products of a space", tags=TAGS)
def list_products(slug: str):
    auth = current_auth(router)
    page = page_params(router)
    items, total = catalog.list_products(auth, slug, limit=page.page_size, offset=page.offset)
    return json_response(200, listing(items, total, page))


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
