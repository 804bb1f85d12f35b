"""telltale-client: request-logging middleware for Telltale API analytics.

``telltale_client.tornado.Analytics`` (a RequestHandler to inherit), ``telltale_client.asgi.Analytics``
(FastAPI, Starlette) and ``telltale_client.wsgi.Analytics`` (Flask, Django) share :class:`Config` and
the background sender in :mod:`telltale_client.core`.
"""

from telltale_client.core import Config, RequestView, flush_all, get_client

__all__ = ["Config", "RequestView", "flush_all", "get_client"]
__version__ = "0.1.0"
