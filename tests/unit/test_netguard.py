"""The one outbound policy (telltale.platform.netguard): the host's form, every address form, the allow-list
(TELLTALE_ALLOWED_NETWORKS), the never-reachable endpoints, and the resolver's deadline. Names that resolve
to chosen answers are made by patching the resolver here only; the connector tests use real servers."""

from __future__ import annotations

import socket

import pytest

from telltale.platform import netguard
from telltale.platform.config import Settings, SettingsError

NOTHING = Settings()  # deployed: TELLTALE_ALLOWED_NETWORKS empty; platform DB at 127.0.0.1:5432
LOOPBACK = Settings(allowed_networks=("127.0.0.0/8", "::1/128"))


def check(host: str, port: int = 6543, settings: Settings = NOTHING) -> str:
    return netguard.outbound_address(host, port, settings=settings)


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", getaddrinfo)


# ------------------------------------------------------------------------------------------ host form
@pytest.mark.parametrize(("host", "fix"), [
    ("db.example.com/x", "path"), ("db.example.com/", "path"), ("db.example.com?x=1", "query"),
    ("db.example.com#frag", "fragment"), ("user@db.example.com", "user info"), ("user:pw@db.example.com", "user info"),
    ("db.example.com:5432", "port"), ("https://db.example.com", "scheme"), ("postgres://db", "scheme"),
    ("db.example.com ", "whitespace"), (" db.example.com", "whitespace"), ("db example.com", "whitespace"),
    ("db.example.com\n", "whitespace"), ("db.example.com\r\nHost: x", "whitespace"), ("db\x00.example.com", "control"),
    ("db\t.example.com", "whitespace"), ("db\u200b.example.com", "control"), ("db%2eexample.com", "percent"),
    ("127.0.0.1%2f", "percent"), ("db\\example.com", "backslash"), ("", "host"), ("a..b", "valid host"),
    (".example.com", "valid host"), ("-db.example.com", "valid host"), ("db-.example.com", "valid host"),
    ("x" * 64 + ".com", "valid host"), ("[not-v6]", "IPv6"), ("fe80::1%eth0/x", "path"),
    # The C resolver reads these as 127.0.0.1 (decimal, octal, hex, short): refused as written.
    ("2130706433", "IPv4"), ("0177.0.0.1", "IPv4"), ("0x7f.1", "IPv4"), ("0x7f000001", "IPv4"), ("127.1", "IPv4"),
    ("127.0.1", "IPv4"), ("017700000001", "IPv4"), ("0251.0376.0251.0376", "IPv4"), ("2852039166", "IPv4"),
    ("0xa9fea9fe", "IPv4"), ("169.254.43518", "IPv4"), ("1.2.3.04", "IPv4"), ("example.123", "IPv4"),
])
def test_a_host_that_is_not_bare_is_refused_saying_what_to_fix(host, fix):
    with pytest.raises(ValueError, match=fix):
        netguard.parse_host(host)
    with pytest.raises(netguard.Blocked):  # and never reaches the resolver at connect time either
        check(host)


@pytest.mark.parametrize(("host", "canonical"), [
    ("db.example.com", "db.example.com"), ("DB.Example.COM", "db.example.com"), ("db.example.com.", "db.example.com"),
    ("localhost.", "localhost"), ("my_db", "my_db"), ("10.0.0.5", "10.0.0.5"), ("[::1]", "::1"), ("::1", "::1"),
    ("[::]", "::"), ("::ffff:127.0.0.1", "::ffff:7f00:1"), ("fe80::1%eth0", "fe80::1%eth0"),
    ("bücher.example", "xn--bcher-kva.example"), ("ДОМЕН.рф", "xn--d1acufc.xn--p1ai"),
    # full-width digits and dots: IDNA maps them to the IPv4 address
    ("\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11", "127.0.0.1"),
])
def test_bare_hosts_are_canonical(host, canonical):
    assert netguard.parse_host(host) == canonical


def test_an_invalid_internationalized_name_is_refused():
    with pytest.raises(ValueError, match="internationalized"):
        netguard.parse_host("xn--a.ü.example")


@pytest.mark.parametrize(("value", "expected"), [
    ("https://es.example.com", ("https", "es.example.com", 9200)),
    ("https://es.example.com/", ("https", "es.example.com", 9200)),
    ("http://es.example.com:9243", ("http", "es.example.com", 9243)),
    ("es.example.com", ("https", "es.example.com", 9200)),
    ("http://[::1]:9200", ("http", "::1", 9200)),
])
def test_an_elasticsearch_origin_is_scheme_host_and_port(value, expected):
    assert netguard.split_origin(value, 9200) == expected


@pytest.mark.parametrize("value", ["https://es.example.com/_search", "https://u:p@es.example.com",
                                   "https://es.example.com?x=1", "https://es.example.com#x", "ftp://es.example.com",
                                   "https://es.example.com:0", "https://es.example.com:x", "https://es/x/../",
                                   "https://es.example.com\n", "https://2130706433", "https://[::1"])
def test_an_elasticsearch_origin_with_more_is_refused(value):
    with pytest.raises(ValueError):
        netguard.split_origin(value, 9200)


@pytest.mark.parametrize("url", ["ftp://x", "http://", "http://u:p@h/", "http://h:99999/", "javascript:alert(1)",
                                 "http://2852039166/", "http://0x7f000001/", "http://127.1/"])
def test_urls_are_validated(url):
    with pytest.raises(ValueError):
        netguard.split_url(url)


# ----------------------------------------------------------------------------------------- addresses
PRIVATE = [
    "127.0.0.1", "127.255.255.254", "10.0.0.1", "172.16.5.5", "192.168.1.1", "100.64.0.1", "100.127.255.254",
    "198.18.0.1", "192.0.2.1", "240.0.0.1", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0",
    "fec0::1", "64:ff9b:1::808:808", "::ffff:127.0.0.1", "::ffff:7f00:1", "::7f00:1", "64:ff9b::a00:5",
    "64:ff9b:1::a00:5", "2002:7f00:1::", "2002:a00:5::1", "2001:0:4136:e378:8000:63bf:80ff:fffe",
]
NEVER = [
    # the metadata service, in every spelling that survives the form check
    "169.254.169.254", "::ffff:169.254.169.254", "::ffff:a9fe:a9fe", "::a9fe:a9fe", "64:ff9b::a9fe:a9fe",
    "64:ff9b::169.254.169.254", "2002:a9fe:a9fe::", "2002:a9fe:a9fe::1", "[::ffff:169.254.169.254]",
    # Teredo whose client address (bits inverted) is 169.254.169.254
    "2001:0:4136:e378:8000:63bf:5601:5601",
    "fd00:ec2::254", "fd00:ec2::23", "169.254.170.2", "169.254.170.23", "169.254.169.253", "100.100.100.200",
    "168.63.129.16", "192.0.0.192", "169.254.0.23",
    "0.0.0.0", "::", "[::]", "224.0.0.1", "ff02::1", "255.255.255.255",
]


@pytest.mark.parametrize("ip", PRIVATE)
def test_private_addresses_are_refused_naming_the_setting(ip):
    with pytest.raises(netguard.Blocked, match="TELLTALE_ALLOWED_NETWORKS"):
        check(ip)


@pytest.mark.parametrize("ip", NEVER)
def test_metadata_unspecified_and_multicast_are_never_allowed(ip):
    everything = Settings(allowed_networks=("0.0.0.0/0", "::/0"))
    with pytest.raises(netguard.Blocked, match="never allowed"):
        check(ip, settings=everything)


@pytest.mark.parametrize("name", ["metadata.google.internal", "metadata.google.internal.", "METADATA.goog",
                                  "instance-data"])
def test_metadata_host_names_are_never_allowed(name):
    with pytest.raises(netguard.Blocked, match="metadata"):
        check(name, settings=Settings(allowed_networks=(name.lower().rstrip("."),)))


@pytest.mark.parametrize("ip", ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808",
                                "2002:808:808::1", "1.1.1.1"])
def test_public_addresses_are_allowed(ip):
    assert check(ip) == netguard.parse_host(ip)


def test_the_error_says_what_the_name_resolves_to_and_how_to_allow_it(monkeypatch):
    fake_dns(monkeypatch, {"db.corp.example": ["10.0.0.5"]})
    with pytest.raises(netguard.Blocked) as info:
        check("db.corp.example")
    assert str(info.value) == ("db.corp.example resolves to 10.0.0.5, which is a private address; list its "
                               "network (or the host name) in TELLTALE_ALLOWED_NETWORKS to allow it")


def test_any_private_answer_disqualifies_a_name(monkeypatch):
    fake_dns(monkeypatch, {"mixed.example": ["8.8.8.8", "127.0.0.1"], "mixed6.example": ["2001:4860::1", "::1"],
                           "public.example": ["8.8.8.8", "1.1.1.1"]})
    with pytest.raises(netguard.Blocked, match=r"127\.0\.0\.1"):
        check("mixed.example")
    with pytest.raises(netguard.Blocked, match="::1"):
        check("mixed6.example")
    assert check("public.example") == "8.8.8.8"  # the first answer is the one connected to


def test_a_name_resolving_to_the_metadata_service_is_refused_even_when_the_name_is_listed(monkeypatch):
    fake_dns(monkeypatch, {"evil.example": ["169.254.169.254"], "rebind.example": ["8.8.8.8", "169.254.169.254"]})
    listed = Settings(allowed_networks=("evil.example", "rebind.example", "169.254.0.0/16"))
    for name in ("evil.example", "rebind.example"):
        with pytest.raises(netguard.Blocked, match="metadata"):
            check(name, settings=listed)


def test_localhost_and_trailing_dots_resolve_and_are_checked(monkeypatch):
    fake_dns(monkeypatch, {"localhost": ["127.0.0.1", "::1"]})
    for name in ("localhost", "localhost.", "LOCALHOST"):
        with pytest.raises(netguard.Blocked, match="loopback"):
            check(name)
        assert check(name, settings=LOOPBACK) == "127.0.0.1"


def test_an_idn_is_resolved_as_its_a_label(monkeypatch):
    fake_dns(monkeypatch, {"xn--bcher-kva.example": ["10.1.2.3"]})
    with pytest.raises(netguard.Blocked, match=r"xn--bcher-kva\.example resolves to 10\.1\.2\.3"):
        check("bücher.example")
    assert check("bücher.example", settings=Settings(allowed_networks=("10.1.0.0/16",))) == "10.1.2.3"


# ----------------------------------------------------------------------------------------- allow-list
def test_a_cidr_allows_only_its_own_addresses():
    corp = Settings(allowed_networks=("10.1.0.0/16", "fd00:1234::/32"))
    assert check("10.1.200.3", settings=corp) == "10.1.200.3"
    assert check("fd00:1234::5", settings=corp) == "fd00:1234::5"
    assert check("::ffff:10.1.0.9", settings=corp) == "::ffff:a01:9"  # the mapped form of an allowed address
    for ip in ("10.2.0.1", "127.0.0.1", "fd00:1235::1", "192.168.0.1"):
        with pytest.raises(netguard.Blocked):
            check(ip, settings=corp)


def test_a_listed_host_name_allows_its_private_answers_only(monkeypatch):
    fake_dns(monkeypatch, {"warehouse.internal": ["10.9.0.4"], "other.internal": ["10.9.0.5"]})
    listed = Settings(allowed_networks=("warehouse.internal",))
    assert check("warehouse.internal", settings=listed) == "10.9.0.4"
    assert check("WAREHOUSE.internal.", settings=listed) == "10.9.0.4"
    with pytest.raises(netguard.Blocked):
        check("other.internal", settings=listed)
    with pytest.raises(netguard.Blocked):
        check("10.9.0.4", settings=listed)  # the address itself is not listed


def test_loopback_allowed_as_make_dev_does():
    assert check("127.0.0.1", settings=LOOPBACK) == "127.0.0.1"
    assert check("::1", settings=LOOPBACK) == "::1"
    assert check("::ffff:127.0.0.1", settings=LOOPBACK) == "::ffff:7f00:1"
    with pytest.raises(netguard.Blocked):
        check("10.0.0.1", settings=LOOPBACK)


def test_redirects_are_checked_without_the_allow_list():
    with pytest.raises(netguard.Blocked) as info:
        netguard.outbound_address("127.0.0.1", 8080, settings=LOOPBACK, use_allow_list=False)
    assert "TELLTALE_ALLOWED_NETWORKS" not in str(info.value)


@pytest.mark.parametrize(("raw", "entries"), [
    ("", ()), ("10.0.0.0/8", ("10.0.0.0/8",)), (" 10.0.0.0/8 , fd00::/8 ", ("10.0.0.0/8", "fd00::/8")),
    ("10.0.0.5", ("10.0.0.5/32",)), ("::1", ("::1/128",)),
    ("DB.Internal., 192.168.0.0/24", ("db.internal", "192.168.0.0/24")),
    ("127.0.0.0/8,::1/128", ("127.0.0.0/8", "::1/128")),
])
def test_allowed_networks_setting_is_parsed(raw, entries):
    assert Settings.from_env({"TELLTALE_ALLOWED_NETWORKS": raw}).allowed_networks == entries


@pytest.mark.parametrize(("raw", "named"), [
    ("10.0.0.1/8", "10.0.0.0/8"), ("10.0.0.0/33", "10.0.0.0/33"), ("db.internal/x", "db.internal/x"),
    ("https://db.internal", "https://db.internal"), ("db@internal", "db@internal"), ("10.0.0.0/8,0x7f.1", "0x7f.1"),
    ("db.internal:5432", "db.internal:5432"),
])
def test_a_bad_allowed_networks_entry_is_a_settings_error_naming_it(raw, named):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"TELLTALE_ALLOWED_NETWORKS": raw})
    assert "TELLTALE_ALLOWED_NETWORKS" in str(info.value) and named in str(info.value)


# ------------------------------------------------------------------------------- the platform's own
def test_the_platform_database_endpoint_is_never_allowed(monkeypatch):
    platform = Settings(db_host="127.0.0.1", db_port=5432, allowed_networks=("0.0.0.0/0", "::/0"))
    for host in ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1", "localhost"):
        fake_dns(monkeypatch, {"localhost": ["127.0.0.1"]})
        with pytest.raises(netguard.Blocked, match="platform's own database"):
            netguard.outbound_address(host, 5432, settings=platform)
    assert netguard.outbound_address("127.0.0.1", 5433, settings=platform) == "127.0.0.1"  # another port


def test_the_platform_database_is_recognised_by_address_under_any_name(monkeypatch):
    fake_dns(monkeypatch, {"db.rds.internal": ["10.0.3.7"], "alias.example": ["10.0.3.7"]})
    deployed = Settings(db_host="db.rds.internal", db_port=5432, allowed_networks=("10.0.0.0/16",))
    with pytest.raises(netguard.Blocked, match="platform's own database"):
        netguard.outbound_address("alias.example", 5432, settings=deployed)
    with pytest.raises(netguard.Blocked, match="platform's own database"):
        netguard.outbound_address("10.0.3.7", 5432, settings=deployed)
    assert netguard.outbound_address("10.0.3.8", 5432, settings=deployed) == "10.0.3.8"  # the VPC's other DB


def test_the_lambda_runtime_api_is_never_allowed():
    # Lambda's own variable, read by Settings with the rest of the environment.
    in_lambda = Settings.from_env({"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
                                   "TELLTALE_ALLOWED_NETWORKS": ",".join(LOOPBACK.allowed_networks)})
    with pytest.raises(netguard.Blocked, match="runtime API"):
        netguard.outbound_address("127.0.0.1", 9001, settings=in_lambda)
    assert netguard.outbound_address("127.0.0.1", 9001, settings=LOOPBACK) == "127.0.0.1"  # outside Lambda


# ----------------------------------------------------------------------------------------- resolving
def test_an_unresolvable_name_is_unresolvable_with_its_name():
    with pytest.raises(netguard.Unresolvable, match=r"nonexistent\.invalid"):
        check("nonexistent.invalid")


def test_a_slow_dns_answer_is_bounded_by_the_timeout(monkeypatch):
    import time

    def slow(*args, **kwargs):
        time.sleep(2)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 80))]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", slow)
    started = time.perf_counter()
    with pytest.raises(netguard.Unresolvable, match=r"took longer than 0\.3s"):
        netguard.outbound_address("slow.example", 80, settings=NOTHING, timeout=0.3)
    assert time.perf_counter() - started < 1.5  # not the 2 s the answer takes


def test_an_ip_literal_never_reaches_the_resolver(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("resolver called")

    monkeypatch.setattr(netguard.socket, "getaddrinfo", fail)
    assert check("8.8.8.8") == "8.8.8.8"


@pytest.mark.parametrize("port", [99999999999999999999, -1, 0, 65536])
def test_an_impossible_port_is_blocked_not_raised(port):
    with pytest.raises(netguard.Blocked, match="port"):
        netguard.outbound_address("8.8.8.8", port, settings=NOTHING)


def test_connect_pins_the_checked_address(monkeypatch):
    """The socket goes to the address the check saw, not to a second answer of the name (rebinding)."""
    answers = iter([["8.8.8.8"], ["127.0.0.1"]])

    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]

    connected: list[tuple[str, int]] = []

    def create_connection(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError

    monkeypatch.setattr(netguard.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(netguard.socket, "create_connection", create_connection)
    with pytest.raises(ConnectionRefusedError):
        netguard.connect("rebind.example", 5432, 1.0)
    assert connected == [("8.8.8.8", 5432)]
