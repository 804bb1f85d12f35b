"""The spec's example query over 10 million events: API time against the same hand-written SQL run directly,
on PostgreSQL and on ClickHouse (chdb behind the HTTP protocol), and ClickHouse against PostgreSQL.

    .venv/bin/python benchmarks/events_query_10m.py [--events 10000000] [--runs 5]

A local stack (its own temp folder, no workers) serves the API; tenant "bench" lives in PostgreSQL and
tenant "benchch" in ClickHouse (TELLTALE_CLICKHOUSE_TENANTS). The data is generated inside each database
(generate_series / numbers()), so 10 million rows load in minutes, not hours. Target: API <= 1.15x SQL.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import requests
from events_common import ROOT, stack_with_clickhouse  # noqa: F401 - puts the layer, local/ and tests/ on sys.path
from harness import timed

# 20 actors, 4 event types, April-May 2026: about a quarter of the rows match the example's type and window.
PG_LOAD = """
INSERT INTO events.events (tenant_id, event_id, event_type, occurred_at, received_at, actor_type, actor_id,
                           entity_type, entity_id, schema_version, attributes, source)
SELECT 'bench', md5(g::text),
       (ARRAY['contact.created','contact.updated','login.success','export.completed'])[1 + g % 4],
       ts, ts, CASE WHEN g % 5 = 0 THEN 'SYSTEM' ELSE 'TENANT_STAFF' END, 'TS' || lpad(((g / 4) % 20)::text, 4, '0'),
       'CONTACT', 'C' || (g % 100000), 1, jsonb_build_object('source', (ARRAY['API', 'CRM', 'UI'])[1 + g % 3]), 'api'
FROM (SELECT g, timestamptz '2026-04-01' + ((g * 7919) % 5270400) * interval '1 second' AS ts
      FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) g) s
"""
CH_LOAD = """
INSERT INTO {db}.events (tenant_id, event_id, event_type, occurred_at, received_at, actor_type, actor_id, entity_type,
                         entity_id, schema_version, attributes, source)
SELECT 'benchch', hex(MD5(toString(number))),
       ['contact.created','contact.updated','login.success','export.completed'][1 + number % 4],
       toDateTime64('2026-04-01 00:00:00', 3, 'UTC') + toIntervalSecond((number * 7919) % 5270400),
       toDateTime64('2026-04-01 00:00:00', 3, 'UTC') + toIntervalSecond((number * 7919) % 5270400),
       if(number % 5 = 0, 'SYSTEM', 'TENANT_STAFF'), concat('TS', leftPad(toString(intDiv(number, 4) % 20), 4, '0')),
       'CONTACT', concat('C', toString(number % 100000)), 1, map('source', ['API', 'CRM', 'UI'][1 + number % 3]), 'api'
FROM numbers({offset}, {n})
"""
QUERY = {
    "eventType": "contact.created", "timeRange": {"from": "2026-04-01T00:00:00Z", "to": "2026-04-30T23:59:59Z"},
    "granularity": "DAY", "groupBy": [{"field": "actorId"}],
    "aggregations": [{"function": "COUNT", "alias": "contacts_created"}],
    "sort": [{"field": "contacts_created", "ascending": False}], "limit": 50,
}
PG_SQL = """
SELECT date_trunc('day', occurred_at AT TIME ZONE 'UTC') AS time_bucket, actor_id, count(*) AS contacts_created
FROM events.events
WHERE tenant_id = 'bench' AND event_type = 'contact.created'
  AND occurred_at >= '2026-04-01T00:00:00Z' AND occurred_at <= '2026-04-30T23:59:59Z'
GROUP BY 1, 2 ORDER BY 3 DESC, 1, actor_id COLLATE "C" LIMIT 50
"""
# Two more shapes (issue 13): one day by the hour, and a month grouped by an attribute.
DAY_QUERY = {
    "eventType": "contact.created", "timeRange": {"from": "2026-04-15T00:00:00Z", "to": "2026-04-15T23:59:59Z"},
    "granularity": "HOUR", "aggregations": [{"function": "COUNT", "alias": "n"}],
}
DAY_PG = """
SELECT date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AS time_bucket, count(*) AS n FROM events.events
WHERE tenant_id = 'bench' AND event_type = 'contact.created'
  AND occurred_at >= '2026-04-15T00:00:00Z' AND occurred_at <= '2026-04-15T23:59:59Z'
GROUP BY 1 ORDER BY 1
"""
DAY_CH = """
SELECT toStartOfHour(occurred_at) AS time_bucket, toInt64(count()) AS n FROM {db}.events FINAL
WHERE tenant_id = 'benchch' AND event_type = 'contact.created'
  AND occurred_at >= toDateTime64('2026-04-15 00:00:00', 3, 'UTC')
  AND occurred_at <= toDateTime64('2026-04-15 23:59:59', 3, 'UTC')
GROUP BY time_bucket ORDER BY time_bucket
"""
ATTRIBUTE_QUERY = {
    "eventType": "contact.created", "timeRange": {"from": "2026-04-01T00:00:00Z", "to": "2026-04-30T23:59:59Z"},
    "groupBy": [{"field": "attributes.source"}], "aggregations": [{"function": "COUNT", "alias": "n"}],
}
ATTRIBUTE_PG = """
SELECT attributes ->> 'source' AS source, count(*) AS n FROM events.events
WHERE tenant_id = 'bench' AND event_type = 'contact.created'
  AND occurred_at >= '2026-04-01T00:00:00Z' AND occurred_at <= '2026-04-30T23:59:59Z'
GROUP BY 1
"""
ATTRIBUTE_CH = """
SELECT attributes['source'] AS source, toInt64(count()) AS n FROM {db}.events FINAL
WHERE tenant_id = 'benchch' AND event_type = 'contact.created'
  AND occurred_at >= toDateTime64('2026-04-01 00:00:00', 3, 'UTC')
  AND occurred_at <= toDateTime64('2026-04-30 23:59:59', 3, 'UTC')
GROUP BY source
"""
CH_SQL = """
SELECT toDateTime(toStartOfDay(occurred_at), 'UTC') AS time_bucket, actor_id, toInt64(count()) AS contacts_created
FROM {db}.events FINAL
WHERE tenant_id = 'benchch' AND event_type = 'contact.created'
  AND occurred_at >= toDateTime64('2026-04-01 00:00:00', 3, 'UTC')
  AND occurred_at <= toDateTime64('2026-04-30 23:59:59', 3, 'UTC')
GROUP BY time_bucket, actor_id ORDER BY contacts_created DESC, time_bucket, actor_id LIMIT 50
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    db = "telltale_events_bench"
    with stack_with_clickhouse("events-q10m-", db, TELLTALE_CLICKHOUSE_TENANTS="benchch") as (stack, ch_host, ch_port):
        from telltale.events.stores.clickhouse import ClickHouseEventStore, clickhouse_client
        from telltale.events.stores.postgres import PostgresEventStore
        from telltale.platform import db as pgdb
        from telltale_local import tokens

        # ClickHouse first (fast); chunks of a million rows keep each request well inside client timeouts.
        t = time.perf_counter()
        ch = clickhouse_client()
        import clickhouse_connect

        loader = clickhouse_connect.get_client(host=ch_host, port=ch_port, send_receive_timeout=1800)
        for a in range(0, args.events, 1_000_000):
            loader.command(CH_LOAD.format(db=db, n=min(1_000_000, args.events - a), offset=a))
        loader.command(f"OPTIMIZE TABLE {db}.events FINAL")
        print(f"ClickHouse: loaded {args.events:,} events in {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        PostgresEventStore().ensure_partitions([__import__("datetime").datetime(2026, m, 1, tzinfo=__import__(
            "datetime").UTC) for m in (4, 5, 6)])
        step = 1_000_000
        for a in range(0, args.events, step):
            pgdb.query(PG_LOAD, a=a, b=min(a + step, args.events) - 1)
        pgdb.query("ANALYZE events.events")
        print(f"PostgreSQL: loaded {args.events:,} events in {time.perf_counter() - t:.0f} s", flush=True)
        assert ClickHouseEventStore().table == f"{db}.events"

        session = requests.Session()

        def api(tenant: str, query: dict[str, object] = QUERY) -> Callable[[], None]:
            token = tokens.mint(stack.data_dir, tenant=tenant, user="bench")

            def call() -> None:
                r = session.post(stack.url + "/api/analytics/query", json=query,
                                 headers={"Authorization": f"Bearer {token}"}, timeout=600)
                assert r.status_code == 200, r.text
                assert r.json()["stats"]["rowCount"] > 0
            return call


        conn = stack.pg.connect("telltale", "telltale")
        pg_api = timed(api("bench"), args.runs)
        pg_sql = timed(lambda: conn.run(PG_SQL), args.runs)
        ch_api = timed(api("benchch"), args.runs)
        ch_sql = timed(lambda: ch.query(CH_SQL.format(db=db)).result_rows, args.runs)
        # The DSL's own SQL run directly: separates the SQL's shape from the HTTP/handler overhead.
        from telltale.events import dsl

        q = dsl.Query.model_validate(QUERY)
        pg_c = dsl.compile_query(q, "bench", dialect="postgres", table="events.events")
        ch_c = dsl.compile_query(q, "benchch", dialect="clickhouse", table=f"{db}.events")
        pg_dsl = timed(lambda: conn.run(pg_c.sql, **pg_c.params), args.runs)
        ch_dsl = timed(lambda: ch.query(ch_c.sql, parameters=ch_c.params).result_rows, args.runs)
        for r in conn.run("EXPLAIN (ANALYZE, COSTS OFF) " + pg_c.sql, **pg_c.params)[:12]:
            print("  plan(dsl):", r[0])
        for r in conn.run("EXPLAIN (ANALYZE, COSTS OFF) " + PG_SQL)[:12]:
            print("  plan(sql):", r[0])
        shapes = []
        for name, query, pg_text, ch_text in (("one day by hour", DAY_QUERY, DAY_PG, DAY_CH),
                                              ("a month by attribute", ATTRIBUTE_QUERY, ATTRIBUTE_PG, ATTRIBUTE_CH)):
            shapes.append((name, timed(api("bench", query), args.runs), timed(lambda t=pg_text: conn.run(t), args.runs),
                           timed(api("benchch", query), args.runs),
                           timed(lambda t=ch_text: ch.query(t.format(db=db)).result_rows, args.runs)))
        conn.close()
        for name, pa, ps, ca, cs in shapes:
            print(f"{name:22} PostgreSQL API {pa * 1000:6.0f} ms / SQL {ps * 1000:6.0f} ms = {pa / ps:.2f}x;"
                  f" ClickHouse API {ca * 1000:6.0f} ms / SQL {cs * 1000:6.0f} ms = {ca / cs:.2f}x;"
                  f" ClickHouse/PostgreSQL (API) {ca / pa:.2f}x")
        print(f"events: {args.events:,}; median of {args.runs} runs")
        print(f"PostgreSQL  DSL SQL run directly {pg_dsl * 1000:8.0f} ms; ClickHouse {ch_dsl * 1000:8.0f} ms")
        print(f"PostgreSQL  API {pg_api * 1000:8.0f} ms  SQL {pg_sql * 1000:8.0f} ms  ratio {pg_api / pg_sql:.2f}x"
              " (target <= 1.15x)")
        print(f"ClickHouse  API {ch_api * 1000:8.0f} ms  SQL {ch_sql * 1000:8.0f} ms  ratio {ch_api / ch_sql:.2f}x"
              " (target <= 1.15x)")
        print(f"ClickHouse vs PostgreSQL (API): {ch_api / pg_api:.2f}x")


if __name__ == "__main__":
    main()
