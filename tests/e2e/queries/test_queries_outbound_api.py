"""The outbound policy through the HTTP API: a secret's host is checked for form when it is saved (a 400
naming value.host), and where it may connect when a query runs (a 403 ConnectorError naming
TELLTALE_ALLOWED_NETWORKS, for the metadata service, a private address not on the list, the platform's own
database); an allowed loopback server works."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

APP = "shop"
SECRETS = f"/api/apps/{APP}/secrets/"
Q = f"/api/apps/{APP}/analytics/queries/"


def _value(**over: Any) -> dict[str, Any]:
    return {"host": "db.example.com", "port": 5432, "database": "analytics", "username": "reader",
            "password": "pw-51e0", "connect_timeout": 2, **over}


def _save(api: Any, type_slug: str, value: dict[str, Any]) -> Any:
    key = f"out_{uuid.uuid4().hex[:8]}"
    return key, api.post(SECRETS, json={"key": key, "type_slug": type_slug, "value": value})


def _run(api: Any, secret_key: str, text: str = "SELECT 1 AS one") -> Any:
    r = api.post(Q, json={"name": f"Out {uuid.uuid4().hex[:8]}", "secret_key": secret_key, "query_text": text})
    assert r.status_code == 201, r.text
    return api.post(f"{Q}{r.json()['data']['slug']}/execute/", json={"params": {}})


@pytest.mark.parametrize(("type_slug", "host", "fix"), [
    ("analytics-postgres", "db.example.com/postgres", "path"),
    ("analytics-postgres", "db.example.com:5432", "port"),
    ("analytics-postgres", "postgres://db.example.com", "scheme"),
    ("analytics-postgres", "admin@db.example.com", "user info"),
    ("analytics-postgres", "db.example.com\n", "whitespace"),
    ("analytics-mysql", "db.example.com?x", "query"),
    ("analytics-mysql", "2130706433", "IPv4"),
    ("analytics-redshift", "db.example.com#x", "fragment"),
    ("analytics-clickhouse", "https://ch.example.com", "scheme"),
    ("analytics-clickhouse", "ch%2eexample.com", "percent"),
    ("analytics-elasticsearch", "https://es.example.com/_search", "path"),
    ("analytics-elasticsearch", "https://elastic:pw@es.example.com", "user info"),
    ("analytics-elasticsearch", "https://es.example.com?pretty", "query"),
])
def test_a_host_that_is_not_bare_is_a_400_naming_value_host(api, type_slug, host, fix):
    value = _value(host=host)
    if type_slug == "analytics-elasticsearch":
        value = {"host": host, "index": "logs"}
    if type_slug == "analytics-clickhouse":
        value["port"] = 8443
    key, r = _save(api, type_slug, value)
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert list(errors) == ["value.host"] and fix in errors["value.host"][0], r.text
    assert api.get(f"{SECRETS}{key}/").status_code == 404  # nothing was stored
    # An update is held to the same rule.
    good, r = _save(api, type_slug, {**value, "host": "es.example.com" if "elastic" in type_slug else "db.example.com"})
    assert r.status_code == 201, r.text
    r = api.put(f"{SECRETS}{good}/", json={"value": value})
    assert r.status_code == 400 and "value.host" in r.json()["errors"], r.text


@pytest.mark.parametrize(("host", "why"), [
    ("169.254.169.254", "metadata"), ("::ffff:169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"),
    ("metadata.google.internal", "metadata"), ("10.0.0.5", "TELLTALE_ALLOWED_NETWORKS"),
    ("192.168.1.20", "TELLTALE_ALLOWED_NETWORKS"), ("100.64.0.1", "TELLTALE_ALLOWED_NETWORKS"),
    ("0.0.0.0", "never allowed"),
])
def test_a_target_the_policy_refuses_is_a_403_saying_why(api, host, why):
    key, r = _save(api, "analytics-postgres", _value(host=host, port=80))
    assert r.status_code == 201, r.text  # the form is fine; where it goes is checked when it connects
    r = _execute_and_check_blocked(api, key)
    assert why in r.json()["message"], r.text


def _execute_and_check_blocked(api: Any, key: str) -> Any:
    r = _run(api, key)
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["code"] == "ConnectorError" and body["details"]["category"] == "not allowed", r.text
    assert body["details"]["setting"] == "TELLTALE_ALLOWED_NETWORKS" and "data" not in body
    assert "pw-51e0" not in r.text
    return r


def test_loopback_is_refused_when_not_listed(api, external_pg, allowed_networks):
    key, _ = _save(api, "analytics-postgres", external_pg.secret())
    allowed_networks("")  # as deployed
    r = _execute_and_check_blocked(api, key)
    assert "127.0.0.1 is a loopback address" in r.json()["message"]
    allowed_networks("10.0.0.0/8,db.example.com")  # other networks: still not loopback
    _execute_and_check_blocked(api, key)


def test_an_allowed_loopback_server_works(api, external_pg, allowed_networks):
    key, _ = _save(api, "analytics-postgres", external_pg.secret())
    allowed_networks("127.0.0.0/8")
    r = _run(api, key, "SELECT region FROM sales ORDER BY region")
    assert r.status_code == 200, r.text
    assert [row["region"] for row in r.json()["data"]] == ["Asia", "Europe", "North America"]
    allowed_networks("localhost")  # by host name
    key, _ = _save(api, "analytics-postgres", external_pg.secret(host="localhost"))
    assert _run(api, key).status_code == 200


def test_the_platform_database_is_refused_whatever_the_list_says(api, local_stack, allowed_networks):
    allowed_networks("0.0.0.0/0,::/0")
    for host in ("127.0.0.1", "localhost", "127.0.0.2"):
        key, _ = _save(api, "analytics-postgres", _value(host=host, port=local_stack.pg.port, database="telltale",
                                                          username="telltale"))
        r = _execute_and_check_blocked(api, key)
        assert "platform's own database" in r.json()["message"], r.text


def test_a_refused_run_is_recorded_with_its_reason(api, platform_db):
    key, _ = _save(api, "analytics-postgres", _value(host="169.254.169.254", port=80))
    r = _run(api, key)
    exec_key = r.json()["details"]["execution_key"]
    row = platform_db.query_one("SELECT outcome, error_code, error_message FROM platform.query_executions"
                                " WHERE execution_key = :k", k=exec_key)
    assert row["outcome"] == "error" and row["error_code"] == "ConnectorError" and "metadata" in row["error_message"]
