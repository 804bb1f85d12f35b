"""Each connector against a real server (see tests/queries_servers.py for what each server is and the
Elasticsearch limit): row caps with ``truncated``, statement timeouts, read-only sessions, TLS when the
secret asks for it, column types, and errors that are typed and carry no secret."""

from __future__ import annotations

import time
from typing import Any

import pytest
from queries_servers import CH_DB, start_es_replay

from telltale.connectors import load
from telltale.connectors.base import Limits, Prepared
from telltale.platform.errors import ConnectorError, QueryExecutionError

pytestmark = pytest.mark.integration


def run(driver: str, config: dict[str, Any], text: str = "", *, max_rows: int = 100, timeout: int = 10,
        body: dict[str, Any] | None = None) -> Any:
    return load(driver).execute(Prepared(text=text, config=config, body=body),
                                Limits(max_rows=max_rows, statement_timeout_s=timeout, connect_timeout_s=5))


def ch_config(clickhouse: Any, **extra: Any) -> dict[str, Any]:
    return {"host": clickhouse.host, "port": clickhouse.port, "database": CH_DB, "username": "default",
            "password": "", "secure": False, **extra}


# ---------------------------------------------------------------------------------------------- PostgreSQL
def test_postgres_rows_columns_and_cap(external_pg):
    result = run("postgres", external_pg.secret(), "SELECT * FROM orders ORDER BY id", max_rows=3)
    assert len(result.rows) == 3 and result.truncated is True
    assert [c["name"] for c in result.columns] == ["id", "created_at", "total_amount", "status", "meta"]
    assert [c["type"] for c in result.columns] == ["integer", "timestamp", "numeric", "text", "jsonb"]
    assert result.rows[0]["meta"] == {"channel": "web", "n": 1}
    exact = run("postgres", external_pg.secret(), "SELECT * FROM orders", max_rows=5)
    assert len(exact.rows) == 5 and exact.truncated is False


def test_postgres_session_is_read_only_with_a_timeout(external_pg):
    result = run("postgres", external_pg.secret(statement_timeout=1),
                 "SELECT current_setting('transaction_read_only') AS ro, current_setting('statement_timeout') AS t")
    assert result.rows == [{"ro": "on", "t": "1s"}]
    t0 = time.monotonic()
    with pytest.raises(QueryExecutionError) as info:
        run("postgres", external_pg.secret(statement_timeout=1), "SELECT pg_sleep(5)")
    assert "statement timeout" in info.value.message and time.monotonic() - t0 < 4


def test_postgres_connection_failures_are_connector_errors(external_pg):
    with pytest.raises(ConnectorError) as cinfo:
        run("postgres", external_pg.secret(ssl=True), "SELECT 1")  # the embedded server has no TLS
    assert external_pg.password not in str(cinfo.value.to_body())
    with pytest.raises(ConnectorError) as cinfo:
        run("postgres", external_pg.secret(database="no_such_db"), "SELECT 1")
    assert "no_such_db" in cinfo.value.message and external_pg.password not in cinfo.value.message


def test_redshift_uses_tls_by_default_and_a_read_only_session(external_pg):
    from telltale.secrets.types import validate_value

    value = validate_value("analytics-redshift", {k: v for k, v in external_pg.secret().items() if k != "ssl"})
    assert value["ssl"] is True
    with pytest.raises(ConnectorError):
        run("redshift", {**value, "port": external_pg.port}, "SELECT 1")  # TLS asked, server without it
    result = run("redshift", {**value, "port": external_pg.port, "ssl": False},
                 "SELECT current_setting('transaction_read_only') AS ro")
    assert result.rows == [{"ro": "on"}]


# ---------------------------------------------------------------------------------------------- MariaDB
def test_mysql_rows_columns_cap_and_read_only(mariadb):
    result = run("mysql", mariadb.secret(), "SELECT id, total_amount, created_at, status FROM orders ORDER BY id",
                 max_rows=2)
    assert len(result.rows) == 2 and result.truncated is True
    assert [c["type"] for c in result.columns] == ["int", "decimal", "datetime", "varchar"]
    ro = run("mysql", mariadb.secret(), "SELECT @@session.tx_read_only AS ro, @@session.max_statement_time AS t")
    assert ro.rows[0]["ro"] == 1 and float(ro.rows[0]["t"]) == 10
    with pytest.raises(QueryExecutionError) as info:
        run("mysql", mariadb.secret(), "INSERT INTO guard_canary VALUES (5, 'x')")
    assert "READ ONLY" in info.value.message.upper()


def test_mysql_timeout_and_connection_errors(mariadb):
    t0 = time.monotonic()
    with pytest.raises(QueryExecutionError) as info:
        run("mysql", mariadb.secret(), "SELECT COUNT(*) FROM sales a, sales b, sales c, sales d, sales e, sales f,"
            " sales g, sales h, sales i, sales j, sales k, sales l, sales m, sales n, sales o, sales p", timeout=1)
    assert "max_statement_time" in info.value.message or "interrupted" in info.value.message
    assert time.monotonic() - t0 < 5
    with pytest.raises(ConnectorError) as cinfo:
        run("mysql", mariadb.secret(password="wrong-password"), "SELECT 1")
    assert "wrong-password" not in str(cinfo.value.to_body()) and mariadb.password not in str(cinfo.value.to_body())
    with pytest.raises(ConnectorError):
        run("mysql", mariadb.secret(ssl=True), "SELECT 1")  # the private server has no TLS


# ---------------------------------------------------------------------------------------------- ClickHouse
def test_clickhouse_rows_cap_and_types(clickhouse):
    result = run("clickhouse", ch_config(clickhouse), "SELECT number AS n, toString(number) AS s FROM numbers(50)",
                 max_rows=10)
    assert len(result.rows) == 10 and result.truncated is True
    assert [c["type"] for c in result.columns] == ["UInt64", "String"]
    full = run("clickhouse", ch_config(clickhouse), "SELECT event_type, count() AS c FROM events GROUP BY 1 ORDER BY 1")
    assert full.rows == [{"event_type": "click", "c": 9}, {"event_type": "view", "c": 6}] and not full.truncated


def test_clickhouse_is_read_only_and_honours_secure(clickhouse):
    with pytest.raises(QueryExecutionError) as info:
        run("clickhouse", ch_config(clickhouse), "INSERT INTO guard_canary VALUES (7, 'x')")
    assert "readonly" in info.value.message.lower()
    with pytest.raises(ConnectorError):
        run("clickhouse", ch_config(clickhouse, secure=True), "SELECT 1")  # HTTPS asked of an HTTP server
    with pytest.raises(ConnectorError) as cinfo:
        run("clickhouse", ch_config(clickhouse, password="wrong-pass"), "SELECT 1")
    assert "wrong-pass" not in str(cinfo.value.to_body())


# ---------------------------------------------------------------------------------------------- Elasticsearch
def test_elasticsearch_search_only_on_the_secrets_index(es_replay):
    before = len(es_replay.requests)
    result = run("elasticsearch", es_replay.secret(max_result_rows=2, api_key="k-123", username=None,
                                                    headers={"X-Trace": "t-1"}),
                 body={"query": {"match_all": {}}, "size": 500})
    sent = es_replay.requests[before:]
    assert [r["path"].split("?")[0] for r in sent] == ["/logs-*/_search"]
    assert sent[0]["body"]["size"] == 2 and sent[0]["body"]["track_total_hits"] is True
    headers = {k.lower(): v for k, v in sent[0]["headers"].items()}
    assert headers["authorization"] == "ApiKey k-123" and headers["x-trace"] == "t-1"
    # The recorded reply holds 3 hits (more than the cap asked for): all are shaped, and truncated is set.
    assert result.truncated is True
    assert result.rows[0]["_id"] == "a1" and result.rows[0]["address.city"] == "London"
    assert {c["name"]: c["type"] for c in result.columns}["order_total"] == "double"
    assert result.extra["aggregations"]["by_status"][1] == {"key": "pending", "doc_count": 1, "revenue": 42.0}
    assert result.extra["hits_total"] == 3


def test_elasticsearch_errors_are_typed():
    server, stop = start_es_replay()
    try:
        server.replies[r"/logs-\*/_search"] = (400, {"error": {"type": "parsing_exception",
                                                               "reason": "unknown query [bogus]"}, "status": 400})
        with pytest.raises(QueryExecutionError) as info:
            run("elasticsearch", server.secret(), body={"query": {"bogus": {}}})
        assert "unknown query [bogus]" in info.value.message
        server.replies[r"/logs-\*/_search"] = (401, {"error": {"type": "security_exception",
                                                               "reason": "unable to authenticate"}, "status": 401})
        with pytest.raises(ConnectorError) as cinfo:
            run("elasticsearch", server.secret(), body={"query": {"match_all": {}}})
        assert "s3cr3t-es-pass" not in str(cinfo.value.to_body())
    finally:
        stop()
    with pytest.raises(ConnectorError):
        run("elasticsearch", server.secret(), body={"query": {"match_all": {}}})  # nothing listens any more


def test_connections_send_each_message_at_once(platform_db, external_pg):
    """TCP_NODELAY on the platform connection and on the query connectors' (as libpq sets it): without it
    a COPY or a statement longer than one segment waits ~40 ms for the server's delayed ACK."""
    import socket

    from telltale.connectors.base import Limits
    from telltale.connectors.postgres import connect

    external = connect(external_pg.secret(), Limits(), what="PostgreSQL")
    try:
        for conn in (platform_db.connection(), external):
            assert conn._usock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        external.close()
