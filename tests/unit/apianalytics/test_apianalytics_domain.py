"""Pure parts of the API analytics domain: filter parsing, enrichment, privacy on ingest, URL checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from telltale.apianalytics import enrich, ingest, pinger, query
from telltale.apianalytics.keys import ApiKey
from telltale.apianalytics.stores.base import Queries
from telltale.apianalytics.stores.clickhouse import ClickHouseDialect
from telltale.apianalytics.stores.postgres import PostgresDialect
from telltale.platform import scoped


def test_filters_parse_and_name_every_bad_parameter():
    f = query.require_valid(query.parse_filters({"page": "3", "dateFrom": "2026-01-01", "dateTo": "2026-01-31",
                                                 "hostname": "h", "ipAddress": "::1", "status": "404",
                                                 "location": "gb", "user_id": "u"}))
    assert (f.page, f.date_from, f.date_to, f.location, f.status) == (3, dt.date(2026, 1, 1), dt.date(2026, 1, 31),
                                                                       "GB", 404)
    bad = query.parse_filters({"page": "-1", "date": "2026-02-30", "status": "abc", "ipAddress": "x",
                               "location": "G"})
    assert set(bad.errors) == {"page", "date", "status", "ipAddress", "location"}
    with pytest.raises(Exception, match="invalid query parameters"):
        query.require_valid(bad)


def test_date_narrows_a_range():
    f = query.parse_filters({"date": "2026-03-05", "dateFrom": "2026-03-01"})
    assert f.date_from == f.date_to == dt.date(2026, 3, 5)
    pg = PostgresDialect()
    where, params = Queries(pg, lambda sql, p: []).where(ApiKey(id="k", tenant_id="t"), f, pg.raw())
    # The key first, always; the tenant comes first of all, from the scope every read of the table goes through.
    assert where.startswith("api_key_id = CAST(:key AS uuid) AND ") and params["key"] == "k"
    assert params["t1"] - params["t0"] == dt.timedelta(days=1)  # the whole day, half-open
    sent = scoped.rewrite(f"SELECT * FROM platform.api_requests WHERE {where}")
    assert sent.startswith("SELECT * FROM (SELECT * FROM platform.api_requests WHERE tenant_id = :tenant_id)")
    # ClickHouse has no scope rewriter: its statements name the tenant themselves.
    ch = ClickHouseDialect()
    where, params = Queries(ch, lambda sql, p: []).where(ApiKey(id="k", tenant_id="t"), f, ch.rollup())
    assert where.startswith("tenant_id = {tenant:String} AND api_key_id = {key:String} AND hour >= ")
    assert (params["tenant"], params["key"]) == ("t", "k")


def test_the_rollups_buckets_are_the_dashboards():
    from telltale.apianalytics.stores.base import RESPONSE_BUCKETS, ROLLUP_DIMENSIONS
    from telltale.events.stores import clickhouse_schema

    assert clickhouse_schema.ROLLUP_BUCKETS == RESPONSE_BUCKETS
    assert clickhouse_schema.ROLLUP_DIMENSIONS.split(", ")[3:] == list(ROLLUP_DIMENSIONS)


def test_a_cursor_survives_its_round_trip_and_a_forged_one_is_a_400():
    from telltale.apianalytics.stores.base import Cursor
    from telltale.platform.errors import ValidationError

    c = Cursor(dt.datetime(2026, 3, 5, 1, 2, 3, 456789, tzinfo=dt.UTC), 2**100 + 7)
    assert Cursor.decode(c.encode()) == c
    for forged in ("", "x", "bm90IGpzb24", c.encode()[:-2] + "!!", "WyIyMDI2LTAzLTA1IiwiLTEiXQ"):
        with pytest.raises(ValidationError, match="cursor"):
            Cursor.decode(forged)


def test_enrichment_offline():
    assert enrich.country("81.2.69.142") == "GB"
    assert enrich.country("127.0.0.1") is None and enrich.country("10.1.2.3") is None and enrich.country("x") is None
    assert enrich.browser_and_os("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0") == (
        "Firefox", "Linux")
    assert enrich.browser_and_os(None) == (None, None)


@pytest.mark.parametrize(("level", "ip", "location"), [(0, "8.8.8.8", "US"), (1, None, "US"), (2, None, None)])
def test_privacy_levels_applied_server_side(level, ip, location):
    batch = ingest.RequestBatch.model_validate({"privacy_level": level, "requests": [
        {"path": "/", "method": "get", "status": 200, "response_time": 3,
         "created_at": dt.datetime.now(dt.UTC).isoformat(), "ip_address": "8.8.8.8"}]})
    [row] = ingest.rows_for(batch)
    assert (row["ip_address"], row["location"], row["method"]) == (ip, location, "GET")


def test_a_check_never_reaches_the_metadata_endpoint():
    result = pinger.check("http://169.254.169.254/latest/meta-data/", timeout=1)
    assert not result.up and "metadata" in (result.error or "")


def test_forwarded_for_lists_and_custom_methods_are_accepted():
    batch = ingest.RequestBatch.model_validate({"requests": [
        {"path": "/dav", "method": "propfind", "status": 207, "response_time": 3,
         "created_at": dt.datetime.now(dt.UTC).isoformat(), "ip_address": "81.2.69.142, 10.0.0.1"}]})
    [row] = ingest.rows_for(batch)
    assert (row["method"], row["ip_address"], row["location"]) == ("PROPFIND", "81.2.69.142", "GB")


@pytest.mark.parametrize("sent", ["::ffff:81.2.69.142", "::FFFF:5102:458E",
                                  "81.2.69.142, " + ", ".join(["10.0.0.1"] * 40)])
def test_ipv4_mapped_addresses_and_long_forwarded_lists_keep_the_client_and_its_country(sent):
    batch = ingest.RequestBatch.model_validate({"requests": [
        {"path": "/", "method": "GET", "status": 200, "response_time": 1,
         "created_at": dt.datetime.now(dt.UTC).isoformat(), "ip_address": sent}]})
    [row] = ingest.rows_for(batch)
    assert (row["ip_address"], row["location"]) == ("81.2.69.142", "GB")


def test_the_client_sends_an_ipv4_mapped_address_as_ipv4():
    from telltale_client.core import _ip_or_none

    assert _ip_or_none("::ffff:81.2.69.142") == "81.2.69.142"
    assert _ip_or_none("2001:DB8::1") == "2001:db8::1"


def test_the_client_cuts_values_to_the_api_limits():
    from telltale_client.core import Config, record_from, to_wire

    config = Config(server_url="http://127.0.0.1:9")
    config.get_user_id = lambda request: "u" * 1000
    wire = to_wire(record_from(config, None, started=0.0, method="get", status=200, elapsed_ms=1.6,
                               path="/p" * 3000, hostname="h" * 300, user_agent="a" * 5000,
                               ip_of=lambda r: "1.2.3.4"))
    assert (len(wire["path"]), len(wire["hostname"]), len(wire["user_agent"]), len(wire["user_id"])) == (
        2048, 255, 1024, 255)
    assert wire["created_at"] == "1970-01-01T00:00:00.000000+00:00" and wire["response_time"] == 2
    now = dt.datetime.now(dt.UTC).timestamp()
    wire = to_wire(record_from(config, None, started=now, method="get", status=200, elapsed_ms=1.6,
                               path="/p" * 3000, hostname="h" * 300, user_agent="a" * 5000,
                               ip_of=lambda r: "1.2.3.4"))
    record = ingest.RequestRecord.model_validate(wire)  # what the client sends, the API accepts
    assert abs(record.created_at.timestamp() - now) < 1e-3


def _drip_server(line_every: float, lines: int) -> tuple[str, Any]:
    """A server that answers with a status line, then one header line every ``line_every`` seconds: each
    read finishes well inside any per-read timeout, the response never does."""
    import socket
    import threading
    import time

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            try:
                conn.recv(4096)
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                for i in range(lines):
                    time.sleep(line_every)
                    conn.sendall(f"X-Drip-{i}: .\r\n".encode())
                conn.sendall(b"Content-Length: 0\r\n\r\n")
            except OSError:
                pass
            finally:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{srv.getsockname()[1]}/", srv


def test_a_check_timeout_is_a_deadline_for_the_whole_response():
    import time

    url, srv = _drip_server(0.3, 20)  # 6 s in all, 0.3 s per line
    try:
        started = time.perf_counter()
        result = pinger.check(url, timeout=1.0)
        took = time.perf_counter() - started
    finally:
        srv.close()
    assert not result.up and "timed out" in (result.error or "")
    assert took < 1.5, took


def test_the_dashboard_offers_every_monitor_interval_the_api_accepts():
    import re
    from pathlib import Path

    from telltale.apianalytics.monitors import INTERVALS

    page = (Path(__file__).resolve().parents[3] / "functions" / "dashboard" / "static" / "index.html").read_text()
    select = page[page.index('id="monitor-interval"'):]
    select = select[:select.index("</select>")]
    assert tuple(int(v) for v in re.findall(r'value="(\d+)"', select)) == INTERVALS
