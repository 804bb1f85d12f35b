"""The one rule for outbound connections to client-given URLs (monitors and connectors)."""

import pytest

from telltale import netguard

PRIVATE = [
    "127.0.0.1", "10.0.0.1", "172.16.5.5", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "240.0.0.1", "255.255.255.255",
    "::1", "::", "fc00::1", "fe80::1", "fe80::1%eth0", "ff02::1",
    # IPv6 forms that carry a private IPv4 inside: mapped, compatible, NAT64 (both prefixes), 6to4, Teredo.
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::7f00:1", "64:ff9b::a00:5", "64:ff9b::a9fe:a9fe",
    "64:ff9b:1::a00:5", "2002:7f00:1::", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:80ff:fffe",
    # Deprecated site-local, and the local-use NAT64 prefix whatever it embeds (RFC 8215).
    "fec0::1", "64:ff9b:1::808:808",
]


@pytest.mark.parametrize("ip", PRIVATE)
def test_private_reserved_and_wrapped_addresses_are_not_public(ip):
    assert not netguard.is_public(ip)


@pytest.mark.parametrize("ip", ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808",
                                "2002:808:808::1"])
def test_public_addresses_are_public(ip):
    assert netguard.is_public(ip)


@pytest.mark.parametrize("url", ["ftp://x", "http://", "http://u:p@h/", "http://h:99999/", "javascript:alert(1)"])
def test_urls_are_validated(url):
    with pytest.raises(ValueError):
        netguard.split_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9001/", "http://localhost/", "http://2852039166/",
                                 "http://0x7f000001/", "http://127.1/", "http://[::ffff:169.254.169.254]/",
                                 "http://[64:ff9b::a00:5]/"])
def test_names_and_literals_that_reach_inside_are_blocked(url):
    with pytest.raises(netguard.Blocked):
        netguard.check_url(url, allow_private=False)


def test_private_targets_are_allowed_only_when_the_deployment_says_so():
    assert netguard.check_url("http://127.0.0.1:8080/x", allow_private=True) == "127.0.0.1"


def test_an_unresolvable_name_is_blocked_with_its_name():
    with pytest.raises(netguard.Blocked, match=r"nonexistent\.invalid"):
        netguard.resolve("nonexistent.invalid", 80, allow_private=False)


def test_a_slow_dns_answer_is_bounded_by_the_timeout(monkeypatch):
    import socket
    import time

    def slow(*args, **kwargs):
        time.sleep(2)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", slow)
    started = time.perf_counter()
    with pytest.raises(netguard.Blocked, match=r"took longer than 0\.3s"):
        netguard.resolve("slow.example", 80, allow_private=True, timeout=0.3)
    assert time.perf_counter() - started < 1.5  # not the 2 s the answer takes


@pytest.mark.parametrize("port", [99999999999999999999, -1])
def test_an_impossible_port_is_blocked_not_raised(port):
    with pytest.raises(netguard.Blocked):
        netguard.resolve("127.0.0.1", port, allow_private=True)
