"""WSGI middleware (Flask, Django, any WSGI app)::

    app.wsgi_app = Analytics(app.wsgi_app, "<API-KEY>")            # Flask
    application = Analytics(get_wsgi_application(), "<API-KEY>")    # Django (wsgi.py)

Mappers receive a :class:`telltale_client.core.RequestView` (``.headers`` case-insensitive, ``.client_ip``,
``.path``, ``.method``, ``.host``, ``.raw`` = the WSGI environ). The response time runs until the
response body has been sent (the server closes the iterable).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from telltale_client.core import Config, Headers, RequestView, get_client, record_from, safely

__all__ = ["Analytics", "Config"]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class Analytics:
    def __init__(self, app: WSGIApp, api_key: str, config: Config | None = None,
                 framework: str = "WSGI") -> None:
        self.app = app
        self.api_key = api_key
        self.config = config or Config()
        self.framework = framework

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start = time.perf_counter()
        started_at = time.time()
        status = [500]

        def wrapped_start_response(status_line: str, headers: list[Any], exc_info: Any = None) -> Any:
            with contextlib.suppress(ValueError):
                status[0] = int(str(status_line)[:3])
            if exc_info is not None:
                return start_response(status_line, headers, exc_info)
            return start_response(status_line, headers)

        def done() -> None:
            safely(self._record, environ, status[0], (time.perf_counter() - start) * 1000.0, started_at)

        try:
            result = self.app(environ, wrapped_start_response)
        except BaseException:
            done()
            raise
        return _ClosingIterable(result, done)

    def _record(self, environ: dict[str, Any], status: int, elapsed_ms: float, started_at: float) -> None:
        view = _view(environ)
        record = record_from(
            self.config, view, started=started_at, method=view.method, status=status, elapsed_ms=elapsed_ms,
            path=view.path, hostname=view.host, user_agent=environ.get("HTTP_USER_AGENT"), ip_of=_client_ip,
        )
        get_client(self.api_key, self.config, self.framework).log(record)


class _ClosingIterable:
    """Passes the body through and records the request when the server closes it (PEP 3333)."""

    def __init__(self, inner: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._inner = inner
        self._on_close = on_close
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._inner)

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            if not self._closed:
                self._closed = True
                self._on_close()


def _view(environ: dict[str, Any]) -> RequestView:
    headers = Headers((k[5:].replace("_", "-"), str(v)) for k, v in environ.items() if k.startswith("HTTP_"))
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    host = headers.get("host")
    if not host:
        host = str(environ.get("SERVER_NAME", ""))
        port = str(environ.get("SERVER_PORT", ""))
        if port and port not in ("80", "443"):
            host = f"{host}:{port}"
    path = (environ.get("SCRIPT_NAME") or "") + (environ.get("PATH_INFO") or "/")
    return RequestView(method=str(environ.get("REQUEST_METHOD", "GET")), path=path or "/", headers=headers,
                       client_ip=environ.get("REMOTE_ADDR"), host=host or None, raw=environ)


def _client_ip(view: RequestView) -> str | None:
    return view.client_ip
