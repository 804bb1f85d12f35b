"""The query connectors and the outbound policy, against real servers: a secret aimed at something that is
not its database learns only a fixed category of failure, never a byte the remote sent; a refused target
is never contacted at all; a failure to connect says which category it is."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from queries_servers import _free_port

from telltale.connectors.base import Limits, Prepared
from telltale.platform.errors import ConnectorError, OutboundBlocked

MARKER = "INTERNAL-ONLY-7f3a9c reply body of an internal service"
REPLY = ("HTTP/1.1 400 Bad Request\r\nServer: internal-admin\r\nContent-Type: text/plain\r\n"
         f"X-Internal-Token: {MARKER}\r\nContent-Length: {len(MARKER)}\r\nConnection: close\r\n\r\n{MARKER}")


def _pg_error(message: str) -> bytes:
    """A PostgreSQL ErrorResponse whose message is ``message``: what a reflecting service could send."""
    import struct

    fields = b"SFATAL\0C28000\0M" + message.encode() + b"\0\0"
    return b"E" + struct.pack("!i", len(fields) + 4) + fields


def _mysql_error(message: str) -> bytes:
    """A MySQL ERR packet (errno 1045) whose message is ``message``."""
    payload = b"\xff" + (1045).to_bytes(2, "little") + b"#28000" + message.encode()
    return len(payload).to_bytes(3, "little") + b"\0" + payload


REPLIES = {"http": REPLY.encode(), "pg": _pg_error(MARKER), "mysql": _mysql_error(MARKER)}


class HttpEcho:
    """A tiny HTTP server as an internal service would run one: whatever arrives (a PostgreSQL startup
    packet, a MySQL client waiting for a greeting, an HTTP request) gets a 400 reply whose headers and body
    carry MARKER, and the connection is closed. ``connections`` counts who came. ``mode`` "pg" or "mysql"
    frames MARKER as that protocol's error message instead: the drivers then quote it, as they quote a
    real server's error, which is what the connectors must not pass on."""

    def __init__(self, mode: str = "http") -> None:
        self.connections = 0
        self.mode = mode
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                outer.connections += 1
                self.request.settimeout(0.3)
                with contextlib.suppress(OSError):  # a client that talks second (MySQL) gets the reply anyway
                    self.request.recv(65536)
                self.request.sendall(REPLIES[outer.mode])

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True, name="http-echo").start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_echo() -> Iterator[HttpEcho]:
    server = HttpEcho()
    try:
        yield server
    finally:
        server.stop()


def sql_config(port: int, **extra: Any) -> dict[str, Any]:
    return {"host": "127.0.0.1", "port": port, "database": "analytics", "username": "reader",
            "password": "pw-3c1d9", "ssl": False, "connect_timeout": 2, "statement_timeout": 2,
            "secure": False, **extra}


def run(driver: str, config: dict[str, Any]) -> Any:
    from telltale.connectors import load

    prepared = Prepared(text="SELECT 1", config=config, body={"query": {"match_all": {}}})
    return load(driver).execute(prepared, Limits(max_rows=10, statement_timeout_s=3, connect_timeout_s=3))


DRIVERS = ["postgres", "redshift", "mysql", "clickhouse"]


@pytest.mark.parametrize(("driver", "mode"), [(d, "http") for d in DRIVERS] + [
    ("postgres", "pg"), ("redshift", "pg"), ("mysql", "mysql")])
def test_a_sql_secret_aimed_at_an_http_server_learns_nothing_it_sent(driver, mode, http_echo):
    http_echo.mode = mode
    with pytest.raises(ConnectorError) as info:
        run(driver, sql_config(http_echo.port))
    body = str(info.value.to_body())
    assert http_echo.connections >= 1  # it really went there
    assert "INTERNAL-ONLY" not in body and "internal-admin" not in body and "Bad Request" not in body, body
    assert "400" not in body and "pw-3c1d9" not in body, body
    assert info.value.status_code == 502 and info.value.details["category"] in (
        "protocol error", "timed out", "authentication failed"), body


def test_an_elasticsearch_secret_aimed_at_an_http_server_learns_nothing_it_sent(http_echo):
    with pytest.raises(Exception) as info:
        run("elasticsearch", {"host": f"http://127.0.0.1:{http_echo.port}", "index": "logs", "request_timeout": 2})
    assert "INTERNAL-ONLY" not in str(getattr(info.value, "to_body", lambda: info.value)())


@pytest.mark.parametrize("driver", [*DRIVERS, "elasticsearch"])
def test_a_refused_target_is_never_contacted(driver, http_echo, allowed_networks):
    allowed_networks("")  # deployed: loopback is not on the list
    config = sql_config(http_echo.port)
    if driver == "elasticsearch":
        config = {"host": f"http://127.0.0.1:{http_echo.port}", "index": "logs"}
    with pytest.raises(OutboundBlocked) as info:
        run(driver, config)
    assert info.value.status_code == 403 and "TELLTALE_ALLOWED_NETWORKS" in info.value.message
    assert info.value.details == {"category": "not allowed", "setting": "TELLTALE_ALLOWED_NETWORKS"}
    assert http_echo.connections == 0  # not one packet reached it


@pytest.mark.parametrize("driver", [*DRIVERS, "elasticsearch"])
def test_the_metadata_service_is_refused_before_any_packet(driver):
    config = sql_config(80, host="169.254.169.254")
    if driver == "elasticsearch":
        config = {"host": "http://169.254.169.254", "index": "logs"}
    with pytest.raises(OutboundBlocked, match="metadata"):
        run(driver, config)


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_closed_port_is_refused_by_category(driver):
    with pytest.raises(ConnectorError) as info:
        run(driver, sql_config(_free_port()))
    assert info.value.details == {"category": "refused"}
    assert "connection was refused" in info.value.message


def test_a_silent_server_is_a_timeout():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts the TCP connection, never says a word
        with pytest.raises(ConnectorError) as info:
            run("postgres", sql_config(listener.getsockname()[1], connect_timeout=1))
    assert info.value.details == {"category": "timed out"}


def test_a_wrong_password_is_authentication_failed(external_pg, mariadb):
    with pytest.raises(ConnectorError) as info:
        run("postgres", external_pg.secret(password="wrong-9f8e", connect_timeout=2))
    assert info.value.details == {"category": "authentication failed"} and "wrong-9f8e" not in info.value.message
    with pytest.raises(ConnectorError) as info:
        run("mysql", mariadb.secret(password="wrong-9f8e", connect_timeout=2))
    assert info.value.details == {"category": "authentication failed"}


def test_tls_asked_of_a_server_without_it_is_a_tls_failure(external_pg):
    with pytest.raises(ConnectorError) as info:
        run("postgres", external_pg.secret(ssl=True, connect_timeout=2))
    assert info.value.details["category"] in ("TLS failure", "protocol error")


def test_an_allowed_loopback_server_works_and_tls_names_the_host(external_pg):
    result = run("postgres", external_pg.secret())
    assert result.rows == [{"?column?": 1}]


def test_the_platform_database_is_refused_even_with_loopback_allowed(local_stack):
    from telltale.platform.config import get_settings

    settings = get_settings()
    with pytest.raises(OutboundBlocked, match="platform's own database"):
        run("postgres", sql_config(settings.db_port, username="telltale", database="telltale"))
