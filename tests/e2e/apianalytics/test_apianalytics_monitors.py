"""Uptime monitoring over HTTP: register endpoints, the scheduled checker pings them (timeouts, no
redirects into private ranges, only registered URLs), and results and uptime are read back."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytestmark = pytest.mark.e2e



class Target(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        Target.hits.append(self.path)
        if self.path == "/slow":
            time.sleep(2.5)
        if self.path.startswith("/redirect-private"):
            self.send_response(302)
            self.send_header("Location", "http://10.255.255.1/admin")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/redirect-loopback":
            self.send_response(301)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/ok")  # type: ignore[attr-defined]
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = 503 if self.path == "/down" else 200
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_checker(local_stack: Any) -> dict[str, Any]:
    result: dict[str, Any] = local_stack.runtime.invoke(local_stack.template.function("uptime_check"), {})
    return result


def results_of(key: Any, monitor_id: str, at_least: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
    """A monitor's results; the stack's own scheduler may have claimed the check, so wait for it."""
    deadline = time.time() + timeout
    while True:
        r = key.get(f"/api/monitors/{monitor_id}/results")
        assert r.status_code == 200, r.text
        rows: list[dict[str, Any]] = r.json()["data"]
        if len(rows) >= at_least or time.time() > deadline:
            return rows
        time.sleep(0.2)


def test_private_urls_are_refused_unless_the_deployment_allows_them(key, allowed_networks):
    allowed_networks("")  # nothing private, as deployed
    for url in ("http://127.0.0.1:8080/health", "http://10.0.0.5/", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/"):
        r = key.post("/api/monitors", json={"url": url})
        assert r.status_code == 400 and "url" in r.json()["errors"], (url, r.text)
    bad = key.post("/api/monitors", json={"url": "ftp://example.com", "method": "BREW", "expected_status": 700,
                                          "interval_minutes": 7})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"url", "method", "expected_status", "interval_minutes"}
    creds = key.post("/api/monitors", json={"url": "http://user:pw@example.com/"})
    assert creds.status_code == 400 and "url" in creds.json()["errors"]


def test_monitors_crud_checks_and_uptime(key, new_key, local_stack, target, setting):
    setting("TELLTALE_APIANALYTICS_CHECK_TIMEOUT_S", "1")
    Target.hits = []
    ids = {}
    for name, body in {
        "ok": {"url": f"{target}/ok", "interval_minutes": 1},
        "down": {"url": f"{target}/down"},
        "slow": {"url": f"{target}/slow"},
        "private": {"url": f"{target}/redirect-private"},
        "loopback": {"url": f"{target}/redirect-loopback"},
    }.items():
        r = key.post("/api/monitors", json=body)
        assert r.status_code == 201, r.text
        created = r.json()["data"]
        assert created["method"] == "GET" and created["expected_status"] == 200
        ids[name] = created["id"]
    dup = key.post("/api/monitors", json={"url": f"{target}/ok"})
    assert dup.status_code == 409

    listed = key.get("/api/monitors").json()["data"]
    assert {m["id"] for m in listed} == set(ids.values())
    # Another key (even of the same tenant) sees none of them.
    other = new_key()
    assert other.get("/api/monitors").json()["data"] == []
    assert other.get(f"/api/monitors/{ids['ok']}/results").status_code == 404
    assert other.delete(f"/api/monitors/{ids['ok']}").status_code == 404

    run_checker(local_stack)
    got = {name: results_of(key, mid)[0] for name, mid in ids.items()}
    assert got["ok"]["up"] is True and got["ok"]["status"] == 200 and got["ok"]["response_time"] >= 0
    assert got["down"]["up"] is False and got["down"]["status"] == 503
    assert got["slow"]["up"] is False and "timed out" in got["slow"]["error"]
    assert got["private"]["up"] is False and got["private"]["status"] == 302
    assert "not followed" in got["private"]["error"] and "10.255.255.1" in got["private"]["error"]
    # Even where the registered URL may be private, a redirect into a private range is not followed.
    assert got["loopback"]["up"] is False and "not followed" in got["loopback"]["error"]
    assert Target.hits.count("/ok") == 1  # the loopback redirect never reached /ok
    assert all(h in {"/ok", "/down", "/slow", "/redirect-private", "/redirect-loopback"} for h in Target.hits)

    # Not due again yet: a second run pings nothing of ours.
    before = len(Target.hits)
    run_checker(local_stack)
    assert len(Target.hits) == before

    up = key.get("/api/uptime")
    assert up.status_code == 200
    by_url = {m["url"]: m for m in up.json()["data"]}
    assert by_url[f"{target}/ok"]["uptime"] == 1 and by_url[f"{target}/ok"]["checks"] == 1
    assert by_url[f"{target}/down"]["uptime"] == 0
    assert by_url[f"{target}/ok"]["points"][0]["checks"] == 1 and by_url[f"{target}/ok"]["bucket"] == "day"
    assert key.get("/api/uptime", params={"dateFrom": "yesterday"}).status_code == 400

    assert key.delete(f"/api/monitors/{ids['down']}").status_code == 200
    assert key.get(f"/api/monitors/{ids['down']}/results").status_code == 404
    assert key.delete(f"/api/monitors/{ids['down']}").status_code == 404
    assert key.get("/api/monitors/not-a-uuid/results").status_code == 404
    # Deleting the key's data clears the results but keeps the monitors.
    assert key.delete("/api/data").json()["data"]["deleted"]["monitor_results"] >= 4
    assert results_of(key, ids["ok"], at_least=0, timeout=0) == []
    assert len(key.get("/api/monitors").json()["data"]) == 4


def test_a_slow_monitor_does_not_hold_back_the_others_results(key, local_stack, target, monkeypatch):
    """Each result is written as soon as its check ends: while a slow endpoint is still being waited on,
    the fast ones' results are already readable (a run cut short would lose only the slow one)."""
    from telltale.apianalytics import monitors
    from telltale.platform import db

    ids = [key.post("/api/monitors", json={"url": f"{target}/{p}", "interval_minutes": 1440}).json()["data"]["id"]
           for p in ("slow", "ok", "down")]
    rows = db.query("SELECT id, tenant_id, url, method, expected_status, last_checked_at AS prev_checked_at"
                    " FROM platform.api_monitors WHERE id = ANY(CAST(:ids AS uuid[]))", ids=ids)
    slow_id, ok_id, down_id = ids
    run = threading.Thread(target=monitors.run_checks, args=(rows,),
                           kwargs={"deadline": time.monotonic() + 30, "timeout": 2.0, "workers": 3})
    started = time.monotonic()
    run.start()
    fast = {mid: results_of(key, mid, timeout=5) for mid in (ok_id, down_id)}
    assert run.is_alive(), "the fast results should be stored while the slow check still waits"
    assert fast[ok_id][0]["up"] is True, fast
    assert fast[down_id][0]["status"] == 503
    assert results_of(key, slow_id, at_least=0, timeout=0) == []
    run.join(10)
    assert time.monotonic() - started < 4  # the slow endpoint answers after 2.5 s; the check gives up at 2 s
    slow = results_of(key, slow_id)
    assert slow[0]["up"] is False and "timed out" in slow[0]["error"]


def test_a_run_claims_only_what_it_can_check_before_the_lambda_times_out(key, local_stack, target, setting):
    from telltale.apianalytics import monitors
    from telltale.platform import db

    setting("TELLTALE_APIANALYTICS_CHECK_TIMEOUT_S", "1")
    mid = key.post("/api/monitors", json={"url": f"{target}/ok", "interval_minutes": 1440}).json()["data"]["id"]

    def last_checked() -> Any:
        return db.query_one("SELECT last_checked_at FROM platform.api_monitors WHERE id = CAST(:m AS uuid)",
                            m=mid)["last_checked_at"]

    from telltale_local.runtime import LambdaContext

    fn = local_stack.template.function("uptime_check")
    almost_out = LambdaContext(fn)  # less time left than one check needs after the reserve
    almost_out._deadline = time.monotonic() + monitors.RESERVE_S + 0.5
    assert local_stack.runtime.handler_for(fn)({}, almost_out)["checked"] == 0
    assert last_checked() is None  # not claimed: due at the next run

    # Claimed, but the deadline passes before its check can start: the claim is given back.
    claimed_now = monitors.claim_due(monitors.MAX_CLAIM)
    monitors.release([m for m in claimed_now if str(m["id"]) != mid])  # other tests' monitors
    claimed = next((m for m in claimed_now if str(m["id"]) == mid), None)
    if claimed is None:  # the stack's own scheduler got there first
        pytest.skip("the local stack's scheduler checked the monitor meanwhile")
    assert monitors.run_checks([claimed], deadline=time.monotonic() + 0.1) == []
    assert last_checked() is None
    assert results_of(key, mid, at_least=0, timeout=0) == []
