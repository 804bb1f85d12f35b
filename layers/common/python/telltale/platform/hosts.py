"""What a host is, as the outbound policy (:mod:`telltale.platform.netguard`) reads one: the parsing alone.

No resolution and no settings here, so that :mod:`telltale.platform.config` can check
``TELLTALE_ALLOWED_NETWORKS`` with it at cold start while the policy itself reads the settings.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from typing import Any
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_ZONE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# Characters that make a host something more than a host, and what the client should remove.
_NOT_A_HOST = (("/", "a path"), ("?", "a query"), ("#", "a fragment"), ("@", "user info"),
               ("%", "percent-encoding"), ("\\", "a backslash"), ("[", "a bracket"), ("]", "a bracket"),
               (",", "a comma"), (";", "a semicolon"), ('"', "a quote"), ("'", "a quote"), ("<", "'<'"),
               (">", "'>'"), ("*", "a wildcard"))


# ------------------------------------------------------------------------------------------ host form
def parse_host(host: Any) -> str:
    """``host`` as a bare host the policy can check: an IP literal in canonical form (IPv6 unbracketed, a
    zone kept) or a lowercase ASCII DNS name without its trailing dot. ValueError says what to fix."""
    if not isinstance(host, str) or not host:
        raise ValueError("must name a host")
    if len(host) > 300:
        raise ValueError("is too long for a host name (at most 253 characters)")
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") for c in host):
        raise ValueError("must not contain whitespace or control characters")
    if "://" in host or re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:/", host):
        raise ValueError("must be a bare host name or IP address, without a scheme such as 'https://'")
    if host.startswith("[") and host.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            raise ValueError("holds brackets but no IPv6 address; write the address without brackets") from None
    literal = _ip_literal(host)
    if literal is not None:
        zone = getattr(literal, "scope_id", None)
        if zone is not None and not _ZONE.match(zone):
            raise ValueError("has an IPv6 zone that is not an interface name; write it as fe80::1%eth0")
        return str(literal)
    for char, what in _NOT_A_HOST:
        if char in host:
            raise ValueError(f"must be only a host name or IP address; remove {what} ({char!r})")
    if ":" in host:
        raise ValueError("must not carry a port (or be a malformed IPv6 address); put the port in the port field")
    name = host[:-1] if host.endswith(".") else host
    if not name.isascii():
        name = _a_label(name)
        literal = _ip_literal(name)  # full-width digits and dots map to an IPv4 address
        if literal is not None:
            return str(literal)
    name = name.lower()
    if len(name) > 253 or not name:
        raise ValueError("is not a valid host name (at most 253 characters)")
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise ValueError("is not a valid host name; use letters, digits, '-' and '.' (an empty label is not allowed)")
    if _numeric(name) or labels[-1].isdigit():
        raise ValueError("looks like an IPv4 address in a form resolvers read differently; write it as four "
                         "decimal numbers, such as 10.0.0.5")
    return name


def host_problem(host: Any) -> str | None:
    """What is wrong with ``host`` as a bare host, or None."""
    try:
        parse_host(host)
    except ValueError as exc:
        return str(exc)
    return None


def _ip_literal(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _numeric(name: str) -> bool:
    """Whether the C resolver would read ``name`` as an IPv4 address (decimal, octal, hex, short forms)."""
    try:
        socket.inet_aton(name)
    except (OSError, ValueError):
        return False
    return True


def _a_label(name: str) -> str:
    import idna

    try:
        return str(idna.encode(name, uts46=True).decode("ascii"))
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise ValueError(f"is not a valid internationalized host name ({exc})") from None


# --------------------------------------------------------------------------------------- URLs, origins
def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL without credentials; ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username or parts.password or "@" in parts.netloc:
        raise ValueError("must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError("has an invalid port") from None
    try:
        parse_host(parts.hostname)
    except ValueError as exc:
        raise ValueError(f"has a host that {exc}") from None
    return parts.scheme, parts.hostname, port


def split_origin(value: str, default_port: int) -> tuple[str, str, int]:
    """(scheme, host, port) of ``[http(s)://]host[:port][/]``, the form a server's address takes where a
    URL is expected (Elasticsearch's ``host``): nothing after the host but a port, no user info. Without a
    scheme it is https. ValueError says what to fix."""
    if not isinstance(value, str) or not value:
        raise ValueError("must name a host")
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in value):
        raise ValueError("must not contain whitespace or control characters")
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "https", value
    if scheme.lower() not in ("http", "https"):
        raise ValueError("must be an http:// or https:// address")
    rest = rest[:-1] if rest.endswith("/") else rest
    for char, what in (("/", "a path"), ("?", "a query"), ("#", "a fragment"), ("@", "user info")):
        if char in rest:
            raise ValueError(f"must be only a scheme, a host and an optional port; remove {what} ({char!r})")
    port = default_port
    host = rest
    if rest.startswith("["):
        end = rest.find("]")
        host, tail = rest[: end + 1], rest[end + 1:]
        if end < 0 or (tail and not tail.startswith(":")):
            raise ValueError("has a malformed bracketed IPv6 address")
        port_text = tail[1:] if tail else ""
    elif rest.count(":") == 1:
        host, port_text = rest.split(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError("has an invalid port; use a number from 1 to 65535")
        port = int(port_text)
    try:
        return scheme.lower(), parse_host(host), port
    except ValueError as exc:
        raise ValueError(f"has a host that {exc}") from None


def parse_allowed_networks(raw: str) -> tuple[str, ...]:
    """``TELLTALE_ALLOWED_NETWORKS`` (comma- or space-separated CIDRs, addresses and host names) as its
    canonical entries; ValueError naming the first bad entry and what to write instead."""
    entries: list[str] = []
    for entry in re.split(r"[,\s]+", raw.strip()):
        if not entry:
            continue
        if "/" in entry or _ip_literal(entry.split("%", 1)[0]) is not None:
            try:
                entries.append(str(ipaddress.ip_network(entry, strict=True)))
            except ValueError as exc:
                hint = ""
                if "host bits set" in str(exc):
                    hint = f"; write {ipaddress.ip_network(entry, strict=False)}"
                raise ValueError(f"entry {entry!r} is not a network ({exc}){hint}") from None
            continue
        try:
            entries.append(parse_host(entry))
        except ValueError as exc:
            raise ValueError(f"entry {entry!r} is neither a CIDR network nor a host name: it {exc}") from None
    return tuple(entries)
