"""The one outbound policy: where the service may open a connection to a host a client gave it.

Saved-query secrets (spec 000), BI and warehouse connectors (spec 001) and uptime monitors (spec 002) all
make the service connect to a host a tenant typed in. Without a check, that host could be the cloud
metadata endpoint, the Lambda runtime API on loopback, the platform's own database, or anything inside the
VPC. The rule, for every surface:

- a host is a bare DNS name or IP literal (:func:`parse_host`): no scheme, path, query, user info, port,
  whitespace, control characters or percent-encoding; internationalized names become their A-label; IPv4
  only as four decimal numbers (``2130706433``, ``0177.0.0.1``, ``0x7f.1`` and ``127.1`` all mean
  127.0.0.1 to the C resolver, so they are refused as written rather than trusted);
- it is resolved at connect time, within a deadline (:func:`outbound_address`), and every answer is
  checked, after unwrapping the IPv6 forms that carry an IPv4 address inside (mapped, compatible, NAT64,
  6to4, Teredo), which a plain ``is_global`` test would take at face value; any disallowed answer
  disqualifies the name (a name that mixes public and private answers is a classic way in);
- public unicast is allowed; private, loopback, link-local, CGNAT, unique-local and the like only when the
  address is inside a network, or the host name is listed, in ``TELLTALE_ALLOWED_NETWORKS``
  (:attr:`telltale.platform.config.Settings.allowed_networks`; a deployment's own VPC databases go there);
- never, whatever that list says: the cloud metadata and credential endpoints, the Lambda runtime API,
  the unspecified, multicast and broadcast addresses, and the platform database's own endpoint
  (``TELLTALE_DB_HOST``'s addresses at ``TELLTALE_DB_PORT``).

The caller connects to the address that passed (:func:`connect`, :func:`urllib3_connection_classes`),
never to the name again, so DNS cannot swap in another answer between the check and the connection
(rebinding); TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from typing import TYPE_CHECKING, Any

# The host forms live in telltale.platform.hosts; the policy's callers reach them through this module too.
from telltale.platform.hosts import (  # noqa: F401 - re-exported for the policy's callers
    IPAddress,
    Network,
    _ip_literal,
    host_problem,
    parse_allowed_networks,
    parse_host,
    split_origin,
    split_url,
)

if TYPE_CHECKING:
    from telltale.platform.config import Settings

SETTING = "TELLTALE_ALLOWED_NETWORKS"
DNS_TIMEOUT = 5.0

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: the IPv4 address is the last 32 bits
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Never public, though Python's is_global says otherwise: deprecated site-local addresses, and the NAT64
# prefix for local use (RFC 8215), whose translator may put the IPv4 address anywhere in it.
_NEVER_PUBLIC = (ipaddress.ip_network("fec0::/10"), ipaddress.ip_network("64:ff9b:1::/48"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")

# Cloud metadata and credential endpoints: never reachable, whatever TELLTALE_ALLOWED_NETWORKS says
# (an allow-list of 169.254.0.0/16 or 0.0.0.0/0 must not open them). AWS, GCP, Azure, Oracle and
# DigitalOcean answer on 169.254.169.254 and keep their DNS/NTP/other services in the same /24; ECS task
# credentials on 169.254.170.2 and EKS pod identity on 169.254.170.23; AWS's IPv6 IMDS in fd00:ec2::/112;
# Alibaba on 100.100.100.200, Tencent on 169.254.0.23, Azure's wire server on 168.63.129.16 (a public
# address), Oracle's legacy endpoint on 192.0.0.192.
METADATA_NETWORKS: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in (
    "169.254.169.0/24", "169.254.170.0/24", "169.254.0.23/32", "fd00:ec2::/112", "100.100.100.200/32",
    "168.63.129.16/32", "192.0.0.192/32",
))
METADATA_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
    "metadata.tencentyun.com", "metadata.azure.com",
})

class Blocked(Exception):
    """The target is not one the service may reach; the message says why and what to change."""


class Unresolvable(Blocked):
    """The host name did not resolve (or not within the deadline): a connection failure, not the policy."""


# ----------------------------------------------------------------------------------------- addresses
def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]  # the client's (obfuscation removed) address
    # :: and ::1 are the unspecified and loopback addresses, not IPv4-compatible forms of 0.0.0.0/0.0.0.1.
    if addr in _NAT64 or (addr in _IPV4_COMPATIBLE and int(addr) > 1):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def _forms(ip: str) -> tuple[IPAddress, IPAddress]:
    """(the address as written, without a zone; the IPv4 address it carries, or itself)."""
    addr: IPAddress = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_ipv4(addr)
        if inner is not None:
            return addr, inner
    return addr, addr


def is_public(ip: str) -> bool:
    """Whether ``ip`` (a literal address) is globally routable unicast, whatever form it is written in."""
    outer, addr = _forms(ip)
    if any(outer in net for net in _NEVER_PUBLIC):
        return False
    return addr.is_global and not (addr.is_multicast or addr.is_reserved or addr.is_unspecified)


def _kind(addr: IPAddress) -> str:
    if addr.is_loopback:
        return "a loopback"
    if addr.is_link_local:
        return "a link-local"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT:
        return "a shared (carrier-grade NAT)"
    if isinstance(addr, ipaddress.IPv6Address) and addr in ipaddress.ip_network("fc00::/7"):
        return "a unique-local"
    if addr.is_private:
        return "a private"
    return "a reserved"


def _never(outer: IPAddress, addr: IPAddress) -> str | None:
    """Why an address may never be contacted, whatever the allow-list says, or None."""
    for a in {outer, addr}:
        if any(a in net for net in METADATA_NETWORKS):
            return "a cloud metadata endpoint"
        if a.is_unspecified:
            return "the unspecified address (it means this machine)"
        if a.is_multicast or a == ipaddress.IPv4Address("255.255.255.255"):
            return "not a unicast address"
    return None


# --------------------------------------------------------------------------------------- allow-list
@lru_cache(maxsize=8)
def _allow_list(entries: tuple[str, ...]) -> tuple[tuple[Network, ...], frozenset[str]]:
    nets = tuple(ipaddress.ip_network(e) for e in entries if "/" in e)
    return nets, frozenset(e for e in entries if "/" not in e)


def _allowed(host: str, outer: IPAddress, addr: IPAddress, entries: tuple[str, ...]) -> bool:
    nets, names = _allow_list(entries)
    if host in names:
        return True
    return any(a.version == n.version and a in n for n in nets for a in {outer, addr})


# ----------------------------------------------------------------------------------------- resolving
def _lookup(host: str, port: int, timeout: float) -> list[str]:
    """getaddrinfo within ``timeout`` seconds. The name's owner runs its DNS, and the C resolver's own
    timeouts (seconds per server, per attempt) would otherwise decide how long a check or a request
    waits. The lookup runs on a daemon thread; one that outlives its wait is abandoned, not joined."""
    import threading

    result: list[object] = []

    def run() -> None:
        try:
            result.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError, OverflowError, ValueError) as exc:  # gaierror is an OSError
            result.append(exc)

    worker = threading.Thread(target=run, name=f"dns-{host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not result:
        raise Unresolvable(f"resolving {host} took longer than {timeout:g}s")
    if isinstance(result[0], BaseException):
        exc = result[0]
        raise Unresolvable(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}")
    addrs = [str(info[4][0]) for info in result[0]]  # type: ignore[attr-defined]
    if not addrs:
        raise Unresolvable(f"cannot resolve {host}")
    return addrs


def _addresses(host: str, port: int, timeout: float) -> list[str]:
    # An IP literal is never handed to the resolver: it is the answer.
    return [host] if _ip_literal(host.split("%", 1)[0]) is not None else _lookup(host, port, timeout)


def _platform_endpoints(settings: Settings, timeout: float) -> tuple[int, set[IPAddress], bool]:
    """(the platform database's port, its addresses, whether it listens on loopback)."""
    host = parse_host(settings.db_host)
    try:
        addrs = {_forms(a)[1] for a in _addresses(host, settings.db_port, timeout)}
    except Unresolvable:
        # Fail closed: without the platform database's addresses no target can be told apart from it.
        raise Blocked("the platform database's own host does not resolve, so no target can be checked "
                      "against it; try again") from None
    return settings.db_port, addrs, any(a.is_loopback or a.is_unspecified for a in addrs)


def outbound_address(host: str, port: int, *, settings: Settings | None = None, use_allow_list: bool = True,
                     timeout: float = DNS_TIMEOUT) -> str:
    """The address to connect to for ``host``:``port``, checked against the policy above; :class:`Blocked`
    saying what to fix otherwise (:class:`Unresolvable` when the name does not resolve in ``timeout``).

    ``use_allow_list=False`` applies the policy as if ``TELLTALE_ALLOWED_NETWORKS`` were empty (a
    monitor's redirects: the registered URL may be allow-listed, where it redirects to may not)."""
    if settings is None:
        from telltale.platform.config import get_settings

        settings = get_settings()
    try:
        name = parse_host(host)
    except ValueError as exc:
        raise Blocked(f"the host {host!r} {exc}") from None
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise Blocked(f"the port {port!r} is not one from 1 to 65535")
    if name in METADATA_NAMES:
        raise Blocked(f"{name} is a cloud metadata endpoint, which is never allowed")
    addrs = _addresses(name, port, timeout)
    db_port, db_addrs, db_on_loopback = _platform_endpoints(settings, timeout)
    runtime = settings.lambda_runtime_api
    entries = settings.allowed_networks if use_allow_list else ()
    # Every answer must pass: any one that does not disqualifies the name.
    for ip in addrs:
        outer, addr = _forms(ip)
        shown = name if name == ip else f"{name} resolves to {ip}, which"
        never = _never(outer, addr)
        if never:
            raise Blocked(f"{shown} is {never}; it is never allowed")
        if port == db_port and (addr in db_addrs or (db_on_loopback and (addr.is_loopback or addr.is_unspecified))):
            raise Blocked(f"{shown} at port {port} is the platform's own database; it is never allowed")
        if runtime and port == runtime[1] and (addr.is_loopback or ip == runtime[0]):
            raise Blocked(f"{shown} at port {port} is the Lambda runtime API; it is never allowed")
        if is_public(ip) or _allowed(name, outer, addr, entries):
            continue
        kind = _kind(addr)
        if use_allow_list:
            raise Blocked(f"{shown} is {kind} address; list its network (or the host name) in {SETTING} "
                          "to allow it")
        raise Blocked(f"{shown} is {kind} address")
    return addrs[0]


def check_url(url: str, *, use_allow_list: bool = True) -> str:
    """The address to connect to for ``url``; ValueError for a malformed URL, Blocked for a forbidden one."""
    _, host, port = split_url(url)
    return outbound_address(host, port, use_allow_list=use_allow_list)


# ----------------------------------------------------------------------------------------- connecting
def connect(host: str, port: int, timeout: float) -> socket.socket:
    """A TCP socket to the checked address of ``host``:``port`` (for drivers that take a connected socket:
    pg8000's ``sock=``, pymysql's ``connect(sock)``). OSError when the connection itself fails."""
    address = outbound_address(host, port, timeout=min(timeout, DNS_TIMEOUT))
    sock = socket.create_connection((address, port), timeout)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    return sock


@lru_cache(maxsize=1)
def urllib3_connection_classes() -> tuple[type[Any], type[Any]]:
    """urllib3 HTTP and HTTPS connection classes whose every new connection goes only where this policy
    allows: the host is resolved and checked, and the socket opened to the address that passed. The
    request's Host header, SNI and certificate check keep the host name. Used by the BI/warehouse
    scrapers (a requests adapter), ClickHouse (a pool manager) and Elasticsearch (a node class)."""
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.util.connection import create_connection

    class CheckedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            timeout = self.timeout if isinstance(self.timeout, int | float) else DNS_TIMEOUT
            ip = outbound_address(self._dns_host, self.port, timeout=min(float(timeout), DNS_TIMEOUT))
            return create_connection((ip, self.port), self.timeout, source_address=self.source_address,
                                     socket_options=self.socket_options)

    class CheckedHTTPSConnection(CheckedHTTPConnection, HTTPSConnection):
        pass

    return CheckedHTTPConnection, CheckedHTTPSConnection


def pool_manager(**kwargs: Any) -> Any:
    """A urllib3 PoolManager whose connections are checked (:func:`urllib3_connection_classes`)."""
    from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager

    plain, tls = urllib3_connection_classes()
    manager = PoolManager(**kwargs)
    manager.pool_classes_by_scheme = {
        "http": type("CheckedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": plain}),
        "https": type("CheckedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": tls}),
    }
    return manager
