"""Real apps with the api-analytics Python clients (the ``api-analytics`` and ``tornado-analytics``
packages, unchanged), pointed at Telltale through each client's own ``Config.server_url``.

``python python_apps.py FRAMEWORK`` serves, on 127.0.0.1:$PEER_PORT, GET /items (200), POST /items (201),
GET /slow (200 after 150 ms) and the framework's own 404 for anything else, with the middleware logging to
$PEER_SERVER under $PEER_KEY at $PEER_LEVEL. $PEER_MAPPERS (comma-separated) sets the spec's mappers:
``xff`` (the IP from X-Forwarded-For), ``user`` (the user id from X-User-Id), ``ua`` (the user agent read
as request.headers['User-Agent'], as spec 002's example does).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

KEY = os.environ["PEER_KEY"]
PORT = int(os.environ["PEER_PORT"])
MAPPERS = set(filter(None, os.environ.get("PEER_MAPPERS", "").split(",")))


def configure(config):
    config.server_url = os.environ["PEER_SERVER"]
    config.privacy_level = int(os.environ.get("PEER_LEVEL", "0"))
    if "xff" in MAPPERS:
        config.get_ip_address = lambda request: request.headers["X-Forwarded-For"]
    if "user" in MAPPERS:
        config.get_user_id = lambda request: request.headers.get("X-User-Id")
    if "ua" in MAPPERS:
        config.get_user_agent = lambda request: request.headers["User-Agent"]
    return config


def fastapi() -> None:
    import uvicorn
    from api_analytics.fastapi import Analytics, Config
    from fastapi import FastAPI

    app = FastAPI()
    app.add_middleware(Analytics, api_key=KEY, config=configure(Config()))

    @app.get("/items")
    async def items():
        return {"items": []}

    @app.post("/items", status_code=201)
    async def create():
        return {"created": True}

    @app.get("/slow")
    async def slow():
        await asyncio.sleep(0.15)
        return {"slow": True}

    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")


def flask() -> None:
    from api_analytics.flask import Config, add_middleware
    from flask import Flask
    from werkzeug.serving import run_simple

    app = Flask("peer")
    add_middleware(app, KEY, configure(Config()))

    @app.get("/items")
    def items():
        return {"items": []}

    @app.post("/items")
    def create():
        return {"created": True}, 201

    @app.get("/slow")
    def slow():
        time.sleep(0.15)
        return {"slow": True}

    run_simple("127.0.0.1", PORT, app, threaded=True)


def django() -> None:
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from api_analytics.django import Config
    from django.conf import settings

    settings.configure(
        DEBUG=False, SECRET_KEY="peer-test", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__,
        MIDDLEWARE=["api_analytics.django.Analytics"],
        ANALYTICS_API_KEY=KEY, ANALYTICS_CONFIG=configure(Config()),
    )
    import django as dj
    from django.core.wsgi import get_wsgi_application
    from django.http import JsonResponse
    from django.urls import path

    dj.setup()

    def items(request):
        if request.method == "POST":
            return JsonResponse({"created": True}, status=201)
        return JsonResponse({"items": []})

    def slow(request):
        time.sleep(0.15)
        return JsonResponse({"slow": True})

    globals()["urlpatterns"] = [path("items", items), path("slow", slow)]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    make_server("127.0.0.1", PORT, get_wsgi_application(), handler_class=Quiet).serve_forever()


def tornado() -> None:
    """The spec's own example: handlers inherit from Analytics. Runs with either package (api-analytics'
    api_analytics.tornado, or tornado-analytics' when its folder is first on PYTHONPATH)."""
    from api_analytics.tornado import Analytics, Config
    from tornado.web import Application

    config = configure(Config())

    class Items(Analytics):
        def __init__(self, app, res):
            super().__init__(app, res, KEY, config)

        def get(self):
            self.write({"items": []})

        def post(self):
            self.set_status(201)
            self.write({"created": True})

    class Slow(Analytics):
        def __init__(self, app, res):
            super().__init__(app, res, KEY, config)

        async def get(self):
            await asyncio.sleep(0.15)
            self.write({"slow": True})

    class Missing(Analytics):
        def __init__(self, app, res):
            super().__init__(app, res, KEY, config)

        def get(self):
            self.set_status(404)
            self.write({"missing": True})

    async def main() -> None:
        Application([(r"/items", Items), (r"/slow", Slow), (r"/.*", Missing)]).listen(PORT, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    {"fastapi": fastapi, "flask": flask, "django": django, "tornado": tornado}[sys.argv[1]]()
