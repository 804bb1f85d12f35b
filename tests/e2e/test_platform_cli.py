"""The `telltale` command: tokens the gateway accepts, and `invoke` with the sample events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _cli(stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TELLTALE_DATA_DIR=str(stack.data_dir))
    return subprocess.run([sys.executable, "-m", "telltale_local.cli", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, check=False)


def test_token_command_mints_a_token_the_gateway_accepts(api):
    out = _cli(api.stack, "token", "--tenant", "demo", "--user", "u-42", "--email", "u42@x.example", "--staff")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    r = requests.get(api.url + "/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200
    me = r.json()["data"]
    assert me["tenant_id"] == "demo" and me["user_id"] == "u-42" and me["email"] == "u42@x.example"
    assert me["is_staff"] is True


@pytest.mark.parametrize(("args", "says"), [(["--tenant", "a;b"], "--tenant"),
                                            (["--tenant", "demo", "--ttl", "-5"], "--ttl")])
def test_token_command_refuses_what_the_api_would_refuse(api, args, says):
    out = _cli(api.stack, "token", *args)
    assert out.returncode == 2 and says in out.stderr and out.stdout == ""


def test_invoke_runs_a_function_with_a_sample_event(api):
    out = _cli(api.stack, "invoke", "secrets", "--event", "events/secrets_list_types.json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["statusCode"] == 200
    assert "analytics-postgres" in result["body"]


def test_invoke_saves_and_executes_the_sample_query(api):
    """The samples as `sam local invoke` would use them: queries_create_internal.json saves the README's
    internal query, execute_query_internal.json runs it (execute_query answers without a router)."""
    created = _cli(api.stack, "invoke", "queries", "--event", "events/queries_create_internal.json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["statusCode"] in (201, 409)  # 409: saved by an earlier run
    out = _cli(api.stack, "invoke", "execute_query", "--event", "events/execute_query_internal.json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["statusCode"] == 200 and result["headers"]["Content-Type"] == "application/json"
    body = json.loads(result["body"])
    assert body["message"] == "Query executed successfully" and body["total"] == len(body["data"]) > 0
    assert {row["status"] for row in body["data"]} == {"paid"}


def test_invoke_names_the_known_functions_when_asked_for_an_unknown_one(api):
    out = _cli(api.stack, "invoke", "no_such_function", "--event", "events/migrate.json")
    assert out.returncode == 2 and "secrets" in out.stderr


def test_every_function_has_a_sample_event_for_each_way_it_is_triggered():
    """Per function of the template, among the samples named after its folder: an API Gateway event for
    one of its routes, an SQS event if a queue feeds it, an EventBridge event if a schedule runs it
    (told apart by content: the ingest API and its queue worker share a folder)."""
    sys.path.insert(0, str(ROOT / "local"))
    from telltale_local.template import load

    def samples(name: str) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((ROOT / "events").glob("*.json"))
                if p.stem == name or p.stem.startswith(name + "_")]

    missing = []
    for logical_id, fn in load().functions.items():
        own = samples(fn.name)
        if fn.routes and not {f"{r.method} {r.path}" for r in fn.routes} & {s.get("routeKey") for s in own}:
            missing.append(f"{logical_id}: an API Gateway event for one of its routes")
        if fn.queues and not any((s.get("Records") or [{}])[0].get("eventSource") == "aws:sqs" for s in own):
            missing.append(f"{logical_id}: an SQS event")
        if fn.schedules and not any(s.get("detail-type") == "Scheduled Event" for s in own):
            missing.append(f"{logical_id}: a scheduled (EventBridge) event")
        if not own:
            missing.append(f"{logical_id}: any sample named events/{fn.name}*.json")
    assert missing == []


def test_migrate_command_is_idempotent(api):
    out = _cli(api.stack, "migrate")
    assert out.returncode == 0, out.stderr
    assert "up to date" in out.stdout
