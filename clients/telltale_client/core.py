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
import ipaddress
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
MAX_BATCH = 5000
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
    small :class:`RequestView`) and return the value, overriding the default extraction. A mapper that
    raises (``request.headers['X-Forwarded-For']`` without a proxy in front) costs only its own field:
    the default value is used instead and the error is logged once.
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


class Headers(dict[str, str]):
    """Request headers looked up case-insensitively, as Tornado's and every framework's are, so that the
    spec's ``request.headers['X-Forwarded-For']`` works on ASGI and WSGI too. Keys are kept lower-case."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__((str(k).lower(), v) for k, v in (items.items() if isinstance(items, dict) else items))

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name.lower() if isinstance(name, str) else name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __setitem__(self, name: str, value: str) -> None:
        super().__setitem__(name.lower(), value)


@dataclass
class RequestView:
    """What ASGI and WSGI mappers receive: the request's parts, framework-neutral."""

    method: str
    path: str
    headers: Headers
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
        self._once: set[str] = set()

    def once(self, kind: str, msg: str, *args: Any) -> None:
        """Log the first occurrence only: a broken mapper fails on every request in the same way."""
        if kind not in self._once:
            self._once.add(kind)
            logger.warning(msg, *args, exc_info=True)

    def warning(self, kind: str, msg: str, *args: Any, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now - self._last.get(kind, -1e9) >= self.every:
            self._last[kind] = now
            logger.warning(msg, *args, exc_info=exc_info)


_log = _RateLimitedLog()


# A record is a tuple on the request path (cheap to build) and becomes the wire dict in the sender:
# (started_at epoch s, method, path, status, response_time ms, hostname, user_agent, ip or _NO_IP, user_id or _NO_USER)
Record = tuple
_NO_IP = object()  # privacy level 2: the field is absent, not null
_NO_USER = object()  # no get_user_id mapper: the field is absent


def record_from(config: Config, request: Any, *, started: float, method: str, status: int, elapsed_ms: float,
                path: Any, hostname: Any, user_agent: Any, ip_of: Callable[[Any], Any]) -> Record:
    """One record with exactly the spec's fields. ``path``, ``hostname`` and ``user_agent`` are the
    framework's defaults (used unless a mapper is set and returns); ``ip_of(request)`` is only called
    below privacy level 2, so at level 2 the IP is never even read."""
    if config.privacy_level < 2:
        ip = _mapped(config.get_ip_address, "get_ip_address", request, None)
        if ip is None:
            ip = ip_of(request)
    else:
        ip = _NO_IP
    return (
        started,
        method,
        _mapped(config.get_path, "get_path", request, path),
        status,
        elapsed_ms,
        _mapped(config.get_hostname, "get_hostname", request, hostname),
        _mapped(config.get_user_agent, "get_user_agent", request, user_agent),
        ip,
        _mapped(config.get_user_id, "get_user_id", request, _NO_USER),
    )


def _mapped(mapper: Mapper | None, name: str, request: Any, default: Any) -> Any:
    """The mapper's value, or ``default`` when there is no mapper or it raised (logged once per mapper)."""
    if mapper is None:
        return default
    try:
        return mapper(request)
    except Exception:  # noqa: BLE001 - the user's code; one field's default beats a lost record
        _log.once(f"mapper:{name}", "telltale_client: config.%s raised; using the default value for that "
                  "field (logged once)", name)
        return default


_second_cache: list[Any] = [None, ""]


def _iso(ts: float) -> str:
    """ISO 8601 UTC with microseconds; the date-time part is formatted once per second (the sender
    formats thousands of records that share it)."""
    sec = int(ts)
    if _second_cache[0] != sec:
        _second_cache[:] = [sec, datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")]
    return f"{_second_cache[1]}.{int((ts - sec) * 1_000_000):06d}+00:00"


def to_wire(record: Record | dict[str, Any]) -> dict[str, Any]:
    if isinstance(record, dict):
        return record
    started, method, path, status, elapsed_ms, hostname, user_agent, ip, user_id = record
    # Cut to the ingest API's limits: one over-long value from a mapper must not get a whole batch refused.
    out: dict[str, Any] = {
        "path": (path if type(path) is str and path else str(path or "/"))[:2048],
        "method": method.upper() if type(method) is str else str(method).upper(),
        "status": int(status),
        "response_time": max(0, round(elapsed_ms)),
        "created_at": _iso(started),
        "hostname": _str_or_none(hostname, 255),
        "user_agent": _str_or_none(user_agent, 1024),
    }
    if ip is not _NO_IP:
        out["ip_address"] = _ip_or_none(ip)
    if user_id is not _NO_USER:
        out["user_id"] = _str_or_none(user_id, 255)
    return out


# The columnar wire format: field names once per batch, then one array per request (about half the
# sender's CPU of one object per request). The API accepts both.
FIELDS = ["created_at", "method", "path", "status", "response_time", "hostname", "user_agent", "user_id"]
FIELDS_WITH_IP = [*FIELDS, "ip_address"]


def to_row(record: Record | dict[str, Any], with_ip: bool) -> list[Any]:
    """A record as a row of ``FIELDS`` (``FIELDS_WITH_IP`` below privacy level 2), cut to the API's limits
    so that one over-long value from a mapper cannot get a whole batch refused."""
    if isinstance(record, dict):
        record = _from_dict(record)
    started, method, path, status, elapsed_ms, hostname, user_agent, ip, user_id = record
    row = [
        _iso(started),
        method.upper() if type(method) is str else str(method).upper(),
        path[:2048] if type(path) is str and path else str(path or "/")[:2048],
        int(status),
        max(0, round(elapsed_ms)),
        hostname[:255] if type(hostname) is str and hostname else _str_or_none(hostname, 255),
        user_agent[:1024] if type(user_agent) is str and user_agent else _str_or_none(user_agent, 1024),
        None if user_id is _NO_USER else _str_or_none(user_id, 255),
    ]
    if with_ip:
        row.append(None if ip is _NO_IP else _ip_or_none(ip))
    return row


def _from_dict(d: dict[str, Any]) -> Record:
    started = datetime.fromisoformat(str(d["created_at"]).replace("Z", "+00:00")).timestamp()
    return (started, d.get("method", "GET"), d.get("path", "/"), d.get("status", 200), d.get("response_time", 0),
            d.get("hostname"), d.get("user_agent"), d.get("ip_address", _NO_IP), d.get("user_id", _NO_USER))


def _ip_or_none(v: Any) -> str | None:
    """An address in its canonical form, or None: a mapper's "unknown" must not cost the whole batch.
    An X-Forwarded-For list names the client first."""
    if v is None or v == "":
        return None
    try:
        addr = ipaddress.ip_address(str(v).split(",", 1)[0].strip())
    except ValueError:
        return None
    # A server listening on [::] sees an IPv4 client as ::ffff:a.b.c.d; send the address it is.
    mapped = getattr(addr, "ipv4_mapped", None)
    return str(mapped if mapped is not None else addr)


def _str_or_none(v: Any, limit: int) -> str | None:
    return None if v is None or v == "" else str(v)[:limit]


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
        self._buffer: deque[Any] = deque()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._inflight = 0
        self._backing_off = False
        self._flush_requested = False
        self._stopped = False
        self._max_buffer = self.config.max_buffer
        # The ingest API takes at most MAX_BATCH records a call; a bigger batch would be refused forever.
        self._batch_size = max(1, min(int(self.config.batch_size), MAX_BATCH))

    # ------------------------------------------------------------------ request path
    def log(self, record: Record | dict[str, Any]) -> None:
        # The hot path: no lock and no system call. deque.append and popleft are atomic, so the
        # worst a race can do is let the buffer pass its cap by a record or two for a moment.
        if self._stopped:
            return
        buffer = self._buffer
        if len(buffer) >= self._max_buffer:
            try:
                buffer.popleft()
                self.dropped += 1
            except IndexError:
                pass
        buffer.append(record)
        if self._thread is None:
            self._start()
        if len(buffer) >= self._batch_size and not self._backing_off:
            self._wake.set()  # while backing off, only the timer (or flush) wakes the sender

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="telltale-client-sender", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------------ background
    def _take(self, full_only: bool = False) -> list[Any]:
        with self._lock:
            if full_only and len(self._buffer) < self._batch_size:
                return []
            n = min(len(self._buffer), self._batch_size)
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
            woken = False
            if not stopping:
                woken = self._wake.wait(backoff or self.config.flush_interval)
                self._wake.clear()
                stopping = self._stop.is_set()
            # Woken because a batch filled up: send full batches only, and leave the remainder for the
            # timer. Sending down to an empty buffer would post tiny batches back to back under load.
            everything = stopping or not woken or self._flush_requested
            self._flush_requested = False
            try:
                backoff = self._drain(backoff, final=stopping, everything=everything)
            except Exception:  # noqa: BLE001 - the sender must survive anything
                _log.warning("bug", "telltale_client: unexpected error in the sender", exc_info=True)
                self._done()
                backoff = min(self.config.max_backoff, max(1.0, backoff * 2))
            if stopping:
                return

    def _drain(self, backoff: float, *, final: bool, everything: bool = True) -> float:
        """Send batches until the buffer is empty (or, unless ``everything``, holds less than a full
        batch) or a send fails; returns the next backoff."""
        while True:
            batch = self._take(full_only=not everything)
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

    def _send(self, batch: list[Any]) -> str:
        with_ip = self.config.privacy_level < 2  # at level 2 the IP is not even a column
        try:
            rows = [to_row(r, with_ip) for r in batch]
            body = json.dumps({"framework": self.framework, "privacy_level": self.config.privacy_level,
                               "fields": FIELDS_WITH_IP if with_ip else FIELDS, "rows": rows},
                              separators=(",", ":"), default=str).encode()
        except Exception:  # noqa: BLE001 - a value a mapper returned that cannot be sent
            _log.warning("encode", "telltale_client: dropped a batch it could not encode", exc_info=True)
            self.rejected += len(batch)
            return "rejected"
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
            self._flush_requested = True
        self._wake.set()
        with self._cond:
            while self._buffer or self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._backing_off and not self._inflight):
                    return False
                self._cond.wait(min(remaining, 0.05))
                self._flush_requested = True
                self._wake.set()
            return True

    def shutdown(self, timeout: float | None = None) -> None:
        """Send what is buffered (one attempt) and stop the sender; called at interpreter exit."""
        try:
            self._stopped = True
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


def _after_fork_in_child() -> None:
    # A forked worker (gunicorn --preload, multiprocessing) inherits the buffers but not the sender
    # threads: give each client fresh state so the child sends its own records.
    for c in list(_clients.values()):
        c._reset_state()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


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
