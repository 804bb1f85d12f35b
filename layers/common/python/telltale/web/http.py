"""HTTP plumbing shared by every API function: the resolver, the error mapping and envelopes.

One exception handler maps every :class:`TelltaleError` (and request-validation failures) to a JSON
reply, so routes just raise.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from telltale.platform.errors import TelltaleError, ValidationError, pydantic_errors, pydantic_message
from telltale.platform.log import powertools_logger
from telltale.web import auth as _auth
from telltale.web.replies import JSON, dumps, envelope, event_json_body, log_error, to_json

# Powertools' JSON handler on the "telltale" logger, with the Lambda context in every line.
logger = powertools_logger()

__all__ = ["JSON", "current_auth", "dumps", "json_body", "json_response", "lambda_handler", "logger", "make_resolver",
           "parse_body", "success", "to_json"]

M = TypeVar("M", bound=BaseModel)
# Where :mod:`telltale.web.openapi` records a route's body model; the tenant middleware below reads it.
BODY_SPEC = "__telltale_body__"


class HasEvent(Protocol):
    """A Powertools resolver or router: anything with the current event."""

    @property
    def current_event(self) -> Any: ...


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type=JSON, body=dumps(body))


def error_response(exc: TelltaleError) -> Response:
    return json_response(exc.status_code, exc.to_body())


def request_validation_errors(exc: RequestValidationError) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header"}:
            loc = loc[1:] if loc[0] == "body" else loc
        out.setdefault(".".join(loc) or "body", []).append(pydantic_message(err))
    return out


def _declared_fields(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}


def _check_body_tenant(app: APIGatewayHttpResolver, next_middleware: Any) -> Any:
    """Every JWT route, whatever it does with its body: a JSON object body naming another tenant is a
    403 (README, issue 3), including on routes that take no body or read it by hand. A key that the
    route's documented body model takes as data (spec 003's active-users tenant_id) is exempt."""
    event = app.current_event.raw_event
    raw = event.get("body")
    # Only parse for this when the text could hold such a key (any JSON escape could spell one).
    if raw and _auth.claims_from_event(event) is not None and ("enant" in raw or "\\u" in raw
                                                                or event.get("isBase64Encoded")):
        try:
            body = event_json_body(event)
        except ValidationError:
            body = None  # the route reports a malformed body in its own words
        if isinstance(body, dict):
            route = app.context.get("_route")
            spec = getattr(getattr(route, "func", None), BODY_SPEC, None)
            _auth.check_body_tenant(_auth.from_event(event), body,
                                    declared=_declared_fields(spec[0]) if spec else ())
    return next_middleware(app)


def make_resolver() -> APIGatewayHttpResolver:
    """A Powertools HTTP API resolver with validation, the error mapping and the tenant check."""
    app = APIGatewayHttpResolver(enable_validation=True)
    app.use(middlewares=[_check_body_tenant])

    @app.exception_handler(TelltaleError)
    def _telltale_error(exc: TelltaleError) -> Response:
        log_error(exc)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    def _request_invalid(exc: RequestValidationError) -> Response:
        return error_response(
            ValidationError("the request is invalid; see errors for each field", errors=request_validation_errors(exc))
        )

    @app.exception_handler(PydanticValidationError)
    def _model_invalid(exc: PydanticValidationError) -> Response:
        return error_response(ValidationError("the request is invalid; see errors for each field",
                                              errors=pydantic_errors(exc)))

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        return json_response(404, {"status": "error", "code": "NotFound", "message": "no such route"})

    return app


def lambda_handler(*routers: Any) -> tuple[APIGatewayHttpResolver, Any]:
    """(resolver, Lambda handler) serving ``routers``, with the request's correlation id in every log line.

    Every API function ends with ``app, handler = lambda_handler(router)``.
    """
    from aws_lambda_powertools.logging import correlation_paths

    app = make_resolver()
    for router in routers:
        app.include_router(router)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    return app, handler


def current_auth(app: HasEvent) -> _auth.AuthContext:
    """The caller of the request being handled (401 without verified claims, 403 on a tenant mismatch)."""
    return _auth.from_event(app.current_event.raw_event)


def json_body(app: HasEvent) -> Any:
    return event_json_body(app.current_event.raw_event)


def parse_body(app: HasEvent, model: type[M], *, optional: bool = False) -> M:
    """The request body as ``model``; a 400 with field-level errors when it does not fit.

    On a JWT route, a body that names a tenant other than the token's is refused with 403 before it is
    validated; a key naming the token's own tenant, which the model does not take, is dropped.
    """
    body = json_body(app)
    if body is None:
        if optional:
            body = {}
        else:
            raise ValidationError(f"a JSON body is required: a {model.__name__} object")
    event = app.current_event.raw_event
    if _auth.claims_from_event(event) is not None:  # none on the API-key routes
        # The caller's identity first (a 403 for a tenant header that is not the token's comes before
        # any complaint about the body), then the body's own tenant keys.
        body = _auth.check_body_tenant(_auth.from_event(event), body, declared=_declared_fields(model))
    try:
        return model.model_validate(body)
    except PydanticValidationError as exc:
        raise ValidationError("the request body is invalid; see errors for each field",
                              errors=pydantic_errors(exc)) from None


def success(data: Any = None, *, message: str = "Data retrieved successfully", status: int = 200,
            total: int | None = None, **extra: Any) -> Response:
    """The ``{status, message, data, total}`` envelope of spec 000 (and the platform's own APIs)."""
    return json_response(status, envelope(data, message=message, total=total, **extra))
