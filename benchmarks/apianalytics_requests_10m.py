"""The API request log over 10 million rows, on PostgreSQL and on ClickHouse (chdb behind the HTTP protocol):
the data API's last page against its first, and /api/stats against PostgreSQL's raw scan.

    .venv/bin/python benchmarks/apianalytics_requests_10m.py [--rows 10000000] [--runs 3]

A local stack (its own temp folder, no workers) serves the API; a key of tenant "bench" logs to PostgreSQL
and one of tenant "benchch" to ClickHouse (TELLTALE_CLICKHOUSE_REQUEST_TENANTS). The rows are generated
inside each database over 180 days; PostgreSQL's rollups are built by the statement migration 0402 uses
for existing rows, ClickHouse's by its materialized view. Targets (issue 13): the last page <= 1.5x the
first; /api/stats on ClickHouse <= 0.1x the raw scan on PostgreSQL.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import requests
from events_common import ROOT, stack_with_clickhouse  # puts the layer, local/ and tests/ on sys.path
from harness import timed

PAGE = 50_000
# One address for every row, so that a filter on it (which the rollups do not carry) asks the raw rows
# the very question the rollups answer: the raw scan the rollups replace.
IP = "81.2.69.142"
PG_LOAD = f"""
INSERT INTO platform.api_requests (tenant_id, api_key_id, created_at, hostname, ip_address, path, method, status,
                                   response_time, browser, os, location, user_id, framework)
SELECT 'bench', CAST(:k AS uuid), timestamptz '2026-06-01' + ((g * 7919) % 15552000) * interval '1 second',
       (ARRAY['api.example.com', 'b.example'])[1 + g % 2], '{IP}',
       '/v' || (1 + g % 3) || '/items/' || (g % 40), (ARRAY['GET', 'GET', 'POST', 'DELETE'])[1 + g % 4],
       (ARRAY[200, 200, 201, 304, 404, 500])[1 + g % 6], (g * 37) % 3000,
       (ARRAY['Chrome', 'Firefox', NULL])[1 + g % 3], (ARRAY['Windows', 'Linux', 'iOS'])[1 + g % 3], 'GB',
       'u' || (g % 5000), 'FastAPI'
FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) g
"""
CH_LOAD = f"""
INSERT INTO {{db}}.api_requests (tenant_id, api_key_id, id, created_at, hostname, ip_address, path, method, status,
                                 response_time, browser, os, location, user_id, framework)
SELECT 'benchch', {{{{key:String}}}}, toUInt128(number),
       toDateTime64('2026-06-01 00:00:00', 6, 'UTC') + toIntervalSecond((number * 7919) % 15552000),
       ['api.example.com', 'b.example'][1 + number % 2], '{IP}',
       concat('/v', toString(1 + number % 3), '/items/', toString(number % 40)),
       ['GET', 'GET', 'POST', 'DELETE'][1 + number % 4], [200, 200, 201, 304, 404, 500][1 + number % 6],
       (number * 37) % 3000, [toNullable('Chrome'), 'Firefox', NULL][1 + number % 3],
       ['Windows', 'Linux', 'iOS'][1 + number % 3], 'GB', concat('u', toString(number % 5000)), 'FastAPI'
FROM numbers({{offset}}, {{n}})
"""


def _backfill_sql() -> str:
    """The statement migration 0402 builds rollups of existing rows with (one definition of a rollup)."""
    text = (Path(ROOT) / "layers/common/python/telltale/platform/migrations/0402_apianalytics_rollups.sql").read_text()
    return text.split("-- What is logged already.", 1)[1].strip().rstrip(";")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    db = "telltale_requests_bench"
    routed = {"TELLTALE_CLICKHOUSE_REQUEST_TENANTS": "benchch"}
    with stack_with_clickhouse("requests-10m-", db, **routed) as (stack, ch_host, ch_port):
        from telltale_local import tokens

        session = requests.Session()
        from telltale.events.stores.clickhouse import clickhouse_client
        from telltale.platform import db as pgdb

        def new_key(tenant: str) -> tuple[str, str]:
            token = tokens.mint(stack.data_dir, tenant=tenant, user="bench")
            r = session.post(stack.url + "/api/keys", json={"name": "bench"},
                             headers={"Authorization": f"Bearer {token}"}, timeout=60)
            assert r.status_code == 201, r.text
            return r.json()["data"]["api_key"], r.json()["data"]["id"]

        pg_key, pg_id = new_key("bench")
        ch_key, ch_id = new_key("benchch")
        t = time.perf_counter()
        clickhouse_client()  # applies the migrations
        import clickhouse_connect

        loader = clickhouse_connect.get_client(host=ch_host, port=ch_port, send_receive_timeout=1800)
        for a in range(0, args.rows, 1_000_000):
            loader.command(CH_LOAD.format(db=db, n=min(1_000_000, args.rows - a), offset=a), parameters={"key": ch_id})
        loader.command(f"OPTIMIZE TABLE {db}.api_request_rollups FINAL")
        print(f"ClickHouse: loaded {args.rows:,} requests in {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        for a in range(0, args.rows, 1_000_000):
            pgdb.query(PG_LOAD, k=pg_id, a=a, b=min(a + 1_000_000, args.rows) - 1)
        pgdb.query(_backfill_sql())
        pgdb.query("VACUUM ANALYZE platform.api_requests")
        pgdb.query("ANALYZE platform.api_request_rollups")
        print(f"PostgreSQL: loaded {args.rows:,} requests in {time.perf_counter() - t:.0f} s", flush=True)

        def call(key: str, route: str, expect: int | None = None, **params: str) -> Callable[[], None]:
            def go() -> None:
                r = session.get(stack.url + route, params=params, timeout=1800,
                                headers={"X-AUTH-TOKEN": key, "Accept-Encoding": "gzip"})
                assert r.status_code == 200, r.text[:300]
                if expect is not None:
                    assert len(r.json()) == expect, len(r.json())
            return go

        last = str(args.rows // PAGE)
        print(f"{args.rows:,} requests per key; median of {args.runs} runs")
        for name, key in (("PostgreSQL", pg_key), ("ClickHouse", ch_key)):
            first = timed(call(key, "/api/data", PAGE), args.runs)
            deep = timed(call(key, "/api/data", PAGE, page=last), args.runs)
            print(f"{name:10}  /api/data page 1 {first * 1000:7.0f} ms  page {last} {deep * 1000:7.0f} ms"
                  f"  ratio {deep / first:.2f}x (target <= 1.5x)", flush=True)
        conn = stack.pg.connect("telltale", "telltale")
        offset = timed(lambda: conn.run(
            "SELECT created_at, path FROM platform.api_requests WHERE api_key_id = CAST(:k AS uuid)"
            " ORDER BY created_at, id LIMIT 50000 OFFSET :o", k=pg_id, o=(int(last) - 1) * PAGE), args.runs)
        conn.close()
        print(f"(before: OFFSET paging, the same page's rows alone in SQL: {offset * 1000:.0f} ms)")
        ch_stats = timed(call(ch_key, "/api/stats"), args.runs)
        pg_stats = timed(call(pg_key, "/api/stats"), args.runs)
        pg_raw = timed(call(pg_key, "/api/stats", ipAddress=IP), args.runs)
        ch_raw = timed(call(ch_key, "/api/stats", ipAddress=IP), args.runs)
        print(f"/api/stats  ClickHouse {ch_stats * 1000:7.0f} ms (rows alone {ch_raw * 1000:.0f} ms)  PostgreSQL"
              f" {pg_stats * 1000:7.0f} ms with rollups, {pg_raw * 1000:7.0f} ms raw scan")
        print(f"ClickHouse vs PostgreSQL raw scan: {ch_stats / pg_raw:.3f}x (target <= 0.1x);"
              f" PostgreSQL rollups vs raw scan: {pg_stats / pg_raw:.2f}x")


if __name__ == "__main__":
    main()
