"""Where the service may open an outbound connection to an address a client gave it.

Uptime monitors (spec 002) and BI/warehouse connectors (spec 001) both make the service fetch a URL a
tenant typed in. Without a check, that URL could name the cloud metadata endpoint, the Lambda runtime API
on loopback, or anything inside the VPC. One rule for both: every address a host name resolves to must
be globally routable, after unwrapping the IPv6 forms that carry an IPv4 address inside them (mapped,
compatible, NAT64, 6to4, Teredo), which a plain ``is_global`` test would take at face value.

The caller connects to the address :func:`resolve` returned, not to the name again, so DNS cannot swap
in a private answer between the check and the connection (rebinding).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: the IPv4 address is the last 32 bits
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Never public, though Python's is_global says otherwise: deprecated site-local addresses, and the NAT64
# prefix for local use (RFC 8215), whose translator may put the IPv4 address anywhere in it.
_NEVER_PUBLIC = (ipaddress.ip_network("fec0::/10"), ipaddress.ip_network("64:ff9b:1::/48"))
DNS_TIMEOUT = 5.0


class Blocked(Exception):
    """The target is not one the service may reach."""


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]  # the client's (obfuscation removed) address
    if addr in _NAT64 or addr in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def is_public(ip: str) -> bool:
    """Whether ``ip`` (a literal address) is globally routable unicast, whatever form it is written in."""
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        if any(addr in net for net in _NEVER_PUBLIC):
            return False
        inner = _embedded_ipv4(addr)
        if inner is not None:
            addr = inner
    return addr.is_global and not (addr.is_multicast or addr.is_reserved or addr.is_unspecified)


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL without credentials; ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError("has an invalid port") from None
    return parts.scheme, parts.hostname, port


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
        raise Blocked(f"resolving {host} took longer than {timeout:g}s")
    if isinstance(result[0], BaseException):
        exc = result[0]
        raise Blocked(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}")
    return [str(info[4][0]) for info in result[0]]  # type: ignore[attr-defined]


def resolve(host: str, port: int, *, allow_private: bool, timeout: float = DNS_TIMEOUT) -> str:
    """An address for ``host`` that may be contacted; :class:`Blocked` if there is none, or if the name
    does not resolve within ``timeout`` seconds.

    ``allow_private`` is for deployments (and tests) whose targets legitimately live inside the network.
    """
    addrs = _lookup(host, port, timeout)
    if not addrs:
        raise Blocked(f"cannot resolve {host}")
    if allow_private:
        return addrs[0]
    # Any private answer disqualifies the name: a name that mixes public and private answers is a
    # classic way to reach the inside.
    if not all(is_public(a) for a in addrs):
        raise Blocked(f"{host} resolves to a private, loopback, link-local or reserved address")
    return addrs[0]


def check_url(url: str, *, allow_private: bool) -> str:
    """The address to connect to for ``url``; ValueError for a malformed URL, Blocked for a forbidden one."""
    _, host, port = split_url(url)
    return resolve(host, port, allow_private=allow_private)


def private_allowed(env_var: str) -> bool:
    """Whether the deployment switch ``env_var`` ("true"/"1"/"yes") lets targets inside the network through.

    Read on each call, not cached: tests and the local stack flip it without a restart.
    """
    return os.environ.get(env_var, "false").strip().lower() in ("1", "true", "yes")
