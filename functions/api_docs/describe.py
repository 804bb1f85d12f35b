"""Writes the API's description: ``openapi.json`` and the Swagger UI page, next to this file.

Run ``make openapi`` after changing a route; ``tests/unit/test_api_docs_file.py`` fails while the files
are stale. Generating them here, rather than when the docs function starts, keeps that function's cold
start to reading two files: describing the API means importing every function and Powertools' OpenAPI
machinery (about 1.5x the import budget of a handler).

The description is Powertools' OpenAPI generation over every function's router, completed with what the
routes declare through :func:`telltale.web.http.takes_body` (the request body's schema and the status of a
success) and :func:`telltale.web.http.documents_reply` (a bodyless route's success status and notable errors).
Validation failures are documented as the 400 this platform answers, not Powertools' 422.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FUNCTIONS_DIR = HERE.parent
DOCUMENT = HERE / "openapi.json"
PAGE = HERE / "swagger.html"

# Placeholders in the Swagger UI page, filled in by app.py with the document and Powertools' bundled assets.
SPEC_MARK, JS_MARK, CSS_MARK = "@@OPENAPI_JSON@@", "@@SWAGGER_UI_JS@@", "@@SWAGGER_UI_CSS@@"
ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "code": {"type": "string", "description": "The error's type, e.g. ValidationError, NotFound"},
        "message": {"type": "string", "description": "What is wrong and what to do about it"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                   "description": "For a 400: each invalid field, with what is wrong with it"},
    },
    "required": ["status", "code", "message"],
}


def _function_routers() -> list[Any]:
    routers: list[Any] = []
    for path in sorted(FUNCTIONS_DIR.glob("*/app.py")):
        name = path.parent.name
        if name == HERE.name:
            continue
        module_name = f"telltale_function_{name}_app"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            if str(path.parent) not in sys.path:  # its import root, as in Lambda: app.py may import siblings
                sys.path.append(str(path.parent))
            spec.loader.exec_module(module)
        # A function serves one router, or several (``routers``, one per resource); one that answers API
        # Gateway's event without a router (execute_query, for its cold start) builds one for this
        # description only.
        found = getattr(module, "routers", None) or [getattr(module, "router", None)]
        if found == [None] and hasattr(module, "documented_router"):
            found = [module.documented_router()]
        routers.extend(r for r in found if r is not None)
    return routers


def _complete(doc: dict[str, Any], routes: list[Any]) -> None:
    from telltale.web.http import BODY_SPEC
    from telltale.web.openapi import JSON_BODY_SPEC, QUERY_SPEC, REPLY_SPEC

    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    # Powertools' 422 shapes (and its response-validation error, which refers to one), replaced below.
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for route in routes:
        operation = doc["paths"].get(route.openapi_path, {}).get(route.method.lower())
        if operation is None:
            continue
        responses = operation["responses"]
        if responses.pop("422", None) is not None:
            responses["400"] = {"description": "The request is invalid; `errors` names each field", **error}
        reply = getattr(route.func, REPLY_SPEC, None)
        if reply is not None:  # a bodyless route's own success status and notable errors
            status, notable = reply
            if status != 200 and "200" in responses:
                responses[str(status)] = responses.pop("200")
            for code, description in notable.items():  # another success (a 202) has no error body
                responses[str(code)] = {"description": description, **(error if code >= 400 else {})}
        query = getattr(route.func, QUERY_SPEC, None)
        if query is not None:  # the query parameters a route reads by hand
            parameters = operation.setdefault("parameters", [])
            for name, given in query.items():
                schema = {k: v for k, v in given.items() if k not in ("required", "description")}
                parameter = {"name": name, "in": "query", "required": bool(given.get("required")), "schema": schema}
                if "description" in given:
                    parameter["description"] = given["description"]
                parameters.append(parameter)
        by_hand = getattr(route.func, JSON_BODY_SPEC, None)
        if by_hand is not None:  # a body validated by hand, described by its JSON schema
            name, definition, status = by_hand
            schemas[name] = definition
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
            }
            if status != 200 and "200" in responses:
                responses[str(status)] = responses.pop("200")
            responses.setdefault("400", {"description": "The body is invalid; `errors` names each field", **error})
        spec = getattr(route.func, BODY_SPEC, None)
        if spec is None:
            continue
        model, status, optional = spec
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two request models are both called {name}; rename one")
        operation["requestBody"] = {
            "required": not optional,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
        if status != 200 and "200" in responses:
            responses[str(status)] = responses.pop("200")
        responses.setdefault("400", {"description": "The body is invalid; `errors` names each field", **error})


def document() -> dict[str, Any]:
    """The OpenAPI document of every route of every function."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, Server

    from telltale.web.http import make_resolver
    from telltale.web.replies import MAX_BODY_BYTES, MAX_BODY_DEPTH

    resolver = make_resolver()
    for router in _function_routers():
        resolver.include_router(router)
    schema = resolver.get_openapi_schema(
        title="Telltale API",
        version="1.0.0",
        description=("Saved queries, events, SaaS metrics, usage analytics and API request analytics.\n\n"
                     f"Every request body is JSON in UTF-8, at most {MAX_BODY_BYTES:,} bytes (5 MiB), with arrays "
                     f"and objects nested at most {MAX_BODY_DEPTH} levels deep, and no string in it holds the NUL "
                     "character (\\u0000) or a lone UTF-16 surrogate, which no database can store; any other "
                     "body is a 400 that says what it broke."),
        servers=[Server(url="/")],
        security_schemes={"bearer": HTTPBearer(bearerFormat="JWT"),
                          # The request-logging surface (spec 002) authenticates with an API key.
                          "apiKey": APIKey.model_validate({"name": "X-AUTH-TOKEN", "in": APIKeyIn.header})},
        security=[{"bearer": []}],
    )
    doc: dict[str, Any] = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    _complete(doc, resolver._static_routes + resolver._dynamic_routes)
    return doc


def page_template() -> str:
    """Powertools' Swagger UI page, with placeholders for the document and the assets."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    return generate_swagger_html(SPEC_MARK, JS_MARK, CSS_MARK, "", None).strip() + "\n"


def rendered() -> dict[Path, str]:
    return {DOCUMENT: json.dumps(document(), indent=1, sort_keys=True) + "\n", PAGE: page_template()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the files are stale, write nothing")
    args = parser.parse_args()
    files = rendered()
    stale = [path for path, text in files.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(FUNCTIONS_DIR.parent)} is stale: run `make openapi`")
        return 1 if stale else 0
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(FUNCTIONS_DIR.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
