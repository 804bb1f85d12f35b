"""The API analytics dashboard (spec 002): one HTML page and its bundled assets, public.

The page holds no data: it asks for an API key and reads ``/api/stats`` and ``/api/uptime`` with it.
The charting library is bundled into ``static/dashboard.js`` at build time (``make dashboard``), so
nothing is fetched from a CDN at run time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from telltale.platform.errors import NotFound
from telltale.web.http import make_resolver

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".map": "application/json"}
# The page may only talk to its own origin and run its own bundle.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")

router = APIGatewayHttpRouter()


def _file(name: str) -> Response:
    path = (STATIC / name).resolve()
    if path.parent != STATIC or path.suffix not in TYPES or not path.is_file():
        raise NotFound(f"no dashboard asset '{name}'")
    cache = "no-cache" if path.suffix == ".html" else "public, max-age=300"
    return Response(status_code=200, content_type=TYPES[path.suffix], body=path.read_text(),
                    headers={"Cache-Control": cache, "Content-Security-Policy": CSP,
                             "X-Content-Type-Options": "nosniff"},
                    compress=True)


@router.get("/dashboard", summary="The API analytics dashboard", tags=["API analytics"], include_in_schema=False)
def page():
    return _file("index.html")


@router.get("/dashboard/<asset>", summary="Dashboard assets", tags=["API analytics"], include_in_schema=False)
def asset(asset: str):
    return _file(asset)


app = make_resolver()
app.include_router(router)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
