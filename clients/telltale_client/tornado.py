"""Tornado: inherit from :class:`Analytics` instead of ``RequestHandler``, as in the spec::

    class MainHandler(Analytics):
        def __init__(self, app, res):
            super().__init__(app, res, "<API-KEY>")

A handler that overrides ``on_finish`` must call ``super().on_finish()``.
"""

from __future__ import annotations

import time
from typing import Any

from tornado.web import Application, RequestHandler

from telltale_client.core import Config, get_client, record_from, safely

__all__ = ["Analytics", "Config"]
FRAMEWORK = "Tornado"


class Analytics(RequestHandler):
    def __init__(self, app: Application, res: Any, api_key: str, config: Config | None = None,
                 **kwargs: Any) -> None:
        self._tt_start = time.perf_counter()
        self._tt_started_at = time.time()
        self._tt_api_key = api_key
        self._tt_config = config or Config()
        super().__init__(app, res, **kwargs)

    def on_finish(self) -> None:
        safely(self._tt_record)
        super().on_finish()

    def _tt_record(self) -> None:
        config = self._tt_config
        req = self.request
        record = record_from(
            config, req, started=self._tt_started_at, method=req.method or "GET", status=self.get_status(),
            elapsed_ms=(time.perf_counter() - self._tt_start) * 1000.0, path=req.path, hostname=req.host,
            user_agent=req.headers.get("User-Agent"), ip_of=_remote_ip,
        )
        get_client(self._tt_api_key, config, FRAMEWORK).log(record)


def _remote_ip(request: Any) -> Any:
    return request.remote_ip
