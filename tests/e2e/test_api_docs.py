"""The API description served at /swagger lists every route template.yaml deploys, each with its method,
including routes of functions that answer without a router (execute_query)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e

# The description itself, and the dashboard's page and assets, are not API operations.
NOT_OPERATIONS = {"ApiDocsFunction", "DashboardFunction"}


def test_openapi_describes_every_deployed_route(api: Any) -> None:
    from telltale_local.template import load

    r = api.get("/swagger?format=json", tenant=None)
    assert r.status_code == 200, r.text
    paths = r.json()["paths"]
    routes = [route for route in load().routes if route.function not in NOT_OPERATIONS]
    assert len(routes) > 50
    missing = [f"{route.method} {route.path}" for route in routes
               if route.method.lower() not in paths.get(route.path, {})]
    assert missing == []
    execute = paths["/api/apps/{app_slug}/analytics/queries/{slug}/execute/"]["post"]
    assert execute["summary"] == "Execute a saved query"
    assert [p["name"] for p in execute["parameters"]] == ["app_slug", "slug"]


def test_swagger_ui_is_one_self_contained_page_with_the_description(api: Any) -> None:
    r = api.get("/swagger", tenant=None)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for mark in ("@@OPENAPI_JSON@@", "@@SWAGGER_UI_JS@@", "@@SWAGGER_UI_CSS@@"):
        assert mark not in r.text
    assert "SwaggerUIBundle" in r.text and ".swagger-ui" in r.text  # Powertools' bundled JS and CSS
    assert '"/api/apps/{app_slug}/secrets/"' in r.text  # the description, inline (no request back)
