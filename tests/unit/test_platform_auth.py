from __future__ import annotations

import pytest

from telltale.platform.errors import Forbidden, Unauthorized
from telltale.platform.tenancy import reader_role_for, schema_for
from telltale.web import auth

CLAIMS = {"sub": "u-1", "tenant_id": "demo", "email": "a@b.c", "username": "ann", "given_name": "Ann",
          "family_name": "Lee", "is_staff": "true", "is_superuser": "false"}


def _event(claims=None, headers=None):
    event = {"headers": headers or {}, "requestContext": {}}
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims}}
    return event


def test_context_from_claims_as_api_gateway_passes_them():
    ctx = auth.from_event(_event(CLAIMS))
    assert ctx.tenant_id == "demo" and ctx.user_id == "u-1" and ctx.is_staff and not ctx.is_superuser
    assert ctx.user_profile() == {"id": "u-1", "username": "ann", "email": "a@b.c", "first_name": "Ann",
                                  "last_name": "Lee", "is_staff": True, "is_superuser": False}


def test_no_claims_is_unauthorized():
    with pytest.raises(Unauthorized):
        auth.from_event(_event(None))


def test_claims_without_tenant_or_with_a_bad_one_are_forbidden():
    with pytest.raises(Forbidden):
        auth.from_event(_event({**CLAIMS, "tenant_id": ""}))
    with pytest.raises(Forbidden):
        auth.from_event(_event({**CLAIMS, "tenant_id": "a;drop"}))


def test_tenant_header_must_match():
    assert auth.from_event(_event(CLAIMS, {"X-Tenant-UUID": "demo"})).tenant_id == "demo"
    with pytest.raises(Forbidden):
        auth.from_event(_event(CLAIMS, {"x-tenant-uuid": "other"}))


def test_spec_style_tenant_ids_are_accepted():
    ctx = auth.from_event(_event({**CLAIMS, "tenant_id": "T019A16FF372A70B5A9307B00CE85E4DA"}))
    assert ctx.tenant_id == "T019A16FF372A70B5A9307B00CE85E4DA"


def test_schema_names_never_collide_and_fit_postgres():
    assert schema_for("demo") == "tenant_demo"
    assert schema_for("a-b") == "tenant_a_b"
    assert schema_for("Demo") != schema_for("demo")
    long_id = "x" * 63
    assert len(reader_role_for(long_id)) <= 63 and schema_for(long_id) != schema_for("x" * 62)
