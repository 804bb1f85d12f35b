"""The local gateway answers malformed requests as API Gateway does: in JSON, at once, and without losing
the thread that served them. Spoken over raw sockets, since an HTTP client will not send most of these."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e


def _exchange(stack: Any, raw: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` on a new connection; (status, headers, body) of the one reply. A hang fails the test."""
    url = urlsplit(stack.url)
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{head}\r\n".encode() + body


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "12, 12", ""])
def test_a_content_length_that_is_no_length_is_a_json_400(local_stack: Any, api: Any, length: str) -> None:
    raw = _request("POST", "/spaces", {**api.headers(), "Content-Type": "application/json",
                                       "Content-Length": length}, b'{"slug": "x"}')
    status, headers, body = _exchange(local_stack, raw)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "Bad Request"}


def test_a_body_shorter_than_its_length_is_a_400_not_a_hung_thread(local_stack: Any, api: Any) -> None:
    url = urlsplit(local_stack.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(_request("POST", "/spaces", {**api.headers(), "Content-Type": "application/json",
                                                  "Content-Length": "100"}, b'{"slug"'))
        sock.shutdown(socket.SHUT_WR)  # the client stops sending: the gateway must not wait for the rest
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400"), reply
    # And the gateway still serves.
    assert api.get("/api/me").status_code == 200


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "BREW"])
def test_an_unknown_method_is_api_gateways_json_404(local_stack: Any, api: Any, method: str) -> None:
    status, headers, body = _exchange(local_stack, _request(method, "/api/me", api.headers()))
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "Not Found"}


def test_a_malformed_request_line_is_answered_in_json(local_stack: Any) -> None:
    status, headers, body = _exchange(local_stack, b"GET\r\n\r\n")
    assert headers["content-type"] == "application/json"
    assert status == 400
    assert json.loads(body) == {"message": "Bad Request"}


@pytest.mark.parametrize("path", ["/spaces", "/api/apps/shop/secrets/", "/api/analytics/query"])
def test_a_body_that_is_not_utf8_reaches_the_handler_and_is_a_400(local_stack: Any, api: Any, path: str) -> None:
    body = b'{"name": "caf\xe9"}'  # Latin-1, not UTF-8
    raw = _request("POST", path, {**api.headers(), "Content-Type": "application/json",
                                  "Content-Length": str(len(body))}, body)
    status, headers, reply = _exchange(local_stack, raw)
    assert status == 400, reply
    assert headers["content-type"] == "application/json"
    answer = json.loads(reply)
    assert answer["code"] == "ValidationError"
    assert "not UTF-8" in answer["message"]


def test_a_chunked_body_is_read_whole(local_stack: Any, api: Any) -> None:
    import uuid

    slug = f"s-{uuid.uuid4().hex[:10]}"
    payload = json.dumps({"slug": slug, "name": "chunked"}).encode()
    chunked = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (payload[:7], payload[7:]))
    raw = _request("POST", "/spaces", {**api.headers(), "Content-Type": "application/json",
                                       "Transfer-Encoding": "chunked"}, chunked + b"0\r\n\r\n")
    status, _, reply = _exchange(local_stack, raw)
    assert status == 201, reply
    assert json.loads(reply)["slug"] == slug


def test_a_body_over_the_limit_is_a_413_before_it_is_read(local_stack: Any, api: Any) -> None:
    raw = _request("POST", "/spaces", {**api.headers(), "Content-Type": "application/json",
                                       "Content-Length": str(10 * 1024 * 1024 + 1)})
    status, _, body = _exchange(local_stack, raw)
    assert status == 413
    assert json.loads(body) == {"message": "Request Entity Too Large"}
