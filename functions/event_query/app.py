"""The analytics query (spec 004): POST /api/analytics/query -> columns, rows, generatedAt, stats; and the
product analytics beside it (issue 14): POST /api/analytics/stickiness, in the same envelope.

The DSL is compiled to SQL by telltale.events.dsl (sqlglot expressions, bind parameters) and run on the
tenant's event store (PostgreSQL or ClickHouse).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.events import dsl, product, service
from telltale.platform.errors import ValidationError
from telltale.web.http import current_auth, json_body, json_response, lambda_handler
from telltale.web.openapi import documents_body

router = APIGatewayHttpRouter()


@router.post("/api/analytics/query", summary="Run an analytics query over the tenant's events",
             tags=["Analytics"])
@documents_body(dsl.Query)
def query():
    auth = current_auth(router)
    body = json_body(router)
    if body is None:
        raise ValidationError("a JSON body is required: the query", errors={"body": ["is required"]})
    return json_response(200, service.run_query(body, tenant_id=auth.tenant_id))


@router.post("/api/analytics/stickiness", summary="Stickiness: how many actors were active in exactly n periods",
             tags=["Analytics"])
@documents_body(product.Stickiness)
def stickiness():
    auth = current_auth(router)
    body = json_body(router)
    if body is None:
        raise ValidationError("a JSON body is required", errors={"body": ["is required"]})
    return json_response(200, service.run_stickiness(body, tenant_id=auth.tenant_id))


app, handler = lambda_handler(router)
