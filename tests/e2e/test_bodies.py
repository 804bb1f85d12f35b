"""Every JSON body is read in one place (telltale.web.replies.parse_json_body): a NUL character in any string
of it, which PostgreSQL's text and jsonb cannot store, is a 400 naming the field, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

NUL = "a\u0000b"


def _cases() -> list[tuple[str, str, dict[str, Any], str]]:
    slug = f"s-{uuid.uuid4().hex[:10]}"
    return [
        ("POST", "/connectors", {"name": NUL, "type": "superset", "config": {"base_url": "http://x.example"},
                                 "credentials": {"username": "u", "password": "p"}}, "name"),
        ("POST", "/connectors", {"name": "n", "type": "postgres", "config": {"host": "h", "database": NUL},
                                 "credentials": {"username": "u", "password": "p"}}, "config.database"),
        ("POST", "/spaces", {"slug": slug, "name": NUL}, "name"),
        ("POST", "/spaces/any/products", {"name": "p", "tables": ["sales.orders", NUL]}, "tables.1"),
        ("POST", "/api/apps/shop/secrets/", {"key": "k", "type_slug": "analytics-postgres",
                                             "value": {"host": NUL}}, "value.host"),
        ("POST", "/connectors", {"name": "n", "type": "superset", "config": {NUL: 1}, "credentials": {}},
         "config.a\\u0000b"),
    ]


@pytest.mark.parametrize("case", range(len(_cases())))
def test_a_nul_in_any_string_of_a_body_is_a_400_naming_the_field(api: Any, case: int) -> None:
    method, path, body, field = _cases()[case]
    r = api.request(method, path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == {field: ["must not contain the NUL character (\\u0000)"]}


# Found by the schema fuzzing (test_schema_fuzz.py): a lone UTF-16 surrogate, which JSON can spell as an
# unpaired \ud800-\udfff escape, is no Unicode; no UTF-8 text (PostgreSQL, the queue) can hold it.
_LONE = '"a\\ud800b"'


def _surrogate_cases() -> list[tuple[str, str, str, str]]:
    cases = [
        # A connector's config value: was a 500 (the database refused to encode it).
        ("POST", "/connectors", '{"name": "n", "type": "superset", "config": {"base_url": "http://127.0.0.1:9", '
                                '"x": @}, "credentials": {"username": "u", "password": "p"}}', "config.x"),
        # An event's attribute: was a 202, then the event never stored (the worker's dead letters).
        ("POST", "/api/analytics/events", '{"eventType": "a.b", "tenantId": "demo", "attributes": {"k": @}}',
         "attributes.k"),
        # A secret's value: was stored, a credential no driver could send.
        ("POST", "/api/apps/shop/secrets/", '{"key": "k", "type_slug": "analytics-postgres", "value": {"host": "h", '
                                            '"port": 5432, "database": "d", "username": "u", "password": @}}',
         "value.password"),
        ("POST", "/spaces", '{"slug": "s", "name": "n", @: 1}', "a\\ud800b"),
    ]
    return [(method, path, body.replace("@", _LONE), field) for method, path, body, field in cases]


@pytest.mark.parametrize("case", range(len(_surrogate_cases())))
def test_a_lone_surrogate_in_any_string_of_a_body_is_a_400_naming_the_field(api: Any, case: int) -> None:
    method, path, body, field = _surrogate_cases()[case]
    r = api.request(method, path, data=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["errors"] == {field: ["must not contain a lone surrogate (\\ud800-\\udfff)"]}


def test_a_surrogate_pair_is_one_character_and_stored(api: Any) -> None:
    r = api.post("/spaces", data=('{"slug": "s-' + uuid.uuid4().hex[:10] + '", "name": "\\ud83d\\ude00"}').encode(),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "\U0001f600"


def test_an_escaped_backslash_before_u0000_is_no_nul(api: Any) -> None:
    # The text "\\u0000" (a backslash, then u0000) is an ordinary string: stored, not refused.
    r = api.post("/spaces", json={"slug": f"s-{uuid.uuid4().hex[:10]}", "name": "a\\u0000b"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "a\\u0000b"


# The bounds of every body (telltale.web.replies.MAX_BODY_BYTES, MAX_BODY_DEPTH), over every operation the
# API description gives a JSON body: each kind of unreadable body is a JSON 400 naming what to fix.
def _operations_with_a_body() -> list[tuple[str, str, bool]]:
    import json
    from pathlib import Path

    doc = json.loads((Path(__file__).resolve().parents[2] / "functions/api_docs/openapi.json").read_text())
    return [(method.upper(), path, any("apiKey" in s for s in op.get("security", [])))
            for path, ops in sorted(doc["paths"].items()) for method, op in sorted(ops.items())
            if "requestBody" in op]


def _concrete(path: str) -> str:
    # The body is read before the path's resource is looked up, so any name will do (a 404 would fail).
    return path.replace("{app_slug}", "shop").replace("{", "").replace("}", "")


_BAD_BODIES = {
    "nested 1,000 deep": ('{"a": ' * 1000 + "1" + "}" * 1000).encode(),
    "larger than 5 MiB": b'{"name": "' + b"x" * 6_250_000 + b'"}',  # past /api/log-request's 6,250,000 too
    "not UTF-8": b'{"name": "caf\xe9"}',  # Latin-1
}
# What the message says, in every surface's envelope, and the field error where the envelope has them
# (the SaaS metrics surface of spec 003 answers {type, message}).
_NAMED = {
    "nested 1,000 deep": ("more than 64 levels deep", "must not nest arrays and objects more than 64 levels deep"),
    "larger than 5 MiB": ("larger than 5,242,880 bytes (5 MiB)", "must be at most 5,242,880 bytes (5 MiB) of JSON"),
    "not UTF-8": ("not UTF-8 text", "must be UTF-8 text"),
}


@pytest.fixture(scope="module")
def api_key(api: Any) -> str:
    r = api.post("/api/keys", json={"name": "bodies"})
    assert r.status_code == 201, r.text
    key: str = r.json()["data"]["api_key"]
    return key


@pytest.mark.parametrize("kind", sorted(_BAD_BODIES))
def test_an_unreadable_body_is_a_400_naming_the_limit_on_every_json_route(api: Any, api_key: str, kind: str) -> None:
    operations = _operations_with_a_body()
    assert len(operations) >= 18  # the description is read, not an empty list
    wrong = []
    for method, path, by_key in operations:
        auth = {"X-AUTH-TOKEN": api_key} if by_key else api.headers()
        r = api.request(method, _concrete(path), tenant=None, data=_BAD_BODIES[kind],
                        headers={**auth, "Content-Type": "application/json"})
        in_message, field_error = _NAMED[kind]
        if path == "/api/log-request" and kind == "larger than 5 MiB":  # it takes what Lambda does
            in_message = "larger than 6,250,000 bytes"
        answer = r.json() if r.headers.get("content-type") == "application/json" else {"text": r.text}
        if (r.status_code != 400 or in_message not in answer.get("message", "")
                or answer.get("errors", {"body": [field_error]}) != {"body": [field_error]}):
            wrong.append((method, path, r.status_code, answer))
    assert not wrong, wrong


def test_a_body_at_the_depth_bound_is_read(api: Any) -> None:
    # 64 levels: the bound is on the nesting, not on having nesting at all (the name is refused: a 400 of
    # the model, which has read the body).
    r = api.post("/spaces", data=('{"slug": "s", "name": ' + "[" * 63 + "]" * 63 + "}").encode(),
                 headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert list(r.json()["errors"]) == ["name"]
