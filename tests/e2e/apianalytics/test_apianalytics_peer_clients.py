"""The api-analytics clients (tom-draper/api-analytics), installed from their registries and unchanged,
logging to Telltale: a real app per framework (FastAPI, Flask, Django and Tornado with the ``api-analytics``
package, Tornado with ``tornado-analytics``, Express with ``node-api-analytics``), each pointed at the local
stack only through its client's own server-URL setting, requests driven through it, and every record read
back through ``/api/data``, field by field, at every privacy level.

The clients send what they gathered on the first request more than 60 s after they started, and none of
them has a setting for that: every app starts at once, so the whole module waits that minute once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from apianalytics_servers import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
APPS_DIR = Path(__file__).resolve().parent / "peer_apps"
TORNADO_ANALYTICS = ROOT / ".venv" / "peer" / "tornado-analytics"
WAIT = 61.5  # the clients post on the first request more than 60 s after they started

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
COUNTRY = {"81.2.69.142": "GB", "8.8.8.8": "US"}
BROWSER = {CHROME_WIN: ("Chrome", "Windows"), FIREFOX_LINUX: ("Firefox", "Linux")}
HOST = "shop.example.com"


@dataclass
class Call:
    method: str
    path: str
    status: int
    ua: str
    ip: str
    user: str | None
    slow: bool = False


# What each app is sent before the minute is up; then GET /items once more makes the client post.
PY_CALLS = [Call("GET", "/items", 200, CHROME_WIN, "81.2.69.142", "u-1"),
            Call("POST", "/items", 201, FIREFOX_LINUX, "8.8.8.8", "u-2"),
            Call("GET", "/slow", 200, CHROME_WIN, "81.2.69.142", None, slow=True),
            Call("GET", "/nowhere", 404, FIREFOX_LINUX, "8.8.8.8", "u-1")]
JS_CALLS = [Call("GET", "/items", 200, CHROME_WIN, "81.2.69.142", "u-1"),
            Call("POST", "/items", 201, FIREFOX_LINUX, "8.8.8.8", "u-2"),
            Call("DELETE", "/items/7", 404, CHROME_WIN, "8.8.8.8", None)]
TRIGGER = Call("GET", "/items", 200, CHROME_WIN, "81.2.69.142", "u-3")


@dataclass
class App:
    name: str
    framework: str
    level: int
    mappers: str  # which of the spec's mapper functions the app's Config sets (see peer_apps/python_apps.py)
    prefix: str = ""
    key: str = ""
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def send(self, call: Call) -> None:
        headers = {"Host": HOST, "User-Agent": call.ua, "X-Forwarded-For": call.ip}
        if call.user:
            headers["X-User-Id"] = call.user
        r = requests.request(call.method, f"http://127.0.0.1:{self.port}{self.prefix}{call.path}", headers=headers,
                             timeout=10)
        assert r.status_code == call.status, (self.name, call, r.status_code, r.text[:200])
        self.calls.append(call)

    def expected(self, call: Call) -> dict[str, Any]:
        """The stored record of ``call``: what the client sends at its level, as the server keeps it."""
        if self.level >= 2:
            sent_ip = None  # the client never reads it
        elif "xff" in self.mappers or self.framework == "Express":  # Express's default mapper reads XFF
            sent_ip = call.ip
        else:
            sent_ip = "127.0.0.1"  # the connection's address: loopback, no country
        browser, os_name = BROWSER[call.ua]
        return {"hostname": HOST, "ip_address": sent_ip if self.level == 0 else None, "path": call.path,
                "method": call.method, "status": call.status, "browser": browser, "os": os_name,
                "location": COUNTRY.get(sent_ip or ""),
                "user_id": call.user if "user" in self.mappers or self.framework == "Express" else None,
                "framework": self.framework}


PY_APPS = [App("fastapi", "FastAPI", 0, "xff,user"), App("flask", "Flask", 1, "xff"),
           App("django", "Django", 2, "user"), App("tornado", "Tornado", 0, "user"),
           # spec 002's own example: the IP from X-Forwarded-For, the user agent read as a header
           App("tornado-analytics", "Tornado", 1, "xff,ua")]
JS_APPS = [App(f"express-{level}", "Express", level, "", prefix=f"/l{level}") for level in (0, 1, 2)]


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"{name} did not listen on {port}")


def _versions(env: dict[str, str]) -> str:
    code = ("import importlib.metadata as m, api_analytics.core as c; "
            "print(*[d.metadata['Name'] + ' ' + d.version for d in m.distributions() "
            "if d.metadata['Name'] in ('api-analytics', 'tornado-analytics')], c.__file__)")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def peer_apps(api: Any) -> Iterator[list[App]]:
    if not TORNADO_ANALYTICS.is_dir():
        pytest.fail(f"tornado-analytics is not installed in {TORNADO_ANALYTICS}: run make install")
    node_ok = (APPS_DIR / "node_modules" / "node-api-analytics").is_dir()
    if not node_ok:
        pytest.skip("node-api-analytics is not installed (make peer-clients; needs npm)")
    apps = PY_APPS + JS_APPS
    for app in apps:
        r = api.post("/api/keys", tenant="demo", json={"name": f"peer {app.name}"})
        assert r.status_code == 201, r.text
        app.key, app.port, app.calls, app.rows = r.json()["data"]["api_key"], free_port(), [], []
    # The Python clients send local time without an offset, read as UTC (as the peer's server reads it):
    # the apps run in UTC, as servers usually do.
    base = {**os.environ, "PEER_SERVER": api.url, "TZ": "UTC", "PYTHONDONTWRITEBYTECODE": "1"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        started = datetime.now(UTC)
        for app in PY_APPS:
            env = {**base, "PEER_KEY": app.key, "PEER_PORT": str(app.port), "PEER_LEVEL": str(app.level),
                   "PEER_MAPPERS": app.mappers}
            if app.name == "tornado-analytics":
                env["PYTHONPATH"] = str(TORNADO_ANALYTICS)
                assert "tornado-analytics 1.2.4" in _versions(env) and str(TORNADO_ANALYTICS) in _versions(env)
            else:
                env.pop("PYTHONPATH", None)
                assert "api-analytics 1.2.7" in _versions(env)
            kind = "tornado" if app.name.startswith("tornado") else app.name
            procs.append(subprocess.Popen([sys.executable, str(APPS_DIR / "python_apps.py"), kind], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        js_env = {**base, "PEER_PORT": str(JS_APPS[0].port),
                  **{f"PEER_KEY_{a.level}": a.key for a in JS_APPS}}
        for a in JS_APPS:
            a.port = JS_APPS[0].port  # one Express app, one router (and client) per level
        procs.append(subprocess.Popen(["node", "express_app.mjs"], cwd=APPS_DIR, env=js_env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        for app, proc in zip([*PY_APPS, JS_APPS[0]], procs, strict=True):
            _wait_for_port(app.port, proc, app.name)
        # The clients' minute starts when they are created, before the apps listen: counted from here, it
        # has surely passed however slowly a busy machine imported them.
        t0 = time.monotonic()
        for app in apps:
            for call in PY_CALLS if app in PY_APPS else JS_CALLS:
                app.send(call)
        time.sleep(max(0.0, t0 + WAIT - time.monotonic()))
        for app in apps:
            app.send(TRIGGER)
        deadline = time.monotonic() + 30
        for app in apps:
            while True:
                r = api.get("/api/data", tenant=None, headers={"X-AUTH-TOKEN": app.key})
                assert r.status_code == 200, r.text
                app.rows = r.json()
                if len(app.rows) >= len(app.calls) or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
        ended = datetime.now(UTC)
        for app in apps:
            for row in app.rows:
                t = datetime.fromisoformat(row["created_at"])
                assert started - timedelta(seconds=2) <= t <= ended + timedelta(seconds=2), (app.name, row)
        yield apps
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.parametrize("name", [a.name for a in PY_APPS + JS_APPS])
def test_every_request_arrives_with_every_field(peer_apps, name):
    [app] = [a for a in peer_apps if a.name == name]
    assert len(app.rows) == len(app.calls) == (len(PY_CALLS) if app in PY_APPS else len(JS_CALLS)) + 1, app.rows

    def comparable(d: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(sorted((k, str(v)) for k, v in d.items() if k not in ("created_at", "response_time")))

    expected = sorted((app.expected(c) for c in app.calls), key=comparable)
    got = sorted(app.rows, key=comparable)
    assert [{k: v for k, v in r.items() if k not in ("created_at", "response_time")} for r in got] == expected
    for row in app.rows:
        assert isinstance(row["response_time"], int) and 0 <= row["response_time"] < 5000, row
    slow = [r for r in app.rows if r["path"] == "/slow"]
    assert all(r["response_time"] >= 150 for r in slow), slow  # the time measured is the real one


def test_each_privacy_level_stores_what_spec_002_says(peer_apps):
    """Level 0: the IP and its country; 1: only the country; 2: neither (the client sends no IP)."""
    by_level: dict[int, set[tuple[bool, bool]]] = {}
    for app in peer_apps:
        if "xff" in app.mappers or app.framework == "Express":
            for r in app.rows:
                by_level.setdefault(app.level, set()).add((r["ip_address"] is not None, r["location"] is not None))
    assert by_level == {0: {(True, True)}, 1: {(False, True)}, 2: {(False, False)}}


def test_filters_of_the_data_api_find_the_peer_records(api, peer_apps):
    [fastapi] = [a for a in peer_apps if a.name == "fastapi"]
    h = {"X-AUTH-TOKEN": fastapi.key}
    assert len(api.get("/api/data", tenant=None, headers=h, params={"location": "GB"}).json()) == 3
    assert [r["path"] for r in api.get("/api/data", tenant=None, headers=h, params={"status": "404"}).json()] == [
        "/nowhere"]
    assert len(api.get("/api/data", tenant=None, headers=h, params={"user_id": "u-1"}).json()) == 2
    assert len(api.get("/api/data", tenant=None, headers=h, params={"hostname": HOST}).json()) == 5
