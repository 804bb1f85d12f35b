"""telltale-client on its own: the bounded buffer, batching, backoff, drop-oldest accounting, flush on
shutdown, and what leaves the process at each privacy level (captured by a real loopback server)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from client_delivery import flush_until_sent

from telltale_client import core
from telltale_client.core import Client, Config


def rec(i: int) -> dict[str, Any]:
    return {"path": f"/r{i}", "method": "GET", "status": 200, "response_time": 1, "created_at": "2026-01-01T00:00:00Z"}


class FakeServer:
    """An opener that fails ``fail_first`` times, then accepts; records every attempt."""

    def __init__(self, fail_first: int = 0, status: int = 201) -> None:
        self.fail_first = fail_first
        self.status = status
        self.attempts: list[float] = []
        self.batches: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()

    def __call__(self, req: Any, timeout: float) -> tuple[int, bytes]:
        with self.lock:
            self.attempts.append(time.monotonic())
            if len(self.attempts) <= self.fail_first:
                raise ConnectionRefusedError("down")
            body = json.loads(req.data)
            self.batches.append([dict(zip(body["fields"], row, strict=True)) for row in body["rows"]])
            return self.status, b"{}"


def make(opener: Any, **cfg: Any) -> Client:
    return Client("tt_test", Config(server_url="http://127.0.0.1:9", **cfg), "Test", opener=opener)


def wait_for(pred: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_sends_in_batches_of_batch_size():
    server = FakeServer()
    c = make(server, batch_size=10, flush_interval=30)
    for i in range(25):
        c.log(rec(i))
    wait_for(lambda: len(server.batches) >= 2)  # two full batches go without waiting for the interval
    assert [len(b) for b in server.batches[:2]] == [10, 10]
    assert c.flush(timeout=5)
    assert [r["path"] for b in server.batches for r in b] == [f"/r{i}" for i in range(25)]
    assert c.stats()["sent"] == 25 and c.stats()["dropped"] == 0
    c.shutdown(1)


def test_interval_sends_a_partial_batch():
    server = FakeServer()
    c = make(server, batch_size=1000, flush_interval=0.1)
    c.log(rec(1))
    wait_for(lambda: server.batches)
    assert [[r["path"] for r in b] for b in server.batches] == [["/r1"]]
    c.shutdown(1)


def test_retries_with_growing_backoff_then_delivers_everything():
    server = FakeServer(fail_first=3)
    c = make(server, batch_size=5, flush_interval=0.05, max_backoff=2)
    for i in range(5):
        c.log(rec(i))
    wait_for(lambda: server.batches, timeout=10)
    gaps = [b - a for a, b in zip(server.attempts, server.attempts[1:], strict=False)]
    assert len(gaps) >= 3 and gaps[2] > gaps[0] * 1.5  # 0.5 s, 1 s, 2 s (with jitter)
    assert [r["path"] for r in server.batches[0]] == [f"/r{i}" for i in range(5)]
    assert c.stats()["failed_attempts"] == 3 and c.stats()["dropped"] == 0
    c.shutdown(1)


def test_full_buffer_drops_the_oldest_and_counts_them():
    server = FakeServer(fail_first=10**9)
    c = make(server, batch_size=5, flush_interval=0.05, max_buffer=20, max_backoff=0.1)
    for i in range(100):
        c.log(rec(i))
    wait_for(lambda: c.stats()["failed_attempts"] >= 2)
    stats = c.stats()
    assert stats["buffered"] == 20 and stats["dropped"] == 80 and stats["sent"] == 0
    assert [r["path"] for r in c._buffer] == [f"/r{i}" for i in range(80, 100)]
    assert not c.flush(timeout=1)
    c.shutdown(0.5)


def test_rejected_batches_are_not_retried():
    server = FakeServer(status=401)
    c = make(server, batch_size=3, flush_interval=0.05)
    for i in range(3):
        c.log(rec(i))
    wait_for(lambda: c.stats()["rejected"] == 3)
    time.sleep(0.2)
    assert len(server.attempts) == 1
    c.shutdown(0.5)


def test_shutdown_flushes_what_is_buffered():
    server = FakeServer()
    c = make(server, batch_size=1000, flush_interval=3600)
    for i in range(7):
        c.log(rec(i))
    assert server.batches == []
    c.shutdown(2)
    assert [len(b) for b in server.batches] == [7]
    c.log(rec(99))  # after shutdown: ignored, never raised
    assert c.stats()["buffered"] == 0


def test_an_unreachable_server_never_blocks_log():
    c = Client("tt_x", Config(server_url="http://10.255.255.1:9", timeout=5, batch_size=1), "Test")
    started = time.perf_counter()
    for i in range(2000):
        c.log(rec(i))
    assert time.perf_counter() - started < 0.5
    c.shutdown(0.1)


def test_bad_server_url_is_refused_early():
    with pytest.raises(ValueError, match="http"):
        Client("tt_x", Config(server_url="file:///etc/passwd"), "Test")


# ---------------------------------------------------------------- what leaves the process
class Capture(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        n = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(n))
        body["requests"] = [dict(zip(body["fields"], row, strict=True)) for row in body["rows"]]
        Capture.bodies.append({"token": self.headers.get("X-AUTH-TOKEN"), "body": body})
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def capture() -> Iterator[str]:
    Capture.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    for c in list(core._clients.values()):
        c.shutdown(0.5)
    core._clients.clear()


@pytest.mark.parametrize("level", [0, 1, 2])
def test_privacy_level_on_the_wire(capture, level):
    from flask import Flask
    from werkzeug.serving import make_server

    from telltale_client.wsgi import Analytics

    ip_reads: list[str] = []

    def ip_mapper(request: Any) -> str:
        ip_reads.append(request.path)
        return "81.2.69.142"

    app = Flask("privacy_test")
    app.add_url_rule("/hi", "hi", lambda: "hi")
    config = Config(server_url=capture, privacy_level=level, flush_interval=0.05)
    config.get_ip_address = ip_mapper
    config.get_user_id = lambda request: request.headers.get("x-user")
    app.wsgi_app = Analytics(app.wsgi_app, "tt_privacy", config, framework="Flask")  # type: ignore[method-assign]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r = requests.get(f"http://127.0.0.1:{server.server_port}/hi", headers={"X-User": "u-7"}, timeout=5)
        assert r.text == "hi"
        flush_until_sent(1)
    finally:
        server.shutdown()
    assert len(Capture.bodies) == 1
    sent = Capture.bodies[0]
    assert sent["token"] == "tt_privacy"
    assert sent["body"]["privacy_level"] == level and sent["body"]["framework"] == "Flask"
    [record] = sent["body"]["requests"]
    assert set(record) - {"ip_address"} == {"path", "method", "status", "response_time", "created_at", "hostname",
                                           "user_agent", "user_id"}
    assert record["user_id"] == "u-7" and record["path"] == "/hi" and record["status"] == 200
    if level == 2:
        assert "ip_address" not in sent["body"]["fields"] and ip_reads == []  # never read, not even a column
        assert "81.2.69.142" not in json.dumps(sent["body"])
    else:
        assert record["ip_address"] == "81.2.69.142" and ip_reads == ["/hi"]


def test_server_url_defaults_to_telltale_url(monkeypatch):
    from telltale_client.core import DEFAULT_URL, Config

    monkeypatch.setenv("TELLTALE_URL", "http://telltale.internal:8080")
    assert Config().server_url == "http://telltale.internal:8080"
    monkeypatch.delenv("TELLTALE_URL")
    assert Config().server_url == DEFAULT_URL == "http://127.0.0.1:3000"


def test_headers_are_case_insensitive_as_in_every_framework():
    from telltale_client.core import Headers

    h = Headers([("X-Forwarded-For", "81.2.69.142"), ("user-agent", "curl")])
    assert h["x-forwarded-for"] == h["X-Forwarded-For"] == "81.2.69.142"
    assert h.get("User-Agent") == "curl" and "USER-AGENT" in h and h.get("X-Missing") is None
    with pytest.raises(KeyError):
        h["X-Missing"]


def test_a_raising_mapper_falls_back_to_that_fields_default(caplog, monkeypatch):
    from telltale_client.core import Config, record_from, to_wire

    monkeypatch.setattr(core, "_log", core._RateLimitedLog())  # "once" is per process: start afresh

    def boom(request):
        raise KeyError("X-Forwarded-For")

    config = Config(server_url="http://127.0.0.1:9")
    config.get_ip_address = config.get_path = config.get_user_id = boom
    make = lambda: to_wire(record_from(config, None, started=0.0, method="GET", status=200,  # noqa: E731
                                       elapsed_ms=1, path="/p", hostname="h", user_agent="ua",
                                       ip_of=lambda r: "10.0.0.1"))
    with caplog.at_level("WARNING", logger="telltale_client"):
        first, second = make(), make()
    assert first == second
    assert (first["path"], first["ip_address"], first.get("user_id")) == ("/p", "10.0.0.1", None)
    assert sum("get_ip_address" in r.getMessage() for r in caplog.records) == 1  # logged once, not per request


def test_the_client_sends_only_addresses():
    from telltale_client.core import _ip_or_none

    assert _ip_or_none("unknown") is None and _ip_or_none("") is None and _ip_or_none(None) is None
    assert _ip_or_none("81.2.69.142, 10.0.0.1") == "81.2.69.142"
    assert _ip_or_none("2001:DB8:0::1") == "2001:db8::1"
