"""Secrets API (spec 000, steps 1 and 2): secret types, and connection secrets per app.

Values go in and never come out: list and get return metadata only.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.platform.tenancy import get_app
from telltale.secrets import service
from telltale.web.http import current_auth, lambda_handler, logger, success
from telltale.web.openapi import takes_body
from telltale.web.paging import page_params

router = APIGatewayHttpRouter()
BASE = "/api/apps/<app_slug>/secrets"


@router.get(f"{BASE}/types/", summary="List the analytics secret types and their fields", tags=["Secrets"])
def list_types(app_slug: str):
    auth = current_auth(router)
    get_app(auth.tenant_id, app_slug)
    types = service.list_types()
    return success(types, total=len(types))


@router.get(f"{BASE}/", summary="List the app's secrets (metadata only)", tags=["Secrets"])
def list_secrets(app_slug: str):
    auth = current_auth(router)
    page = page_params(router)
    rows, total = service.list_secrets(auth, app_slug, limit=page.page_size, offset=page.offset)
    return success(rows, total=total, page=page.page, page_size=page.page_size)


@router.post(f"{BASE}/", summary="Create a connection secret", tags=["Secrets"])
@takes_body(router, service.SecretCreate, status=201)
def create_secret(app_slug: str, body: service.SecretCreate):
    auth = current_auth(router)
    meta = service.create(auth, app_slug, body)
    logger.info("secret created", extra={"tenant": auth.tenant_id, "app": app_slug, "key": body.key,
                                          "type": body.type_slug})
    return success(meta, message="Secret created successfully", status=201)


@router.get(f"{BASE}/<key>/", summary="Get a secret's metadata (never its value)", tags=["Secrets"])
def get_secret(app_slug: str, key: str):
    auth = current_auth(router)
    return success(service.get_meta(auth, app_slug, key))


@router.put(f"{BASE}/<key>/", summary="Replace a secret's value (rotation)", tags=["Secrets"])
@takes_body(router, service.SecretUpdate)
def update_secret(app_slug: str, key: str, body: service.SecretUpdate):
    auth = current_auth(router)
    return success(service.update(auth, app_slug, key, body), message="Secret updated successfully")


@router.patch(f"{BASE}/<key>/", summary="Change a secret's description, its value, or both; what is not sent stays",
              tags=["Secrets"])
@takes_body(router, service.SecretPatch)
def patch_secret(app_slug: str, key: str, body: service.SecretPatch):
    auth = current_auth(router)
    return success(service.update(auth, app_slug, key, body), message="Secret updated successfully")


@router.delete(f"{BASE}/<key>/", summary="Delete a secret", tags=["Secrets"])
def delete_secret(app_slug: str, key: str):
    auth = current_auth(router)
    service.delete(auth, app_slug, key)
    return success(message="Secret deleted successfully")


app, handler = lambda_handler(router)
