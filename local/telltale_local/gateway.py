"""The local API gateway: the template's HTTP API on 127.0.0.1, with the deployed authorizer's rules.

For each request it finds the route in ``template.yaml``, checks the bearer token as the JWT authorizer
would (401 with API Gateway's own body when it fails), builds the payload 2.0 event and invokes the
function's real handler in-process.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from telltale_local import runtime, tokens
from telltale_local.template import Route, Template

log = logging.getLogger("telltale_local.gateway")
MAX_BODY = 10 * 1024 * 1024  # API Gateway HTTP API's payload limit


class Gateway:
    def __init__(self, template: Template, rt: runtime.Runtime, public_key: bytes, *,
                 issuer: str = tokens.LOCAL_ISSUER, audience: str = tokens.LOCAL_AUDIENCE) -> None:
        self.template = template
        self.runtime = rt
        self.public_key = public_key
        self.issuer = issuer
        self.audience = audience
        self.routes = template.routes

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        """(route, path parameters); no route when neither path nor method matches one."""
        for route in self.routes:
            m = route.pattern.match(path)
            if m and route.method in (method, "ANY"):
                return route, m.groupdict()
        return None, {}

    def authorize(self, headers: dict[str, str]) -> dict[str, str]:
        """The token's claims as API Gateway's JWT authorizer passes them; TokenRejected saying why not."""
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "").strip()
        # As API Gateway's JWT authorizer: the identity source holds the token, with or without "Bearer ".
        scheme, _, rest = value.partition(" ")
        token = rest if scheme.lower() == "bearer" else value
        if not token.strip():
            raise tokens.TokenRejected("no token: send Authorization: Bearer <JWT>")
        if " " in token.strip():
            raise tokens.TokenRejected("the Authorization header must be Bearer <JWT>")
        claims = tokens.verify(self.public_key, token.strip(), issuer=self.issuer, audience=self.audience)
        return tokens.as_authorizer_claims(claims)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes,
               source_ip: str = "127.0.0.1") -> tuple[int, dict[str, str], list[str], bytes]:
        path, _, query = raw_path.partition("?")
        route, params = self.match(method, path)
        if route is None:  # API Gateway answers 404 whether the path or only the method is unknown
            return 404, {"content-type": "application/json"}, [], b'{"message":"Not Found"}'
        claims = None
        if not route.public:
            try:
                claims = self.authorize(headers)
            except tokens.TokenRejected as exc:
                # API Gateway's authorizer says why in WWW-Authenticate (its body is only "Unauthorized");
                # here the body says it too.
                reason = str(exc)
                challenge = f'Bearer error="invalid_token", error_description="{reason}"'
                return 401, {"content-type": "application/json", "www-authenticate": challenge}, [], \
                    json.dumps({"message": f"Unauthorized: {reason}"}).encode()
        event = runtime.http_event(route, method, path, query, headers, body, params, claims, source_ip)
        fn = self.template.functions[route.function]
        try:
            result = self.runtime.invoke(fn, event)
        except Exception:  # noqa: BLE001 - a crashing handler is a 500, as in Lambda
            traceback.print_exc(file=sys.stderr)
            return 500, {"content-type": "application/json"}, [], b'{"message":"Internal Server Error"}'
        return runtime.http_response(result)


class _BadRequest(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status, self.body = status, body


class _Handler(BaseHTTPRequestHandler):
    server_version = "telltale-local"
    protocol_version = "HTTP/1.1"
    gateway: Gateway

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and delayed ACKs
        # delay every keep-alive request (benchmarks/README.md, "Figures the code relies on").
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.info("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _BadRequest as exc:
            # API Gateway refuses a request it cannot frame before any function sees it, in its own JSON;
            # the connection cannot be trusted to be at a request boundary any more, so it is closed.
            self._reply(exc.status, {"content-type": "application/json"}, [], exc.body)
            self.close_connection = True
            return
        headers = dict(self.headers.items())
        status, out_headers, cookies, payload = self.gateway.handle(self.command, self.path, headers, body,
                                                                     self.client_address[0])
        self._reply(status, out_headers, cookies, payload)

    def _read_body(self) -> bytes:
        """The request body, framed by Content-Length or chunked transfer coding, at most MAX_BODY bytes."""
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("content-length")
        raw = "0" if raw is None else raw.strip()
        if not (raw.isascii() and raw.isdigit()):  # "abc", "-1", "1e3", "1, 2": no length API Gateway would accept
            raise _BadRequest(400, b'{"message":"Bad Request"}')
        length = int(raw)
        if length > MAX_BODY:
            raise _BadRequest(413, b'{"message":"Request Entity Too Large"}')
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise _BadRequest(400, b'{"message":"Bad Request"}')
        return body

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                n = int(line, 16)
            except ValueError:
                raise _BadRequest(400, b'{"message":"Bad Request"}') from None
            if n < 0:
                raise _BadRequest(400, b'{"message":"Bad Request"}')
            if n == 0:
                while self.rfile.readline(1024).strip():  # trailer fields, up to the blank line
                    pass
                return b"".join(parts)
            size += n
            if size > MAX_BODY:
                raise _BadRequest(413, b'{"message":"Request Entity Too Large"}')
            chunk = self.rfile.read(n)
            if len(chunk) < n or self.rfile.readline(1024).strip():
                raise _BadRequest(400, b'{"message":"Bad Request"}')
            parts.append(chunk)

    def __getattr__(self, name: str) -> Any:
        # Any method at all reaches the gateway, which answers as API Gateway does (a JSON 404 for a method
        # no route has), instead of http.server's HTML 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line or header block) in API Gateway's JSON."""
        self.close_connection = True
        # A request line too broken to name a version reads as HTTP/0.9, to which http.server would answer
        # with a bare body: answer with a status line and headers all the same.
        self.request_version = self.protocol_version
        text = {400: "Bad Request", 414: "Request-URI Too Long", 431: "Request Header Fields Too Large"}
        body = json.dumps({"message": text.get(code, "Bad Request")}).encode()
        try:
            self.send_response(code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:  # the client has gone; nothing left to tell it
            pass

    def _reply(self, status: int, headers: dict[str, str], cookies: list[str], payload: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(k, v)
        for c in cookies:
            self.send_header("set-cookie", c)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)



def serve(gateway: Gateway, host: str = "127.0.0.1", port: int = 3000) -> ThreadingHTTPServer:
    handler = type("GatewayHandler", (_Handler,), {"gateway": gateway})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
