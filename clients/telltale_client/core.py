"""The framework-neutral part of the middleware: configuration, the record, and the background sender.

Design rules, because this code runs inside someone else's application:
- the request path only builds a small dict and appends it to a bounded buffer (no I/O, no blocking);
- a background thread sends batches on an interval or when a batch is full, retries with exponential
  backoff while the server is unreachable, and when the buffer is full drops the *oldest* records and
  counts them;
- it flushes what it holds when the process exits;
- any exception of its own is logged (rate-limited) and swallowed, never raised into the request.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger("telltale_client")

INGEST_PATH = "/api/requests"
DEFAULT_URL = "http://127.0.0.1:3000"
Mapper = Callable[[Any], Any]


def _default_server_url() -> str:
    return os.environ.get("TELLTALE_URL") or DEFAULT_URL


@dataclass
class Config:
    """Middleware settings. Assign attributes after construction, as in the spec::

        config = Config()
        config.privacy_level = 2
        config.get_user_id = lambda request: request.headers["X-AUTH-TOKEN"]

    Privacy levels: 0 sends the client IP (stored, and used for the country); 1 sends it so the server
    can infer the country, then the server discards it; 2 never reads the IP at all.
    Mappers take the framework's request object (Tornado ``HTTPServerRequest``; for ASGI and WSGI a
    small :class:`RequestView`) and return the value, overriding the default extraction.
    """

    privacy_level: int = 0
    server_url: str = field(default_factory=_default_server_url)
    get_path: Mapper | None = None
    get_ip_address: Mapper | None = None
    get_user_agent: Mapper | None = None
    get_user_id: Mapper | None = None
    get_hostname: Mapper | None = None
    # Batching: send when batch_size records wait, or every flush_interval seconds.
    batch_size: int = 1000
    flush_interval: float = 5.0
    # At most this many records are held while the server is unreachable; beyond it the oldest go.
    max_buffer: int = 20_000
    timeout: float = 5.0
    max_backoff: float = 60.0
    # How long process exit may wait for the last batch.
    shutdown_timeout: float = 3.0


@dataclass
class RequestView:
    """What ASGI and WSGI mappers receive: the request's parts, framework-neutral."""

    method: str
    path: str
    headers: dict[str, str]
    client_ip: str | None
    host: str | None
    raw: Any = None  # the ASGI scope or WSGI environ

    @property
    def remote_addr(self) -> str | None:
        return self.client_ip


class _RateLimitedLog:
    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._last: dict[str, float] = {}

    def warning(self, kind: str, msg: str, *args: Any, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -1e9) >= self.every:
            self._last[kind] = now
            logger.warning(msg, *args, exc_info=exc_info)


_log = _RateLimitedLog()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _call(mapper: Mapper | None, default: Callable[[], Any], request: Any) -> Any:
    if mapper is not None:
        return mapper(request)
    return default()


def build_record(config: Config, request: Any, *, method: str, status: int, response_time_ms: float,
                 started_at: str, path: Callable[[], Any], hostname: Callable[[], Any],
                 user_agent: Callable[[], Any], ip_address: Callable[[], Any]) -> dict[str, Any]:
    """One record with exactly the spec's fields; the IP is not even read at privacy level 2."""
    record: dict[str, Any] = {
        "path": str(_call(config.get_path, path, request) or "/"),
        "method": method.upper(),
        "status": int(status),
        "response_time": max(0, round(response_time_ms)),
        "created_at": started_at,
        "hostname": _str_or_none(_call(config.get_hostname, hostname, request)),
        "user_agent": _str_or_none(_call(config.get_user_agent, user_agent, request)),
    }
    if config.privacy_level < 2:
        record["ip_address"] = _str_or_none(_call(config.get_ip_address, ip_address, request))
    if config.get_user_id is not None:
        record["user_id"] = _str_or_none(config.get_user_id(request))
    return record


def _str_or_none(v: Any) -> str | None:
    return None if v is None or v == "" else str(v)


class Client:
    """Buffers records and sends them from one daemon thread. One per (key, server, framework, level)."""

    def __init__(self, api_key: str, config: Config, framework: str,
                 opener: Callable[[urllib.request.Request, float], tuple[int, bytes]] | None = None) -> None:
        self.api_key = api_key
        self.config = config
        self.framework = framework
        self.url = config.server_url.rstrip("/") + INGEST_PATH
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"server_url must be an http(s) URL, not {config.server_url!r}")
        self._open = opener or _urlopen
        self._reset_state()
        self.sent = 0
        self.dropped = 0  # oldest records dropped because the buffer was full
        self.rejected = 0  # records the server refused (bad key, bad data): retrying cannot help
        self.failed_attempts = 0
        atexit.register(self.shutdown)

    def _reset_state(self) -> None:
        self._buffer: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._inflight = 0
        self._backing_off = False
        self._pid = os.getpid()

    # ------------------------------------------------------------------ request path
    def log(self, record: dict[str, Any]) -> None:
        if self._pid != os.getpid():  # forked worker (gunicorn --preload): fresh thread and buffer
            self._reset_state()
        if self._stop.is_set():
            return
        with self._lock:
            if len(self._buffer) >= self.config.max_buffer:
                self._buffer.popleft()
                self.dropped += 1
            self._buffer.append(record)
            full = len(self._buffer) >= self.config.batch_size
        if self._thread is None:
            self._start()
        if full and not self._backing_off:  # while backing off, only the timer (or flush) wakes it
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="telltale-client-sender", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ background
    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            n = min(len(self._buffer), self.config.batch_size)
            batch = [self._buffer.popleft() for _ in range(n)]
            self._inflight = n
            return batch

    def _put_back(self, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            self._buffer.extendleft(reversed(batch))
            while len(self._buffer) > self.config.max_buffer:
                self._buffer.popleft()
                self.dropped += 1

    def _done(self) -> None:
        with self._cond:
            self._inflight = 0
            self._cond.notify_all()

    def _run(self) -> None:
        backoff = 0.0
        while True:
            stopping = self._stop.is_set()
            if not stopping:
                self._wake.wait(backoff or self.config.flush_interval)
                self._wake.clear()
                stopping = self._stop.is_set()
            try:
                backoff = self._drain(backoff, final=stopping)
            except Exception:  # noqa: BLE001 - the sender must survive anything
                _log.warning("bug", "telltale_client: unexpected error in the sender", exc_info=True)
                self._done()
                backoff = min(self.config.max_backoff, max(1.0, backoff * 2))
            if stopping:
                return

    def _drain(self, backoff: float, *, final: bool) -> float:
        """Send full batches until the buffer is empty or a send fails; returns the next backoff."""
        while True:
            batch = self._take()
            if not batch:
                self._done()
                return 0.0
            outcome = self._send(batch)
            if outcome == "retry":
                self._put_back(batch)
                self.failed_attempts += 1
                with self._cond:
                    self._backing_off = True
                self._done()
                if final:
                    return backoff
                nxt = min(self.config.max_backoff, max(0.5, backoff * 2))
                return nxt * random.uniform(0.8, 1.2)  # jitter: many app servers, one ingest endpoint
            with self._cond:
                self._backing_off = False
            self._done()

    def _send(self, batch: list[dict[str, Any]]) -> str:
        body = json.dumps({"framework": self.framework, "privacy_level": self.config.privacy_level,
                           "requests": batch}, separators=(",", ":"), default=str).encode()
        # The URL's scheme was checked in __init__ (http or https only).
        req = urllib.request.Request(self.url, data=body, method="POST", headers={  # noqa: S310
            "Content-Type": "application/json", "X-AUTH-TOKEN": self.api_key,
            "User-Agent": "telltale-client/0.1"})
        try:
            status, text = self._open(req, self.config.timeout)
        except Exception as exc:  # noqa: BLE001 - network trouble of any kind means "try later"
            _log.warning("down", "telltale_client: cannot reach %s (%s); will retry", self.url, exc)
            return "retry"
        if 200 <= status < 300:
            self.sent += len(batch)
            return "ok"
        if status in (408, 429) or status >= 500:
            _log.warning("5xx", "telltale_client: %s answered %s; will retry", self.url, status)
            return "retry"
        self.rejected += len(batch)
        _log.warning(f"reject{status}", "telltale_client: %s refused a batch of %d (%s): %s", self.url,
                     len(batch), status, text[:300].decode("utf-8", "replace"))
        return "rejected"

    # ------------------------------------------------------------------ control
    def flush(self, timeout: float = 5.0) -> bool:
        """Ask the sender to send now and wait until the buffer is empty (False on timeout or failure)."""
        if self._thread is None:
            if not self._buffer:
                return True
            self._start()
        deadline = time.monotonic() + timeout
        with self._cond:
            self._backing_off = False  # an explicit flush is one more attempt, now
        self._wake.set()
        with self._cond:
            while self._buffer or self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._backing_off and not self._inflight):
                    return False
                self._cond.wait(min(remaining, 0.05))
                self._wake.set()
            return True

    def shutdown(self, timeout: float | None = None) -> None:
        """Send what is buffered (one attempt) and stop the sender; called at interpreter exit."""
        try:
            self._stop.set()
            self._wake.set()
            t = self._thread
            if t is not None and t.is_alive():
                t.join(self.config.shutdown_timeout if timeout is None else timeout)
        except Exception:  # noqa: BLE001 - never fail the host's shutdown
            _log.warning("shutdown", "telltale_client: error while flushing at shutdown", exc_info=True)

    def stats(self) -> dict[str, int]:
        return {"buffered": len(self._buffer), "sent": self.sent, "dropped": self.dropped,
                "rejected": self.rejected, "failed_attempts": self.failed_attempts}


def _urlopen(req: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the configured server's URL
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read() or b""


_clients: dict[tuple[str, str, str, int], Client] = {}
_clients_lock = threading.Lock()


def get_client(api_key: str, config: Config, framework: str) -> Client:
    """The shared client for this key and server (handlers may be built per request, as Tornado's are)."""
    k = (api_key, config.server_url, framework, config.privacy_level)
    client = _clients.get(k)
    if client is None:
        with _clients_lock:
            client = _clients.get(k)
            if client is None:
                client = Client(api_key, config, framework)
                _clients[k] = client
    return client


def flush_all(timeout: float = 5.0) -> bool:
    """Flush every client in this process (tests, and apps that want to flush on their own shutdown)."""
    ok = True
    for c in list(_clients.values()):
        ok = c.flush(timeout) and ok
    return ok


def safely(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run middleware bookkeeping; log and swallow anything it raises."""
    try:
        fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the host request must never see our errors
        _log.warning("record", "telltale_client: could not record a request", exc_info=True)
