"""Schema fuzzing: schemathesis generates requests for every operation of the API description the local
stack serves (/swagger?format=json, i.e. functions/api_docs/openapi.json) and sends them over HTTP.

Each operation gets a fixed, derandomized budget (the same cases every run: it cannot flake, and it fits
`make test`). The test fails on any 5xx, and on any operation that answers 2xx without credentials
(each case is also sent without its bearer token or API key). Requests authenticate as a tenant of their
own, ``fuzz``, whose data no other test reads; path parameters name resources that exist (made by the
fixture) most of the time, so that generated bodies reach the logic rather than a 404.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TENANT = "fuzz"
# Generated cases per operation (about 60 of them), and a third as many more with generated resource names;
# about 30 s on the 2-core machine. TELLTALE_FUZZ_EXAMPLES=200 (say) searches deeper, by hand.
EXAMPLES = int(os.environ.get("TELLTALE_FUZZ_EXAMPLES", "15"))


def _operations() -> list[tuple[str, str]]:
    """Every operation; the DELETEs last, so that the resources the others are pinned to exist for them."""
    doc = json.loads((ROOT / "functions" / "api_docs" / "openapi.json").read_text())
    ops = [(method.upper(), path) for path, methods in doc["paths"].items() for method in methods]
    return sorted(ops, key=lambda op: (op[0] == "DELETE", op[1], op[0]))


class Fuzz:
    """The served description, loaded by schemathesis, and the tenant's credentials and resources."""

    def __init__(self, api: Any) -> None:
        import schemathesis

        self.api = api
        self.url = api.url
        self.schema = schemathesis.openapi.from_url(f"{api.url}/swagger?format=json")
        # The description says that no string holds NUL (every body is refused for it, in one place, with
        # its own test: test_bodies.py); generating them would keep most bodies from the logic. The
        # credentials are ours, never generated.
        self.schema.config.generation.update(allow_x00=False, with_security_parameters=False)
        self.bearer = {"Authorization": f"Bearer {api.token(TENANT, 'fuzzer')}"}
        self.resources = self._make_resources()
        r = api.post("/api/keys", tenant=TENANT, json={"name": "fuzz"})
        assert r.status_code == 201, r.text
        self.api_key = {"X-AUTH-TOKEN": r.json()["data"]["api_key"]}

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.api.post(path, tenant=TENANT, json=body)
        assert r.status_code in (200, 201), (path, r.text)
        data: dict[str, Any] = r.json()
        return data.get("data", data) if isinstance(data.get("data"), dict) else data

    def _make_resources(self) -> dict[str, str]:
        self._post("/api/apps/", {"slug": "shop", "name": "Shop"})
        query = self._post("/api/apps/shop/analytics/queries/", {
            "name": "Fuzz", "connection_type": "internal", "query_text": "SELECT 1 AS n"})
        self._post("/spaces", {"slug": "fuzz", "name": "Fuzz"})
        product = self._post("/spaces/fuzz/products", {"name": "Orders", "tables": ["sales.orders"]})
        connector = self._post("/connectors", {
            "name": "fuzz", "type": "superset", "config": {"base_url": "http://127.0.0.1:9"},
            "credentials": {"username": "u", "password": "p"}})
        return {"app_slug": "shop", "slug": str(query["slug"]), "product_id": str(product["id"]),
                "connector_id": str(connector["id"])}

    def path_parameters(self, path: str) -> dict[str, str]:
        pinned = dict(self.resources)
        if path.startswith("/spaces/"):
            pinned["slug"] = "fuzz"
        return {k: v for k, v in pinned.items() if "{" + k + "}" in path}


@pytest.fixture(scope="module")
def fuzz(api: Any) -> Fuzz:
    return Fuzz(api)


@pytest.mark.parametrize(("method", "path"), _operations(), ids=[f"{m} {p}" for m, p in _operations()])
def test_no_generated_request_is_a_5xx_or_served_without_credentials(fuzz: Fuzz, method: str, path: str) -> None:
    import hypothesis
    from hypothesis import HealthCheck, Phase

    operation = fuzz.schema[path][method]
    by_key = any("apiKey" in s for s in operation.definition.raw.get("security", []))
    auth = fuzz.api_key if by_key else fuzz.bearer
    session = fuzz.api.session
    pinned = fuzz.path_parameters(path)
    # Most cases name the resources that exist (they reach the logic); a few name generated ones.
    from schemathesis import GenerationMode

    runs = [(operation.as_strategy(path_parameters=pinned), EXAMPLES), (operation.as_strategy(), EXAMPLES // 3)] \
        if pinned else [(operation.as_strategy(), EXAMPLES)]
    # And, where there is a body or a query to get wrong, data the description calls invalid (wrong types,
    # missing fields, values out of bounds): a 4xx, never a 5xx.
    raw = operation.definition.raw
    if "requestBody" in raw or any(p["in"] == "query" for p in raw.get("parameters", [])):
        runs.append((operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=pinned or None), EXAMPLES // 3))
    for strategy, examples in runs:
        @hypothesis.settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @hypothesis.given(case=strategy)
        def check(case: Any) -> None:
            _own_tenant(case)
            sent = case.call(base_url=fuzz.url, session=session, headers=auth, timeout=60)
            assert sent.status_code < 500, _report(case, sent)
            bare = case.call(base_url=fuzz.url, session=session, timeout=60)
            # Every route, /api/log-request too (whose key may come in the body): without credentials, a
            # 401/403 whatever the body, so nothing about what a route accepts is told to a stranger.
            assert bare.status_code in (401, 403), _report(case, bare, "without credentials")

        check()


def _own_tenant(case: Any) -> None:
    """An event names its tenant, which must be the token's (else a 403 before the logic): the fuzz tenant."""
    if case.path == "/api/analytics/events":
        for event in case.body if isinstance(case.body, list) else [case.body]:
            if isinstance(event, dict):
                event["tenantId"] = TENANT


def _report(case: Any, response: Any, how: str = "") -> str:
    request = response.request
    body = request.body if isinstance(request.body, str | None) else request.body[:2000].decode("utf-8", "replace")
    return (f"{request.method} {request.url} {how}\nbody: {body}\n-> {response.status_code} "
            f"{response.text[:2000]}")
