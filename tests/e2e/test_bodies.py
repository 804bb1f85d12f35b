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


def test_an_escaped_backslash_before_u0000_is_no_nul(api: Any) -> None:
    # The text "\\u0000" (a backslash, then u0000) is an ordinary string: stored, not refused.
    r = api.post("/spaces", json={"slug": f"s-{uuid.uuid4().hex[:10]}", "name": "a\\u0000b"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "a\\u0000b"
