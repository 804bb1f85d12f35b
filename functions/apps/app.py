"""Apps of a tenant: the scope of secrets and saved queries, and the prefix of its internal tables."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from telltale.platform import tenancy
from telltale.web.http import current_auth, lambda_handler, success
from telltale.web.openapi import takes_body

router = APIGatewayHttpRouter()


class AppCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=tenancy.APP_SLUG_RE.pattern,
                      description="Lowercase letters, digits and '_', starting with a letter; the table prefix")
    name: str = Field(min_length=1, max_length=200)


@router.get("/api/apps/", summary="List the tenant's apps", tags=["Apps"])
def list_apps():
    auth = current_auth(router)
    rows = tenancy.list_apps(auth.tenant_id)
    return success(rows, total=len(rows))


@router.post("/api/apps/", summary="Create an app", tags=["Apps"])
@takes_body(router, AppCreate, status=201)
def create_app(body: AppCreate):
    auth = current_auth(router)
    return success(tenancy.create_app(auth.tenant_id, body.slug, body.name), message="App created successfully",
                   status=201)


@router.get("/api/me", summary="Who the token says you are", tags=["Apps"])
def me():
    return success(current_auth(router).as_dict())


app, handler = lambda_handler(router)
