"""The chdb-backed ClickHouse test server speaks enough of the HTTP protocol for clickhouse-connect."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import requests
from servers_clickhouse import ClickHouseServer, start_clickhouse_server


def test_clickhouse_connect_roundtrip(clickhouse_server: ClickHouseServer) -> None:
    client = clickhouse_server.client()
    db = "t_" + uuid.uuid4().hex[:8]
    client.command(f"CREATE DATABASE {db}")
    client.command(f"CREATE TABLE {db}.ev (id String, n UInt32, ts DateTime64(3, 'UTC'), a Map(String, String))"
                   " ENGINE = ReplacingMergeTree ORDER BY id")
    rows: list[list[Any]] = [["a", 1, dt.datetime(2026, 1, 1), {"k": "v"}], ["b", 2, dt.datetime(2026, 1, 2), {}]]
    client.insert("ev", rows, column_names=["id", "n", "ts", "a"], database=db)
    client.insert("ev", rows[:1], column_names=["id", "n", "ts", "a"], database=db)
    # ReplacingMergeTree + FINAL: the replayed row counts once.
    result = client.query(f"SELECT id, sum(n) FROM {db}.ev FINAL GROUP BY id ORDER BY id")
    assert result.result_rows == [("a", 1), ("b", 2)]
    assert client.query("SELECT {x:String}", parameters={"x": "it's"}).result_rows == [("it's",)]
    assert client.query("SELECT %(y)s", parameters={"y": "o'k"}).result_rows == [("o'k",)]
    assert client.query(f"SELECT count() FROM {db}.ev", settings={"max_threads": 1}).result_rows == [(3,)]
    ro = clickhouse_server.client(database=db, settings={"readonly": 1})
    assert ro.query("SELECT count() FROM ev").result_rows == [(3,)]
    with pytest.raises(Exception, match="164"):
        ro.command("DROP TABLE ev")
    with pytest.raises(Exception, match=r"UNKNOWN_TABLE|60"):
        client.query("SELECT * FROM nowhere_" + uuid.uuid4().hex[:6])


@pytest.mark.parametrize("compression", ["lz4", "gzip"])  # lz4: what clickhouse-connect sends by default
def test_an_insert_of_many_blocks_arrives_whole(clickhouse_server: ClickHouseServer, compression: str) -> None:
    # clickhouse-connect sends a big insert as several blocks, each its own compressed frame: the server
    # once read the first frame only and kept 16,384 of 20,000 rows, while the insert reported success.
    client = clickhouse_server.client(compress=compression)
    db = "t_" + uuid.uuid4().hex[:8]
    client.command(f"CREATE DATABASE {db}")
    client.command(f"CREATE TABLE {db}.wide (n UInt32, s String) ENGINE = MergeTree ORDER BY n")
    client.insert("wide", [[i, f"row {i} " + "x" * 200] for i in range(50_000)], column_names=["n", "s"], database=db)
    assert client.query(f"SELECT count(), sum(n) FROM {db}.wide").result_rows == [(50_000, sum(range(50_000)))]


def test_plain_http_and_auth(tmp_path: Any) -> None:
    host, port, stop = start_clickhouse_server(tmp_path, user="u", password="p")
    try:
        url = f"http://{host}:{port}/"
        assert requests.get(url + "ping", timeout=10).text == "Ok.\n"
        bad = requests.post(url, data="SELECT 1", auth=("u", "wrong"), timeout=10)
        assert bad.status_code == 401 and bad.headers["X-ClickHouse-Exception-Code"] == "516"
        ok = requests.post(url + "?default_format=JSONEachRow", data="SELECT 1 AS x", auth=("u", "p"), timeout=10)
        assert ok.status_code == 200 and ok.json() == {"x": 1}
    finally:
        stop()
