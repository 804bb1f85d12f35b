"""The API's own description: OpenAPI JSON and Swagger UI for every route of every function.

Its package holds the whole ``functions/`` folder, so it can include each function's router and
describe the deployment as one API. It is the only function that imports the others.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer, Server

from telltale.http import make_resolver

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent


def _function_routers() -> list[Any]:
    routers = []
    for path in sorted(FUNCTIONS_DIR.glob("*/app.py")):
        name = path.parent.name
        if name == Path(__file__).parent.name:
            continue
        module_name = f"telltale_function_{name}_app"
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        router = getattr(module, "router", None)
        if router is not None:
            routers.append(router)
    return routers


def build() -> APIGatewayHttpResolver:
    resolver = make_resolver()
    for router in _function_routers():
        resolver.include_router(router)
    resolver.enable_swagger(
        path="/swagger",
        title="Telltale API",
        version="1.0.0",
        description="Saved queries, events, SaaS metrics, usage analytics and API request analytics.",
        servers=[Server(url="/")],
        security_schemes={"bearer": HTTPBearer(bearerFormat="JWT"),
                          # The request-logging surface (spec 002) authenticates with an API key.
                          "apiKey": APIKey.model_validate({"name": "X-AUTH-TOKEN", "in": APIKeyIn.header})},
        security=[{"bearer": []}],
    )
    return resolver


app = build()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
