"""Telltale's own middleware (clients/telltale_client) in a real FastAPI, Flask and Django app each, with
every one of the spec's Config options (privacy_level, get_path, get_ip_address, get_hostname,
get_user_agent, get_user_id), at every privacy level, read back through /api/data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("isolated_clients")]

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/120.0.0.0 Safari/537.36")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
GB_IP, US_IP = "81.2.69.142", "8.8.8.8"

# (method, path, X-Forwarded-For, X-Client-Agent, X-User, status)
TRAFFIC = [("GET", "/api/items", GB_IP, CHROME_WIN, "alice", 200),
           ("POST", "/api/items", US_IP, FIREFOX_LINUX, "bob", 201),
           ("GET", "/api/nowhere", GB_IP, FIREFOX_LINUX, None, 404)]


def configure(config: Any, level: int, ip_calls: list[Any]) -> Any:
    """Every Config option of spec 002, each mapper doing something a default would not."""
    config.privacy_level = level

    def ip(request: Any) -> str:
        ip_calls.append(request)
        return request.headers["X-Forwarded-For"]

    config.get_ip_address = ip
    config.get_user_id = lambda request: request.headers.get("X-User")
    # A proxy that moves the real user agent (the request's own is the test client's)
    config.get_user_agent = lambda request: request.headers.get("X-Client-Agent")
    config.get_path = lambda request: request.path.removeprefix("/api")
    config.get_hostname = lambda request: "public.example.com"
    config.flush_interval = 0.2
    return config


def drive(url: str) -> None:
    s = requests.Session()
    for method, path, ip, ua, user, status in TRAFFIC:
        headers = {"X-Forwarded-For": ip, "X-Client-Agent": ua, "User-Agent": "python-requests"}
        if user:
            headers["X-User"] = user
        r = s.request(method, url + path, headers=headers, timeout=10)
        assert r.status_code == status, (method, path, r.status_code, r.text[:200])
    from client_delivery import flush_until_sent

    flush_until_sent(len(TRAFFIC))


def check(key: Any, framework: str, level: int, ip_calls: list[Any]) -> None:
    rows = sorted(key.data(), key=lambda r: (r["path"], r["method"]))
    browsers = {CHROME_WIN: ("Chrome", "Windows"), FIREFOX_LINUX: ("Firefox", "Linux")}
    expected = sorted(({
        "hostname": "public.example.com", "ip_address": ip if level == 0 else None,
        "path": path.removeprefix("/api"), "method": method, "status": status,
        "browser": browsers[ua][0], "os": browsers[ua][1],
        "location": {GB_IP: "GB", US_IP: "US"}[ip] if level < 2 else None,
        "user_id": user, "framework": framework,
    } for method, path, ip, ua, user, status in TRAFFIC), key=lambda r: (r["path"], r["method"]))
    assert [{k: v for k, v in r.items() if k not in ("created_at", "response_time")} for r in rows] == expected
    assert all(isinstance(r["response_time"], int) and r["response_time"] >= 0 for r in rows)
    # Level 2: the IP is never read, so the mapper is not even called.
    assert (len(ip_calls) == 0) == (level == 2)


LEVELS = pytest.mark.parametrize("level", [0, 1, 2])


@LEVELS
def test_fastapi_app(api, key, level):
    from apianalytics_servers import UvicornServer
    from fastapi import FastAPI

    from telltale_client.asgi import Analytics, Config

    ip_calls: list[Any] = []
    app = FastAPI()
    app.add_middleware(Analytics, api_key=key.key, config=configure(Config(server_url=api.url), level, ip_calls),
                       framework="FastAPI")

    @app.get("/api/items")
    async def items() -> dict[str, Any]:
        return {"items": []}

    @app.post("/api/items", status_code=201)
    async def create() -> dict[str, Any]:
        return {"created": True}

    with UvicornServer(app) as srv:
        drive(srv.url)
    check(key, "FastAPI", level, ip_calls)


@LEVELS
def test_flask_app(api, key, level):
    from apianalytics_servers import WerkzeugServer
    from flask import Flask

    from telltale_client.wsgi import Analytics, Config

    ip_calls: list[Any] = []
    app = Flask("own_client_test")

    @app.get("/api/items")
    def items() -> Any:
        return {"items": []}

    @app.post("/api/items")
    def create() -> Any:
        return {"created": True}, 201

    app.wsgi_app = Analytics(app.wsgi_app, key.key,  # type: ignore[method-assign]
                             configure(Config(server_url=api.url), level, ip_calls), framework="Flask")
    with WerkzeugServer(app) as srv:
        drive(srv.url)
    check(key, "Flask", level, ip_calls)


urlpatterns: list[Any] = []


def _django_app() -> Callable[..., Any]:
    """A Django project in this process: settings, one view, and its WSGI application."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(DEBUG=False, SECRET_KEY="telltale-test", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
                           MIDDLEWARE=[], USE_TZ=True)
        import django

        django.setup()
    from django.core.wsgi import get_wsgi_application
    from django.http import JsonResponse
    from django.urls import path

    def items(request: Any) -> Any:
        if request.method == "POST":
            return JsonResponse({"created": True}, status=201)
        return JsonResponse({"items": []})

    urlpatterns[:] = [path("api/items", items)]
    return get_wsgi_application()


@LEVELS
def test_django_app(api, key, level):
    from apianalytics_servers import WerkzeugServer

    from telltale_client.wsgi import Analytics, Config

    ip_calls: list[Any] = []
    # Django's wsgi.py: application = Analytics(get_wsgi_application(), "<API-KEY>", config, framework="Django")
    application = Analytics(_django_app(), key.key, configure(Config(server_url=api.url), level, ip_calls),
                            framework="Django")
    with WerkzeugServer(application) as srv:
        drive(srv.url)
    check(key, "Django", level, ip_calls)
