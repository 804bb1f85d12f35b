"""ASGI middleware (FastAPI, Starlette, any ASGI app)::

    app.add_middleware(Analytics, api_key="<API-KEY>")            # FastAPI / Starlette
    app = Analytics(app, "<API-KEY>", config)                       # any ASGI app

Mappers receive a :class:`telltale_client.core.RequestView` (``.headers`` case-insensitive, ``.client_ip``,
``.path``, ``.method``, ``.host``, ``.raw`` = the ASGI scope). The buffer is flushed on lifespan shutdown.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from telltale_client.core import Config, Headers, RequestView, get_client, record_from, safely

__all__ = ["Analytics", "Config"]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Analytics:
    def __init__(self, app: Callable[..., Awaitable[None]], api_key: str, config: Config | None = None,
                 framework: str = "ASGI") -> None:
        self.app = app
        self.api_key = api_key
        self.config = config or Config()
        self.framework = framework

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        started_at = time.time()
        status = [500]  # what a client sees if the app dies before starting a response

        async def send_wrapper(message: Message) -> None:
            if message.get("type") == "http.response.start":
                status[0] = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            safely(self._record, scope, status[0], (time.perf_counter() - start) * 1000.0, started_at)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                client = get_client(self.api_key, self.config, self.framework)
                loop = asyncio.get_running_loop()
                # flush() waits on a thread; run it off the event loop. Shutdown goes on regardless.
                await loop.run_in_executor(None, safely, client.flush, self.config.shutdown_timeout)
            return message

        return wrapped

    def _record(self, scope: Scope, status: int, elapsed_ms: float, started_at: float) -> None:
        view = _view(scope)
        record = record_from(
            self.config, view, started=started_at, method=view.method, status=status, elapsed_ms=elapsed_ms,
            path=view.path, hostname=view.host, user_agent=view.headers.get("user-agent"), ip_of=_client_ip,
        )
        get_client(self.api_key, self.config, self.framework).log(record)


def _view(scope: Scope) -> RequestView:
    headers = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers") or ())
    client = scope.get("client")
    host = headers.get("host")
    if host is None and scope.get("server"):
        h, p = scope["server"]
        host = f"{h}:{p}" if p else str(h)
    return RequestView(method=str(scope.get("method", "GET")), path=str(scope.get("path") or "/"),
                       headers=headers, client_ip=client[0] if client else None, host=host, raw=scope)


def _client_ip(view: RequestView) -> str | None:
    return view.client_ip
