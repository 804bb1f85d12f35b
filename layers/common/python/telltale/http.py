"""HTTP plumbing shared by every API function: the resolver, the error mapping, envelopes and paging.

One exception handler maps every :class:`TelltaleError` (and request-validation failures) to a JSON
reply, so routes just raise.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from telltale import auth as _auth
from telltale.errors import TelltaleError, ValidationError, pydantic_errors
from telltale.log import powertools_logger
from telltale.replies import JSON, dumps, envelope, event_json_body, log_error, to_json

# Powertools' JSON handler on the "telltale" logger, with the Lambda context in every line.
logger = powertools_logger()

__all__ = ["JSON", "current_auth", "documents_body", "documents_reply", "dumps", "json_body", "json_response",
           "lambda_handler", "logger", "make_resolver", "page_params", "parse_body", "success", "takes_body", "to_json"]

M = TypeVar("M", bound=BaseModel)


class HasEvent(Protocol):
    """A Powertools resolver or router: anything with the current event."""

    @property
    def current_event(self) -> Any: ...


def json_response(status: int, body: Any) -> Response:
    return Response(status_code=status, content_type=JSON, body=dumps(body))


def error_response(exc: TelltaleError) -> Response:
    return json_response(exc.status_code, exc.to_body())


def _request_validation_errors(exc: RequestValidationError) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header"}:
            loc = loc[1:] if loc[0] == "body" else loc
        out.setdefault(".".join(loc) or "body", []).append(err.get("msg", "invalid value"))
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
            ValidationError("the request is invalid; see errors for each field", errors=_request_validation_errors(exc))
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


BODY_SPEC = "__telltale_body__"
RouteFn = TypeVar("RouteFn", bound=Callable[..., Any])


def documents_body(model: type[BaseModel], *, status: int = 200,
                   optional: bool = False) -> Callable[[RouteFn], RouteFn]:
    """Record, for ``functions/api_docs``, the route's JSON body ``model`` and the status of a success.

    For routes that must authenticate before they read the body (the API-key routes call their key
    check, then :func:`parse_body`); the others use :func:`takes_body`, which also parses it.
    """

    def mark(func: RouteFn) -> RouteFn:
        setattr(func, BODY_SPEC, (model, status, optional))
        return func

    return mark


REPLY_SPEC = "__telltale_reply__"


def documents_reply(status: int = 200, *, errors: dict[int, str] | None = None) -> Callable[[RouteFn], RouteFn]:
    """Record, for ``functions/api_docs``, a route's success ``status`` and the notable errors it answers
    (``{404: "unknown connector"}``): for routes without a body (those with one say their status through
    :func:`takes_body`), whose reply Powertools would otherwise document as a bare 200."""

    def mark(func: RouteFn) -> RouteFn:
        setattr(func, REPLY_SPEC, (status, dict(errors or {})))
        return func

    return mark


def takes_body(app: HasEvent, model: type[BaseModel], *, status: int = 200,
               optional: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give the route its JSON body, parsed as ``model``, in the ``body`` argument.

    Put it under the ``@router.post``/``put`` decorator. Powertools sees only the path parameters (the
    body is read by :func:`parse_body`, with this platform's messages and tenant rule), and
    ``functions/api_docs`` reads the model and success ``status`` recorded here to describe the request
    body and reply in the OpenAPI document.
    """

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func)
        if "body" not in signature.parameters:
            raise TypeError(f"{func.__name__} must take a 'body' argument")

        def route(**path_params: Any) -> Any:
            return func(**path_params, body=parse_body(app, model, optional=optional))

        functools.update_wrapper(route, func, updated=())
        del route.__wrapped__  # type: ignore[attr-defined]  # Powertools must read the signature below
        route.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name != "body"])
        return documents_body(model, status=status, optional=optional)(route)

    return wrap


def success(data: Any = None, *, message: str = "Data retrieved successfully", status: int = 200,
            total: int | None = None, **extra: Any) -> Response:
    """The ``{status, message, data, total}`` envelope of spec 000 (and the platform's own APIs)."""
    return json_response(status, envelope(data, message=message, total=total, **extra))


class Page(BaseModel):
    page: int = 1
    page_size: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_params(app: HasEvent, *, default_size: int = 20, max_size: int = 100) -> Page:
    """``page`` and ``page_size`` from the query string, validated with messages that say the limits."""
    q = app.current_event.query_string_parameters or {}
    errors: dict[str, list[str]] = {}
    values: dict[str, int] = {}
    for name, default, lo, hi in (("page", 1, 1, 1_000_000), ("page_size", default_size, 1, max_size)):
        raw = q.get(name)
        if raw is None:
            values[name] = default
            continue
        try:
            value = int(raw)
        except ValueError:
            errors[name] = [f"must be an integer between {lo} and {hi}"]
            continue
        if not lo <= value <= hi:
            errors[name] = [f"must be between {lo} and {hi}"]
        values[name] = value
    if errors:
        raise ValidationError("invalid paging parameters", errors=errors)
    return Page(**values)
