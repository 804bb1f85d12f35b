"""Usage aggregation (spec 001): recompute ProductUsageStats for a space, read usage, unused products and
popular query patterns; a schedule recomputes every space."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths

from telltale.platform.errors import ValidationError
from telltale.usage import aggregate
from telltale.web.http import current_auth, json_response, logger, make_resolver

router = APIGatewayHttpRouter()
TAGS = ["Usage analytics: aggregation"]


def _int_param(name: str, default: int, lo: int, hi: int) -> int:
    raw = (router.current_event.query_string_parameters or {}).get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"invalid query parameter '{name}'",
                              errors={name: [f"must be an integer between {lo} and {hi}"]}) from None
    if not lo <= value <= hi:
        raise ValidationError(f"invalid query parameter '{name}'", errors={name: [f"must be between {lo} and {hi}"]})
    return value


@router.post("/spaces/<slug>/usage/aggregate", summary="Recompute ProductUsageStats for every product in a space",
             tags=TAGS)
def aggregate_space(slug: str):
    auth = current_auth(router)
    return json_response(200, {"products_updated": aggregate.aggregate_space(auth.tenant_id, slug)})


@router.get("/spaces/<slug>/usage", summary="ProductUsageStats of every product in the space", tags=TAGS)
def space_usage(slug: str):
    auth = current_auth(router)
    return json_response(200, aggregate.space_usage(auth.tenant_id, slug))


@router.get("/spaces/<slug>/usage/unused", summary="Products with no BI query references in the last `days` days",
            tags=TAGS)
def unused(slug: str):
    auth = current_auth(router)
    days = _int_param("days", 30, 1, 3650)
    return json_response(200, aggregate.unused_products(auth.tenant_id, slug, days))


@router.get("/spaces/<slug>/usage/popular-queries", summary="The most frequent anonymized query patterns", tags=TAGS)
def popular_queries(slug: str):
    auth = current_auth(router)
    days = _int_param("days", 30, 1, 3650)
    limit = _int_param("limit", 20, 1, 200)
    return json_response(200, aggregate.popular_queries(auth.tenant_id, slug, days=days, limit=limit))


app = make_resolver()
app.include_router(router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event":
        result = aggregate.aggregate_all()
        logger.info("scheduled aggregation done", extra={"tenants": len(result)})
        return {"tenants": len(result), "products_updated": sum(result.values())}
    return app.resolve(event, context)
