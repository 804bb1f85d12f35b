"""One uptime check: an HTTP request with hard timeouts that only goes where it is allowed to.

Every hop's host is resolved once and the connection is pinned to an address that passed the check, so
DNS cannot swap in a private address between the check and the connect. Redirects are followed by hand
(at most a few hops) and a redirect into a private, loopback, link-local or otherwise non-global range is
never followed, whatever the monitor's own URL was allowed to be.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from telltale.netguard import Blocked, resolve, split_url

USER_AGENT = "telltale-uptime/1.0"
MAX_REDIRECTS = 3
MAX_BODY = 64 * 1024


@dataclass
class CheckResult:
    status: int | None
    response_time: int | None
    up: bool
    error: str | None = None


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, ip: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, ip: str, host: str, port: int, timeout: float) -> None:
        self._ctx = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._ctx)
        self._ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self.host)


def check(url: str, method: str = "GET", expected_status: int = 200, *, timeout: float = 10.0,
          allow_private: bool = False) -> CheckResult:
    started = time.perf_counter()
    deadline = started + timeout
    status: int | None = None
    for hop in range(MAX_REDIRECTS + 1):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return CheckResult(status, None, False, f"timed out after {timeout:g}s")
        try:
            scheme, host, port = split_url(url)
            # The registered URL may be private only where the deployment allows it; redirects never.
            ip = resolve(host, port, allow_private=allow_private and hop == 0)
        except (ValueError, Blocked) as exc:
            reason = str(exc) if hop == 0 else f"redirect to {url} not followed: {exc}"
            return CheckResult(status, _ms(started), False, reason)
        cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        conn = cls(ip, host, port, remaining)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
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
