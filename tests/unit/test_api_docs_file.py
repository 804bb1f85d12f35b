"""The served API description is generated from the routes (functions/api_docs/describe.py) and kept in
git; this fails while it is stale, and checks what the generation adds to Powertools' description."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _describe():
    spec = importlib.util.spec_from_file_location("telltale_api_docs_describe",
                                                  ROOT / "functions" / "api_docs" / "describe.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_description_is_current():
    describe = _describe()
    stale = [str(path.relative_to(ROOT)) for path, text in describe.rendered().items()
             if path.read_text(encoding="utf-8") != text]
    assert stale == [], f"{stale} differ from the routes: run `make openapi` and commit the result"


def test_request_bodies_statuses_and_errors_are_described():
    doc = json.loads((ROOT / "functions" / "api_docs" / "openapi.json").read_text())
    create = doc["paths"]["/api/apps/{app_slug}/secrets/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SecretCreate"}
    assert create["requestBody"]["required"] is True
    assert set(create["responses"]) == {"201", "400"}
    fields = doc["components"]["schemas"]["SecretCreate"]
    assert set(fields["required"]) == {"key", "type_slug", "value"}
    assert fields["additionalProperties"] is False
    # No operation documents Powertools' 422: this API answers invalid input with 400.
    assert not [p for p, ops in doc["paths"].items() for op in ops.values() if "422" in op["responses"]]


# Routes whose POST takes no body, and the ingest route, whose body (an event or an array of them) is
# checked by hand for speed and described in its summary and docs/events.md.
BODILESS = {"/connectors/{connector_id}/bi-sync", "/connectors/{connector_id}/query-log-mining",
            "/spaces/{slug}/usage/aggregate", "/api/analytics/events"}


def test_every_write_with_a_body_describes_it():
    doc = json.loads((ROOT / "functions" / "api_docs" / "openapi.json").read_text())
    undescribed = sorted(f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m, op in ops.items()
                         if m in ("post", "put", "patch") and "requestBody" not in op and p not in BODILESS)
    assert undescribed == []


def test_syncs_document_200_202_and_their_errors():
    """Bodyless routes declare their success status and notable other replies (telltale.web.openapi
    .documents_reply): bi-sync and query-log-mining answer 200 when their job ends in time (spec 001) and
    202 with the job while it still runs; a 202 has no error body, a 404 has."""
    doc = json.loads((ROOT / "functions" / "api_docs" / "openapi.json").read_text())
    for path in ("/connectors/{connector_id}/bi-sync", "/connectors/{connector_id}/query-log-mining"):
        responses = doc["paths"][path]["post"]["responses"]
        assert {"200", "202", "404", "409"} <= set(responses), (path, sorted(responses))
        assert "content" not in responses["202"]
        assert responses["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_description_is_valid_openapi():
    """Every $ref resolves and every object has the shape OpenAPI 3 requires (what Swagger UI needs)."""
    from openapi_spec_validator import validate

    validate(json.loads((ROOT / "functions" / "api_docs" / "openapi.json").read_text()))


def test_accepted_writes_are_documented_as_202():
    doc = json.loads((ROOT / "functions" / "api_docs" / "openapi.json").read_text())
    for path in ("/api/analytics/events",):
        assert "202" in doc["paths"][path]["post"]["responses"] and "200" not in doc["paths"][path]["post"]["responses"]
