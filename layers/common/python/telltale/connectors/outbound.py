"""How the query connectors reach their server, and what a failure to reach it may say.

Every connector opens its connection through :mod:`telltale.platform.netguard` (checked at connect time, pinned to
the checked address, TLS verified against the host name): pg8000 and pymysql get a connected socket,
ClickHouse a pool manager and Elasticsearch a node class whose connections are checked the same way.

A failure to connect says only a fixed category (refused, timed out, TLS failure, authentication failed,
cannot resolve, ...) and what in the secret to check; never a byte the remote sent. Otherwise a secret
pointed at any TCP service would turn the connector into a reader of that service's replies (a
PostgreSQL secret aimed at an internal HTTP server used to echo the server's answer in the error).
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import TYPE_CHECKING, Any

from telltale.platform import netguard
from telltale.platform.errors import ConnectorError, OutboundBlocked

if TYPE_CHECKING:
    from telltale.connectors.base import Limits

# category -> (what happened, what in the secret to check)
CATEGORIES: dict[str, tuple[str, str]] = {
    "cannot resolve": ("the host name does not resolve", "host"),
    "refused": ("the connection was refused", "host and port"),
    "timed out": ("the connection timed out", "host, port and the server's firewall"),
    "unreachable": ("the network or host is unreachable", "host"),
    "TLS failure": ("the TLS handshake or certificate check failed", "TLS setting and the server's certificate"),
    "authentication failed": ("the server refused the credentials", "username and password"),
    "unknown database": ("the database does not exist on the server", "database"),
    "protocol error": ("the server did not answer as {what} does", "host, port and secret type"),
}
# Driver error codes that mean the login was refused, or the database is unknown.
_PG_AUTH, _PG_NO_DB = ("28",), ("3D000",)
_MYSQL_AUTH, _MYSQL_NO_DB = {1044, 1045, 1698, 1251, 1129, 1130}, {1049}
_CH_AUTH = ("code: 516", "code: 192", "code: 193", "authentication_failed", "http status 401", "http status 403")


def socket_for(config: dict[str, Any], limits: Limits) -> socket.socket:
    """A connected socket to the secret's host and port, through the outbound policy, within the secret's
    connect timeout (at most the limit's)."""
    timeout = min(int(config.get("connect_timeout") or limits.connect_timeout_s), limits.connect_timeout_s)
    return netguard.connect(str(config["host"]), int(config["port"]), timeout)


def clickhouse_pool() -> Any:
    """The pool manager ClickHouse's HTTP client connects through (checked and pinned connections)."""
    return netguard.pool_manager(num_pools=1, maxsize=1)


def elasticsearch_node_class() -> type[Any]:
    """An elastic_transport node whose connections go through the outbound policy."""
    from elastic_transport import Urllib3HttpNode

    plain, tls = netguard.urllib3_connection_classes()

    class CheckedNode(Urllib3HttpNode):
        def __init__(self, config: Any) -> None:
            super().__init__(config)
            self.pool.ConnectionCls = tls if config.scheme == "https" else plain

    return CheckedNode


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: causes, contexts, urllib3's ``reason``, elastic_transport's ``errors``."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is s for s in seen):
            continue
        seen.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None), *(getattr(e, "errors", None) or ()),
                 *e.args]
    return seen


def category(exc: BaseException) -> str:
    """The fixed category of a failure to connect (a key of CATEGORIES, or "not allowed")."""
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, netguard.Unresolvable | socket.gaierror):
            return "cannot resolve"
    for e in chain:
        if isinstance(e, netguard.Blocked):
            return "not allowed"
    for e in chain:
        if isinstance(e, ssl.SSLError | ssl.CertificateError):
            return "TLS failure"
        if isinstance(e, ConnectionRefusedError):
            return "refused"
        if isinstance(e, TimeoutError):
            return "timed out"
        if isinstance(e, OSError) and e.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "unreachable"
    for e in chain:
        found = _driver_category(e)
        if found:
            return found
    return "protocol error"


def _driver_category(e: BaseException) -> str | None:
    first = e.args[0] if e.args else None
    if isinstance(first, dict):  # pg8000: the server's error fields
        code = str(first.get("C", ""))
        if code.startswith(_PG_AUTH):
            return "authentication failed"
        if code in _PG_NO_DB:
            return "unknown database"
    if type(e).__module__.startswith("pymysql") and isinstance(first, int):
        if first in _MYSQL_AUTH:
            return "authentication failed"
        if first in _MYSQL_NO_DB:
            return "unknown database"
        if first == 2013 and "timed out" in str(e):
            return "timed out"
    status = getattr(getattr(e, "meta", None), "status", None)  # elasticsearch ApiError
    if status in (401, 403):
        return "authentication failed"
    if type(e).__module__.startswith("clickhouse_connect") and any(m in str(e).lower() for m in _CH_AUTH):
        return "authentication failed"
    return None


def failure(what: str, exc: BaseException, config: dict[str, Any]) -> ConnectorError:
    """The error for a failure to connect to ``what``: a fixed category and what to check, nothing the
    server sent. A target the policy refuses is an :class:`OutboundBlocked` (403) saying why."""
    kind = category(exc)
    if kind == "not allowed":
        blocked = next(e for e in _chain(exc) if isinstance(e, netguard.Blocked))
        # The policy's own sentence (host, address, why, which setting); no remote byte in it.
        return OutboundBlocked(f"{what} at this secret's host may not be contacted: {blocked}",
                               details={"category": kind, "setting": netguard.SETTING})
    text, check = CATEGORIES[kind]
    text = text.format(what=what)
    if kind == "unknown database" and config.get("database"):
        text = f"the database {str(config['database'])!r} does not exist on the server"
    return ConnectorError(f"could not connect to {what}: {text}; check the secret's {check}",
                          details={"category": kind})
