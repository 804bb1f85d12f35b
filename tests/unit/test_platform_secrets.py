"""Secrets Manager access (moto in-process): names per tenant and app, cached reads, writes that refresh."""

from __future__ import annotations

import pytest
from moto import mock_aws

from telltale.platform import aws, config
from telltale.platform.errors import NotFound
from telltale.secrets import store as secrets


@pytest.fixture
def sm(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("TELLTALE_SECRETS_PREFIX", "unit")
    with mock_aws():
        config.reset_settings()
        aws.reset_clients()
        secrets.reset_cache()
        yield aws.client("secretsmanager")
    config.reset_settings()
    aws.reset_clients()
    secrets.reset_cache()


def test_names_are_per_tenant_and_app(sm):
    assert secrets.secret_name("demo", "shop", "db") == "unit/demo/shop/db"


def test_reads_are_cached_and_writes_refresh(sm, monkeypatch):
    name = secrets.secret_name("demo", "shop", "db")
    secrets.put_secret_json(name, {"password": "one"})
    calls = []
    real = sm.get_secret_value
    monkeypatch.setattr(sm, "get_secret_value", lambda **kw: calls.append(kw) or real(**kw))
    assert secrets.read_secret_json(name)["password"] == "one"
    assert secrets.read_secret_json(name)["password"] == "one"
    assert len(calls) == 1  # the second read came from the cache
    secrets.put_secret_json(name, {"password": "two"})
    assert secrets.read_secret_json(name)["password"] == "two"  # a write drops the cached copy


def test_missing_and_deleted_secrets_are_not_found(sm):
    with pytest.raises(NotFound):
        secrets.read_secret_json("unit/demo/shop/none")
    name = secrets.secret_name("demo", "shop", "gone")
    secrets.put_secret_json(name, {"a": 1})
    secrets.delete_secret(name)
    with pytest.raises(NotFound):
        secrets.read_secret_json(name)
    secrets.delete_secret(name)  # deleting twice is fine
