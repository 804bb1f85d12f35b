"""Execute a saved query (spec 000): render, guard, run read-only, reply with rows, columns and the
``execution_key`` of the run's record. Only the driver the query needs is imported.

This function serves one route, so its handler takes API Gateway's event directly
(:func:`telltale.web.replies.single_route`) instead of loading a router: a cold start here is the latency a
user waits for on their first query, and Powertools' event-handler package is one of its largest imports
(benchmarks/README.md, "execute_query cold start", has the figures). The API docs
(functions/api_docs/describe.py) describe the route through :func:`documented_router`, which only the
describer calls. Deployed with SnapStart, the imports every query could need happen once, before the
snapshot (:mod:`telltale.queries.warm`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telltale.platform.errors import NotFound
from telltale.queries import service, warm
from telltale.web.auth import check_body_tenant, from_event
from telltale.web.replies import envelope, event_json_body, single_route

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

PATH = "/api/apps/<app_slug>/analytics/queries/<slug>/execute/"


def execute(event: dict[str, Any], path_parameters: dict[str, str]) -> tuple[int, dict[str, Any]]:
    app_slug, slug = path_parameters.get("app_slug"), path_parameters.get("slug")
    if not app_slug or not slug:
        raise NotFound("no such route")
    auth = from_event(event)
    # An empty body is fine: a template without variables needs no params.
    params = service.params_from_body(check_body_tenant(auth, event_json_body(event)))
    reply = service.execute(auth, app_slug, slug, params)
    return 200, envelope(reply.pop("data"), message="Query executed successfully", total=reply.pop("total"),
                         **reply)


handler = single_route(execute)

# With SnapStart on (template.yaml), the drivers, sqlglot and the AWS client are set up once, before the
# version's snapshot; elsewhere this registers nothing and imports only what a route needs, as before.
warm.register()


def documented_router() -> APIGatewayHttpRouter:
    """The route as a Powertools router with its request body's model, for the API docs only: the handler
    above never builds it (pydantic and the event-handler package stay out of the cold start)."""
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
    from pydantic import BaseModel, ConfigDict, Field

    from telltale.web.http import json_response
    from telltale.web.openapi import documents_body

    class ExecuteQueryBody(BaseModel):
        """What service.params_from_body accepts (described here only: execution defines no model)."""

        model_config = ConfigDict(extra="forbid")
        params: dict[str, Any] = Field(default_factory=dict,
                                       description="The template's variables, by name; values, never SQL")

    router = APIGatewayHttpRouter()

    @router.post(PATH, summary="Execute a saved query", tags=["Analytics queries"])
    @documents_body(ExecuteQueryBody, optional=True)
    def execute_query(app_slug: str, slug: str):  # type: ignore[no-untyped-def]
        status, body = execute(router.current_event.raw_event, {"app_slug": app_slug, "slug": slug})
        return json_response(status, body)

    return router
