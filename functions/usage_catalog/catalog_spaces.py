"""`/spaces`: the groups data products belong to (spec 001)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.usage import catalog
from telltale.web.http import current_auth, json_response
from telltale.web.openapi import takes_body
from telltale.web.paging import listing, page_params

router = APIGatewayHttpRouter()
TAGS = ["Usage analytics: catalog"]


@router.get("/spaces", summary="List spaces", tags=TAGS)
def list_spaces():
    auth = current_auth(router)
    page = page_params(router)
    items, total = catalog.list_spaces(auth, limit=page.page_size, offset=page.offset)
    return json_response(200, listing(items, total, page))


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
