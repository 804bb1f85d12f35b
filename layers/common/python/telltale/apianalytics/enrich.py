"""Offline enrichment: country from the IP (iptocc's bundled data) and OS / browser from the user agent
(ua-parser with its maintained regex set). Both libraries load on first use; results are cached
because a service sees the same few user agents over and over."""

from __future__ import annotations

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=65536)
def country(ip: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code, or None for private, reserved or unknown addresses."""
    canonical = normal_ip(ip) if ip else None
    if canonical is None or not ipaddress.ip_address(canonical).is_global:
        return None
    import iptocc

    code = iptocc.country_code(canonical)
    return code.upper() if isinstance(code, str) and len(code) == 2 else None


@lru_cache(maxsize=8192)
def browser_and_os(user_agent: str | None) -> tuple[str | None, str | None]:
    if not user_agent:
        return None, None
    from ua_parser import parse

    result = parse(user_agent[:1024])
    browser = result.user_agent.family if result.user_agent else None
    os_name = result.os.family if result.os else None
    return (browser if browser and browser != "Other" else None,
            os_name if os_name and os_name != "Other" else None)


def normal_ip(ip: str) -> str | None:
    """``ip`` in its one canonical spelling (IPv6 compressed, lower-case; an IPv4-mapped IPv6 address as
    the IPv4 address it is), or None if it is not an address. Stored values and filter values both go
    through here, so 2001:DB8::1 finds 2001:db8::1, and ::ffff:81.2.69.142 (how a server listening on
    [::] sees an IPv4 client) is 81.2.69.142, with its country."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)
