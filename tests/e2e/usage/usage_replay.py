"""A threaded HTTP server on loopback that replays a tool's documented responses.

Tests register handlers per (method, path); a handler gets the request and returns (status, body[, headers]).
The server records every request, so tests can assert on auth headers, pagination and retries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]


Handler = Callable[[Request], tuple]


@dataclass
class ReplayServer:
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def start(self) -> ReplayServer:
        replay = self

        class _H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, parts.path, parse_qs(parts.query),
                              {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length),
                              time.monotonic())
                replay.requests.append(req)
                handler = replay.routes.get((self.command, parts.path))
                if handler is None:
                    result: tuple = (404, {"message": f"no replay for {self.command} {parts.path}"})
                else:
                    result = handler(req)
                status, body = result[0], result[1]
                headers = result[2] if len(result) > 2 else {}
                if isinstance(body, bytes | str):
                    data = body.encode() if isinstance(body, str) else body
                    ctype = headers.pop("Content-Type", "text/plain")
                else:
                    data = json.dumps(body).encode()
                    ctype = "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def route(self, method: str, path: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.routes[(method, path)] = fn
            return fn
        return deco

    def hits(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]


class Once:
    """Answers ``status`` the first time a key is seen (a 429 or an expired session), then passes through."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def first(self, key: str) -> bool:
        with self.lock:
            if key in self.seen:
                return False
            self.seen.add(key)
            return True


class Tokens:
    """Issues tokens and expires the first one after ``expire_after`` authorized calls (re-login test)."""

    def __init__(self, expire_after: int = 3) -> None:
        self.n = 0
        self.issued: list[str] = []
        self.used = 0
        self.expire_after = expire_after
        self.lock = threading.Lock()

    def issue(self) -> str:
        with self.lock:
            self.n += 1
            token = f"tok-{self.n}"
            self.issued.append(token)
            return token

    def valid(self, token: str | None) -> bool:
        with self.lock:
            if not token or token not in self.issued:
                return False
            if token == self.issued[0] and len(self.issued) == 1:
                self.used += 1
                if self.used > self.expire_after:
                    return False  # the first session expired mid-scrape
            return True
