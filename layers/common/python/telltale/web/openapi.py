"""What a route declares for the API description (``functions/api_docs``): its body model and its statuses.

The marks are plain attributes on the route function, read by ``functions/api_docs/describe.py``; nothing
here runs per request except :func:`takes_body`'s parse.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

from telltale.web.http import BODY_SPEC, HasEvent, parse_body

RouteFn = TypeVar("RouteFn", bound=Callable[..., Any])


def documents_body(model: type[BaseModel], *, status: int = 200,
                   optional: bool = False) -> Callable[[RouteFn], RouteFn]:
    """Record, for ``functions/api_docs``, a route's success ``status`` and the notable other replies it
    gives (``{404: "unknown connector"}``; a code below 400 is another success, such as a 202): for routes
    without a body (those with one say their status through :func:`takes_body`), whose reply Powertools
    would otherwise document as a bare 200."""

    def mark(func: RouteFn) -> RouteFn:
        setattr(func, BODY_SPEC, (model, status, optional))
        return func

    return mark


REPLY_SPEC = "__telltale_reply__"


def documents_reply(status: int = 200, *, errors: dict[int, str] | None = None) -> Callable[[RouteFn], RouteFn]:
    """Record, for ``functions/api_docs``, a route's success ``status`` and the notable other replies it
    gives (``{404: "unknown connector"}``; a code below 400 is another success, such as a 202): for routes
    without a body (those with one say their status through :func:`takes_body`), whose reply Powertools
    would otherwise document as a bare 200."""

    def mark(func: RouteFn) -> RouteFn:
        setattr(func, REPLY_SPEC, (status, dict(errors or {})))
        return func

    return mark


QUERY_SPEC = "__telltale_query__"
JSON_BODY_SPEC = "__telltale_json_body__"


def documents_query(**parameters: dict[str, Any]) -> Callable[[RouteFn], RouteFn]:
    """Record, for ``functions/api_docs``, the query parameters a route reads by hand, each as a JSON schema
    (``type=DAY | {"required": True}``): what the route accepts and refuses, stated so that a client (or a
    fuzzer) can send what reaches the logic. A schema's ``required`` and ``description`` keys are the
    parameter's own."""

    def mark(func: RouteFn) -> RouteFn:
        setattr(func, QUERY_SPEC, dict(parameters))
        return func

    return mark


def documents_json_body(name: str, schema: dict[str, Any], *, status: int = 200) -> Callable[[RouteFn], RouteFn]:
    """Record, for ``functions/api_docs``, the body of a route that validates it by hand (no pydantic model:
    the event ingestion), as the JSON schema ``name``, and the status of a success."""

    def mark(func: RouteFn) -> RouteFn:
        setattr(func, JSON_BODY_SPEC, (name, schema, status))
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
