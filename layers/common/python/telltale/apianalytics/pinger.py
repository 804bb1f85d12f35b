"""One uptime check: an HTTP request with hard timeouts that only goes where it is allowed to.

Every hop's host is resolved once and the connection is pinned to an address that passed the check, so
DNS cannot swap in a private address between the check and the connect. Redirects are followed by hand
(at most a few hops) and a redirect into a private, loopback, link-local or otherwise non-global range is
never followed, whatever the monitor's own URL was allowed to be (telltale.platform.netguard, without its
allow-list).

``timeout`` is a wall-clock deadline for the whole check (every hop, connect, send and each read), not a
per-socket-operation timeout: a server that drips one header line just inside a socket timeout would
otherwise hold a check, and with it the scheduled run, for as long as it likes.
"""

from __future__ import annotations

import functools
import http.client
import io
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from telltale.platform.netguard import Blocked, outbound_address, split_url

USER_AGENT = "telltale-uptime/1.0"
MAX_REDIRECTS = 3
MAX_BODY = 64 * 1024


@dataclass
class CheckResult:
    status: int | None
    response_time: int | None
    up: bool
    error: str | None = None


def _remaining(deadline: float) -> float:
    left = deadline - time.perf_counter()
    if left <= 0:
        raise TimeoutError("deadline reached")
    return left


class _DeadlineReader(io.RawIOBase):
    """The response's byte source: before every read the socket's timeout shrinks to what is left of the
    check's deadline, so the sum of all reads cannot exceed it."""

    def __init__(self, raw: io.RawIOBase, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        # ``raw`` is http.client's own socket file: kept open, it keeps the socket open after the
        # connection object lets go of it (as it does once a "Connection: close" response has begun).
        self._raw, self._sock, self._deadline = raw, sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int | None:  # type: ignore[override]
        self._sock.settimeout(_remaining(self._deadline))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: object, deadline: float, **kwargs: object) -> None:
        super().__init__(sock, *args, **kwargs)  # type: ignore[arg-type]
        self.fp = io.BufferedReader(_DeadlineReader(self.fp.detach(), sock, deadline))  # type: ignore[arg-type]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, ip: str, host: str, port: int, deadline: float) -> None:
        super().__init__(host, port, timeout=max(0.001, deadline - time.perf_counter()))
        self._ip, self._deadline = ip, deadline
        self.response_class = functools.partial(_DeadlineResponse, deadline=deadline)  # type: ignore[assignment]

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self._ip, self.port), _remaining(self._deadline))
        sock.settimeout(_remaining(self._deadline))  # sending the request, and the TLS handshake
        return sock

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedHTTPS(_PinnedHTTP):
    default_port = http.client.HTTPS_PORT

    def __init__(self, ip: str, host: str, port: int, deadline: float) -> None:
        super().__init__(ip, host, port, deadline)
        self._ctx = ssl.create_default_context()

    def connect(self) -> None:
        self.sock = self._ctx.wrap_socket(self._open(), server_hostname=self.host)


def check(url: str, method: str = "GET", expected_status: int = 200, *, timeout: float = 10.0) -> CheckResult:
    started = time.perf_counter()
    deadline = started + timeout
    status: int | None = None
    for hop in range(MAX_REDIRECTS + 1):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return CheckResult(status, None, False, f"timed out after {timeout:g}s")
        try:
            scheme, host, port = split_url(url)
            # The registered URL may be private only where TELLTALE_ALLOWED_NETWORKS allows it; redirects
            # never. The lookup counts against the check's deadline too: the monitored name's owner runs its DNS.
            ip = outbound_address(host, port, use_allow_list=hop == 0, timeout=remaining)
        except (ValueError, Blocked) as exc:
            reason = str(exc) if hop == 0 else f"redirect to {url} not followed: {exc}"
            return CheckResult(status, _ms(started), False, reason)
        cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = cls(ip, host, port, deadline)
        try:
            conn.request(method if hop == 0 else ("GET" if method != "HEAD" else "HEAD"), target,
                         headers={"User-Agent": USER_AGENT, "Accept": "*/*", "Connection": "close"})
            resp = conn.getresponse()
            resp.read(MAX_BODY)
            status = resp.status
            location = resp.getheader("Location")
        except TimeoutError:
            return CheckResult(status, None, False, f"timed out after {timeout:g}s")
        except (OSError, http.client.HTTPException) as exc:
            return CheckResult(status, _ms(started), False, f"request failed: {type(exc).__name__}: {exc}")
        finally:
            conn.close()
        if status == expected_status or status not in (301, 302, 303, 307, 308) or not location:
            return CheckResult(status, _ms(started), status == expected_status,
                               None if status == expected_status else f"expected {expected_status}, got {status}")
        url = urljoin(url, location)
    return CheckResult(status, _ms(started), False, f"more than {MAX_REDIRECTS} redirects")


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
