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

from telltale_client.core import Config, _now_iso, build_record, get_client, safely

__all__ = ["Analytics", "Config"]
FRAMEWORK = "Tornado"


class Analytics(RequestHandler):
    def __init__(self, app: Application, res: Any, api_key: str, config: Config | None = None,
                 **kwargs: Any) -> None:
        self._tt_start = time.perf_counter()
        self._tt_started_at = _now_iso()
        self._tt_api_key = api_key
        self._tt_config = config or Config()
        super().__init__(app, res, **kwargs)

    def on_finish(self) -> None:
        safely(self._tt_record)
        super().on_finish()

    def _tt_record(self) -> None:
        config = self._tt_config
        req = self.request
        record = build_record(
            config, req, method=req.method or "GET", status=self.get_status(),
            response_time_ms=(time.perf_counter() - self._tt_start) * 1000.0,
            started_at=self._tt_started_at,
            path=lambda: req.path,
            hostname=lambda: req.host,
            user_agent=lambda: req.headers.get("User-Agent"),
            ip_address=lambda: req.remote_ip,
        )
        get_client(self._tt_api_key, config, FRAMEWORK).log(record)
