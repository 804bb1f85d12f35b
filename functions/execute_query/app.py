"""Execute a saved query (spec 000): render, guard, run read-only, reply with rows, columns and the
``execution_key`` of the run's record. Only the driver the query needs is imported."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import ValidationError as PydanticValidationError

from telltale.errors import QueryValidationError, pydantic_errors
from telltale.http import current_auth, json_body, lambda_handler, success
from telltale.queries import service
from telltale.queries.models import ExecuteBody

router = APIGatewayHttpRouter()


@router.post("/api/apps/<app_slug>/analytics/queries/<slug>/execute/", summary="Execute a saved query",
             tags=["Analytics queries"])
def execute_query(app_slug: str, slug: str):
    auth = current_auth(router)
    raw = json_body(router)
    # An empty body is fine: a template without variables needs no params.
    try:
        body = ExecuteBody.model_validate(raw if raw is not None else {})
    except PydanticValidationError as exc:
        raise QueryValidationError("the request body is invalid; send {\"params\": {...}}",
                                   errors=pydantic_errors(exc)) from None
    reply = service.execute(auth, app_slug, slug, body.params)
    return success(reply.pop("data"), message="Query executed successfully", total=reply.pop("total"), **reply)


app, handler = lambda_handler(router)
