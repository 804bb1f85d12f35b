"""SaaS analysis (spec 003): user behavior, active users, metrics, page statistics, userinfo call counts.

Errors use the spec's shape ``{"type": ..., "message": ...}`` (not the platform envelope), with the
offending parameter named in the message.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.logging import correlation_paths
from pydantic import ValidationError as PydanticValidationError

from telltale.events import product
from telltale.platform import dates
from telltale.platform.errors import TelltaleError, ValidationError, pydantic_errors
from telltale.saas import service
from telltale.web.http import current_auth, json_body, json_response, logger, make_resolver, request_validation_errors
from telltale.web.openapi import documents_body, documents_query

router = APIGatewayHttpRouter()
BASE = "/api/analysis"

# The query parameters each route reads, as the API description states them (service.py enforces them).
DAY = {"type": "string", "pattern": service.DAY_PATTERN, "description": dates.DAY_FORM, "required": True}
TENANT_IDS = {"type": "string", "description": "SaaS tenant UUIDs, comma-separated (at most 100)"}
TIMESTAMP = {"type": "integer", "minimum": 0, "maximum": 7_258_118_400, "required": True,
             "description": "a UNIX timestamp"}

ERROR_TYPES = {400: "invalid_parameter", 401: "unauthorized", 403: "permission_denied", 404: "not_found",
               409: "conflict", 413: "payload_too_large", 422: "invalid_parameter", 503: "service_unavailable"}


def _q() -> dict[str, str]:
    return router.current_event.query_string_parameters or {}


def _body(model: Any) -> Any:
    raw = json_body(router)
    if raw is None:
        raise ValidationError("a JSON body is required")
    try:
        return model.model_validate(raw)
    except PydanticValidationError as exc:
        errors = pydantic_errors(exc)
        detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise ValidationError(f"invalid request body: {detail}", errors=errors) from None


@router.post(f"{BASE}/user-behavior", summary="User behavior analysis (records the day's history)",
             tags=["SaaS analysis"])
@documents_body(service.UserBehavior)
def post_user_behavior():
    auth = current_auth(router)
    return json_response(200, service.record_behavior(auth.tenant_id, _body(service.UserBehavior)))


@router.get(f"{BASE}/user-behavior/<user_id>", summary="A user's activity over the past month",
            tags=["SaaS analysis"])
def get_user_behavior(user_id: str):
    auth = current_auth(router)
    return json_response(200, service.user_history(auth.tenant_id, user_id))


@router.get(f"{BASE}/active-users", summary="Daily or monthly active users", tags=["SaaS analysis"])
@documents_query(type={"type": "string", "enum": ["daily", "monthly"], "required": True},
                 date_from={"type": "string", "pattern": service.PERIOD_PATTERN, "required": True,
                            "description": f"{dates.DAY_FORM} (daily) or {dates.MONTH_FORM} (monthly)"},
                 date_to={"type": "string", "pattern": service.PERIOD_PATTERN,
                          "description": f"as date_from, at most {service.MAX_DAYS} days or "
                                         f"{service.MAX_MONTHS} months after it"},
                 tenant_id={"type": "string", "format": "uuid"},
                 env_id={"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "description": "needs tenant_id"})
def get_active_users():
    auth = current_auth(router)
    q = _q()
    return json_response(200, service.active_users(
        auth.tenant_id, type_=q.get("type"), date_from=q.get("date_from"), date_to=q.get("date_to"),
        tenant_id=q.get("tenant_id"), env_id=q.get("env_id")))


@router.get(f"{BASE}/active-users/rolling", summary="Rolling active users per day: DAU, WAU, MAU28, MAU30, DAU/MAU",
            tags=["SaaS analysis"])
@documents_query(date_from=DAY, date_to={**DAY, "description": f"{dates.DAY_FORM}, at most "
                                          f"{product.MAX_DAYS - 1} days after date_from"},
                 tenant_id={"type": "string", "format": "uuid",
                            "description": "one tenant of your SaaS (attributes.tenant_id)"})
def get_rolling_active_users():
    auth = current_auth(router)
    q = _q()
    return json_response(200, service.rolling_active_users(
        auth.tenant_id, date_from=q.get("date_from"), date_to=q.get("date_to"), tenant_id=q.get("tenant_id")))


@router.put(f"{BASE}/active-users", summary="Update or insert active users data", tags=["SaaS analysis"])
@documents_body(service.ActiveUsersUpsert)
def put_active_users():
    auth = current_auth(router)
    return json_response(200, service.upsert_active_users(auth.tenant_id, _body(service.ActiveUsersUpsert)))


@router.get(f"{BASE}/metrics", summary="Aggregated metrics by type and date range", tags=["SaaS analysis"])
@documents_query(metrics_type={"type": "string", "enum": list(service.METRIC_EVENTS), "required": True},
                 start_date=DAY, end_date=DAY, tenant_ids=TENANT_IDS)
def get_metrics():
    auth = current_auth(router)
    q = _q()
    return json_response(200, service.metrics(auth.tenant_id, metrics_type=q.get("metrics_type"),
                                              start_date=q.get("start_date"), end_date=q.get("end_date"),
                                              tenant_ids=q.get("tenant_ids")))


@router.get(f"{BASE}/page-statistics", summary="Page statistics for a period", tags=["SaaS analysis"])
@documents_query(start_timestamp=TIMESTAMP, end_timestamp=TIMESTAMP)
def get_page_statistics():
    auth = current_auth(router)
    q = _q()
    return json_response(200, service.page_statistics(auth.tenant_id, start_timestamp=q.get("start_timestamp"),
                                                      end_timestamp=q.get("end_timestamp")))


@router.get(f"{BASE}/userinfo-calls", summary="Aggregated userinfo API call counts", tags=["SaaS analysis"])
@documents_query(start_date=DAY, end_date=DAY, tenant_ids=TENANT_IDS)
def get_userinfo_calls():
    auth = current_auth(router)
    q = _q()
    return json_response(200, service.userinfo_calls(auth.tenant_id, start_date=q.get("start_date"),
                                                     end_date=q.get("end_date"), tenant_ids=q.get("tenant_ids")))


app = make_resolver()
app.include_router(router)


def _error(status: int, message: str) -> Response:
    return json_response(status, {"type": ERROR_TYPES.get(status, "internal_server_error"), "message": message})


# Spec 003's error shape replaces the platform's envelope for this surface.
@app.exception_handler(TelltaleError)
def _telltale_error(exc: TelltaleError) -> Response:
    if exc.status_code >= 500:
        logger.error("request failed", extra={"code": exc.code, "error": exc.message})
    return _error(exc.status_code, exc.message)


@app.exception_handler(RequestValidationError)
def _request_invalid(exc: RequestValidationError) -> Response:
    fields = request_validation_errors(exc)
    return _error(400, "invalid request: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()))


@app.not_found
def _not_found(exc: NotFoundError) -> Response:
    return _error(404, "no such route")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
