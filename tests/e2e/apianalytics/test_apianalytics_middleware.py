"""The middleware in real host applications (Tornado, Starlette on uvicorn, Flask on werkzeug), sending
to the session's local stack; the records are read back through /api/data with every filter."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("isolated_clients")]

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GB_IP, US_IP = "81.2.69.142", "8.8.8.8"

# (method, path, Host, client IP via X-Forwarded-For, user agent, user id, expected status)
TRAFFIC = [
    ("GET", "/hello", "api.example.com", GB_IP, CHROME_WIN, "alice", 200),
    ("GET", "/hello", "api.example.com", US_IP, FIREFOX_LINUX, "bob", 200),
    ("GET", "/missing", "other.example.com", GB_IP, CHROME_WIN, "alice", 404),
    ("POST", "/hello", "api.example.com", US_IP, "curl/8.5.0", None, 200),
]


def drive(base_url: str) -> None:
    s = requests.Session()
    for method, path, host, ip, ua, user, status in TRAFFIC:
        headers = {"Host": host, "X-Forwarded-For": ip, "User-Agent": ua}
        if user:
            headers["X-User"] = user
        r = s.request(method, base_url + path, headers=headers, timeout=10)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        if status == 200:
            assert r.json() == {"message": "Hello World!"}


def flush() -> None:
    from client_delivery import flush_until_sent

    flush_until_sent(len(TRAFFIC))


def check_records(key: Any, framework: str) -> None:
    rows = key.data()
    assert len(rows) == 4, rows
    assert {r["framework"] for r in rows} == {framework}
    assert sorted((r["method"], r["path"], r["status"]) for r in rows) == sorted(
        (m, p, s) for m, p, _, _, _, _, s in TRAFFIC)
    first = next(r for r in rows if r["user_id"] == "alice" and r["status"] == 200)
    assert (first["browser"], first["os"], first["location"], first["ip_address"]) == ("Chrome", "Windows", "GB", GB_IP)
    assert first["hostname"] == "api.example.com" and first["response_time"] >= 0
    assert all("user_agent" not in r for r in rows)  # parsed into browser and OS, not kept (spec 002)

    def count(**params: Any) -> int:
        return len(key.data(**params))

    today = datetime.now(UTC).date()
    assert count(hostname="api.example.com") == 3
    assert count(hostname="other.example.com") == 1
    assert count(ipAddress=US_IP) == 2
    assert count(ipAddress="1.1.1.1") == 0
    missing = key.data(status=404)
    assert [r["path"] for r in missing] == ["/missing"]
    assert count(status=200) == 3
    assert count(location="GB") == 2 and count(location="us") == 2
    assert count(user_id="alice") == 2 and count(user_id="bob") == 1
    assert count(date=today.isoformat()) == 4
    assert count(dateFrom=today.isoformat(), dateTo=today.isoformat()) == 4
    assert count(dateTo=(today - timedelta(days=1)).isoformat()) == 0
    assert count(dateFrom=(today + timedelta(days=1)).isoformat()) == 0
    assert count(page=1) == 4 and count(page=2) == 0
    assert count(hostname="api.example.com", status=200, location="US") == 2


def test_tornado_app_as_in_the_spec(api, key):
    from tornado.web import Application

    from telltale_client.tornado import Analytics, Config

    def config() -> Config:
        c = Config(server_url=api.url, flush_interval=0.2)
        c.get_ip_address = lambda request: request.headers["X-Forwarded-For"]
        c.get_user_id = lambda request: request.headers.get("X-User")
        return c

    class MainHandler(Analytics):
        def __init__(self, app, res):
            super().__init__(app, res, key.key, config())

        def get(self):
            self.write({"message": "Hello World!"})

        def post(self):
            self.write({"message": "Hello World!"})

    class Missing(Analytics):
        def __init__(self, app, res):
            super().__init__(app, res, key.key, config())

        def get(self):
            self.set_status(404)
            self.write({"message": "not here"})

    from apianalytics_servers import TornadoServer

    with TornadoServer(lambda: Application([(r"/hello", MainHandler), (r"/missing", Missing)])) as srv:
        drive(srv.url)
        flush()
    check_records(key, "Tornado")


def test_starlette_app_on_uvicorn(api, key):
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from telltale_client.asgi import Analytics, Config

    config = Config(server_url=api.url, flush_interval=0.2)
    # Spelled as in the spec (Tornado's headers): ASGI's are looked up case-insensitively too.
    config.get_ip_address = lambda request: request.headers["X-Forwarded-For"]
    config.get_user_id = lambda request: request.headers.get("X-User")

    async def hello(request):
        return JSONResponse({"message": "Hello World!"})

    app = Starlette(routes=[Route("/hello", hello, methods=["GET", "POST"])],
                    middleware=[Middleware(Analytics, api_key=key.key, config=config, framework="Starlette")])
    from apianalytics_servers import UvicornServer

    with UvicornServer(app) as srv:
        drive(srv.url)
        flush()
    check_records(key, "Starlette")


def test_flask_app_on_werkzeug(api, key):
    from flask import Flask, jsonify

    from telltale_client.wsgi import Analytics, Config

    app = Flask("apianalytics_test")

    @app.route("/hello", methods=["GET", "POST"])
    def hello():
        return jsonify(message="Hello World!")

    config = Config(server_url=api.url, flush_interval=0.2)
    # Spelled as in the spec (Tornado's headers): WSGI's are looked up case-insensitively too.
    config.get_ip_address = lambda request: request.headers["X-Forwarded-For"]
    config.get_user_id = lambda request: request.headers.get("X-User")
    app.wsgi_app = Analytics(app.wsgi_app, key.key, config, framework="Flask")  # type: ignore[method-assign]
    from apianalytics_servers import WerkzeugServer

    with WerkzeugServer(app) as srv:
        drive(srv.url)
        flush()
    check_records(key, "Flask")


def test_host_app_stays_fast_and_correct_when_the_server_is_down(key):
    """The configured server hangs (accepts connections, never answers): responses stay right and quick,
    records are buffered up to the cap, the oldest are dropped and counted, and a broken mapper never
    reaches the request."""
    import socket

    from apianalytics_servers import TornadoServer
    from tornado.web import Application

    from telltale_client.core import get_client
    from telltale_client.tornado import Analytics, Config

    # A listening socket nobody accepts on: connects succeed, replies never come. A request path that
    # waited on the sender would take the full 2 s timeout.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    dead = f"http://127.0.0.1:{hung.getsockname()[1]}"
    config = Config(server_url=dead, flush_interval=0.05, batch_size=10, max_buffer=50, timeout=2.0)

    def broken_mapper(request):
        raise RuntimeError("a bug in the user's mapper")

    class Hello(Analytics):
        def __init__(self, app, res):
            super().__init__(app, res, key.key, config)

        def get(self, n):
            self.write({"message": "Hello World!", "n": int(n)})

    class Broken(Analytics):
        def __init__(self, app, res):
            c = Config(server_url=dead)
            c.get_user_id = broken_mapper
            super().__init__(app, res, key.key, c)

        def get(self):
            self.write("still fine")

    n = 200
    with TornadoServer(lambda: Application([(r"/hello/(\d+)", Hello), (r"/broken", Broken)])) as srv:
        s = requests.Session()
        slowest = 0.0
        started = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            r = s.get(f"{srv.url}/hello/{i}", timeout=5)
            slowest = max(slowest, time.perf_counter() - t)
            assert r.status_code == 200 and r.json() == {"message": "Hello World!", "n": i}
        total = time.perf_counter() - started
        r = s.get(f"{srv.url}/broken", timeout=5)
        assert r.status_code == 200 and r.text == "still fine"
    # Loopback requests take a few ms; none may wait on the hung server (2 s timeout).
    assert slowest < 1.0, slowest
    assert total / n < 0.05, total / n
    client = get_client(key.key, config, "Tornado")
    deadline = time.time() + 15
    while not (client.stats()["failed_attempts"] >= 1 and client._inflight == 0) and time.time() < deadline:
        time.sleep(0.01)
    stats = client.stats()
    assert stats["sent"] == 0 and stats["failed_attempts"] >= 1
    assert stats["buffered"] == 50 and stats["dropped"] == n + 1 - 50  # the /broken request is recorded too
    # The newest records are the ones kept; the broken mapper cost its request only the user id.
    from telltale_client.core import to_wire

    kept = [to_wire(r) for r in client._buffer]
    assert [r["path"] for r in kept] == [f"/hello/{i}" for i in range(n - 49, n)] + ["/broken"]
    assert kept[-1].get("user_id") is None and kept[-1]["status"] == 200
    assert not client.flush(timeout=1)
    client.shutdown(0.1)
    hung.close()


def test_asgi_lifespan_shutdown_flushes_the_buffer(api, key):
    """With a long interval nothing is sent while serving; stopping uvicorn (lifespan shutdown) sends it."""
    from apianalytics_servers import UvicornServer
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from telltale_client.asgi import Analytics, Config

    async def boom(request):
        raise RuntimeError("the app's own bug")

    async def ok(request):
        return PlainTextResponse("ok")

    config = Config(server_url=api.url, flush_interval=3600)
    app = Starlette(routes=[Route("/ok", ok), Route("/boom", boom)],
                    middleware=[Middleware(Analytics, api_key=key.key, config=config, framework="FastAPI")])
    with UvicornServer(app) as srv:
        assert requests.get(srv.url + "/ok", timeout=5).text == "ok"
        assert requests.get(srv.url + "/boom", timeout=5).status_code == 500
        time.sleep(0.2)
        assert key.data() == []  # still buffered
    rows = key.data()
    assert sorted((r["path"], r["status"]) for r in rows) == [("/boom", 500), ("/ok", 200)]
    assert {r["framework"] for r in rows} == {"FastAPI"}


def hello_server(framework: str, config: Any, api_key: str) -> Any:
    """A hello-world app of ``framework`` with the middleware, served on loopback."""
    from apianalytics_servers import TornadoServer, UvicornServer, WerkzeugServer

    if framework == "Tornado":
        from tornado.web import Application

        from telltale_client.tornado import Analytics

        class Hello(Analytics):
            def __init__(self, app, res):
                super().__init__(app, res, api_key, config)

            def get(self):
                self.write({"message": "Hello World!"})

        return TornadoServer(lambda: Application([(r"/hello", Hello)]))
    if framework == "Starlette":
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        from telltale_client import asgi

        async def hello(request):
            return JSONResponse({"message": "Hello World!"})

        return UvicornServer(Starlette(routes=[Route("/hello", hello)], middleware=[
            Middleware(asgi.Analytics, api_key=api_key, config=config, framework="Starlette")]))
    from flask import Flask, jsonify

    from telltale_client import wsgi

    app = Flask("apianalytics_hello")
    app.add_url_rule("/hello", "hello", lambda: jsonify(message="Hello World!"))
    app.wsgi_app = wsgi.Analytics(app.wsgi_app, api_key, config, framework="Flask")  # type: ignore[method-assign]
    return WerkzeugServer(app)


@pytest.mark.parametrize("framework", ["Tornado", "Starlette", "Flask"])
def test_a_mapper_that_raises_costs_only_its_own_field(api, key, framework):
    """The spec's mapper, request.headers['X-Forwarded-For'], with no proxy in front: the header is
    missing, the mapper raises, and the request is still recorded, with the connection's address."""
    from telltale_client.core import Config

    config = Config(server_url=api.url, flush_interval=0.2)
    config.get_ip_address = lambda request: request.headers["X-Forwarded-For"]
    config.get_user_id = lambda request: request.headers["X-User"]
    with hello_server(framework, config, key.key) as srv:
        sent = requests.get(srv.url + "/hello", headers={"User-Agent": FIREFOX_LINUX}, timeout=10)
        assert sent.status_code == 200 and sent.json() == {"message": "Hello World!"}
        with_header = requests.get(srv.url + "/hello", headers={"X-Forwarded-For": "unknown", "X-User": "ann"},
                                   timeout=10)
        assert with_header.status_code == 200
        from client_delivery import flush_until_sent

        flush_until_sent(2)
    rows = sorted(key.data(), key=lambda r: r["user_id"] or "")
    assert [(r["path"], r["status"], r["framework"]) for r in rows] == [("/hello", 200, framework)] * 2
    # No header: the mapper raised, so the default (the peer's address) and no user id.
    assert (rows[0]["ip_address"], rows[0]["user_id"], rows[0]["browser"]) == ("127.0.0.1", None, "Firefox")
    # X-Forwarded-For: unknown is not an address: the record is kept, without an IP.
    assert (rows[1]["ip_address"], rows[1]["user_id"]) == (None, "ann")


@pytest.mark.parametrize(("level", "stored_ip", "location"), [(1, None, "GB"), (2, None, None)])
def test_privacy_levels_end_to_end(api, key, platform_db, level, stored_ip, location):
    """A real Tornado app at privacy level 1 or 2: what /api/data returns and what the database holds."""
    from telltale_client.core import Config

    config = Config(server_url=api.url, flush_interval=0.2, privacy_level=level)
    config.get_ip_address = lambda request: request.headers.get("X-Forwarded-For")
    with hello_server("Tornado", config, key.key) as srv:
        r = requests.get(srv.url + "/hello", headers={"X-Forwarded-For": GB_IP, "User-Agent": CHROME_WIN}, timeout=10)
        assert r.status_code == 200
        from client_delivery import flush_until_sent

        flush_until_sent(1)
    [row] = key.data()
    assert (row["ip_address"], row["location"], row["browser"], row["path"]) == (stored_ip, location, "Chrome",
                                                                               "/hello")
    stored = platform_db.query("SELECT ip_address, location FROM platform.api_requests"
                               " WHERE api_key_id = CAST(:k AS uuid)", k=key.id)
    assert [(r["ip_address"], (r["location"] or "").strip() or None) for r in stored] == [(stored_ip, location)]
