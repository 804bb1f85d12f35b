"""Usage aggregation of 1,000,000 BiQuery rows over 1,000 products, against a hand-written SQL doing the same.

Starts a private embedded PostgreSQL in a temporary folder, applies the migrations, generates the rows with
generate_series (random mixes of qualified, unqualified and upper-case table names, 500 users, 60 days,
a fifth of the tables owned by no product), then times, interleaved:
  - the service: telltale.usage.aggregate.aggregate_spaces (computes and upserts ProductUsageStats);
  - the baseline: one hand-written SELECT computing the same numbers (no upsert).
It checks that both agree, and prints medians and the ratio.

    .venv/bin/python benchmarks/usage_aggregate.py [rows] [runs] [--explain]
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "layers" / "common" / "python", ROOT / "local", ROOT / "benchmarks"):
    sys.path.insert(0, str(p))

from harness import interleaved, platform_postgres, ratio_row  # noqa: E402

PRODUCTS = 1000

BASELINE = """
WITH q AS (
    -- Usage is execution: rows without executed_at (definitions) count no queries.
    SELECT id, executed_by, executed_at AS at, execution_count, referenced_columns, referenced_tables
    FROM usage.bi_queries WHERE tenant_id = 'bench' AND executed_at IS NOT NULL
),
names AS (
    SELECT q.id, string_to_array(lower(r.name), '.') AS parts FROM q, unnest(q.referenced_tables) AS r(name)
),
pairs AS (
    SELECT DISTINCT pt.product_id, n.id
    FROM names n JOIN usage.product_tables pt ON pt.tbl = n.parts[cardinality(n.parts)]
    WHERE pt.tenant_id = 'bench'
      AND (pt.sch = '' OR cardinality(n.parts) = 1 OR pt.sch = n.parts[cardinality(n.parts) - 1])
),
per AS (
    SELECT p.product_id,
           sum(q.execution_count) FILTER (WHERE q.at >= now() - interval '30 days') AS cnt,
           count(DISTINCT q.executed_by) FILTER (WHERE q.at >= now() - interval '30 days') AS users,
           max(q.at) AS last_at
    FROM pairs p JOIN q ON q.id = p.id GROUP BY p.product_id
),
colrank AS (
    SELECT product_id, c, row_number() OVER (PARTITION BY product_id ORDER BY n DESC, c) AS rk
    FROM (SELECT p.product_id, c, sum(q.execution_count) AS n
          FROM pairs p JOIN q ON q.id = p.id, unnest(q.referenced_columns) c
          WHERE q.at >= now() - interval '30 days' GROUP BY 1, 2) x
),
colagg AS (SELECT product_id, array_agg(c ORDER BY rk) AS cols FROM colrank WHERE rk <= 10 GROUP BY product_id)
SELECT pr.id AS product_id, COALESCE(per.cnt, 0) AS cnt, COALESCE(per.users, 0) AS users, per.last_at,
       least(100.0, greatest(0.0, (0.5 * log(2.0, 1 + COALESCE(per.cnt, 0)) + 0.3 * COALESCE(per.users, 0)
             + 0.2 * CASE WHEN per.last_at IS NULL THEN 0
                         ELSE greatest(0, least(1, 1 - extract(epoch FROM now() - per.last_at) / 86400 / 30)) END)
             / 10.0 * 100)) AS score,
       COALESCE(colagg.cols, '{}') AS top_columns
FROM usage.products pr LEFT JOIN per ON per.product_id = pr.id LEFT JOIN colagg ON colagg.product_id = pr.id
WHERE pr.tenant_id = 'bench'
"""


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rows = int(args[0]) if args else 1_000_000
    runs = int(args[1]) if len(args) > 1 else 3
    # A killed run still stops its PostgreSQL (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = Path(tempfile.mkdtemp(prefix="usage-bench-"))
    from telltale_local.pg import EmbeddedPostgres

    pg = EmbeddedPostgres(tmp)  # stopped in the finally below even if start-up fails half-way
    try:
        pg = platform_postgres(tmp)
        from telltale.platform import db

        space = load(db, rows)
        from telltale.usage import aggregate

        service = lambda: timed(lambda: aggregate.aggregate_spaces("bench", [space]))  # noqa: E731
        baseline = lambda: timed(lambda: hand(db))  # noqa: E731
        if "--explain" in sys.argv:
            import datetime as dt

            with db.transaction() as tx:
                tx.run("SET LOCAL enable_nestloop = off")  # as the service runs it
                tx.run("SET LOCAL work_mem = '64MB'")
                plan = tx.run("EXPLAIN ANALYZE " + aggregate.AGGREGATE_SQL, t="bench", spaces=[space],
                              now=dt.datetime.now(dt.UTC), window=30, top=10, recency_days=30.0)
                tx.run("ROLLBACK")
                tx.run("BEGIN")
            print("\n".join(r[0] for r in plan))
        check(db, aggregate, space)
        xs, ys = interleaved(service, baseline, runs=runs, warmup=1)
        print(f"{rows:,} BiQuery rows, {PRODUCTS:,} products, medians of {runs} interleaved runs")
        print(ratio_row("service (compute + upsert) vs hand SQL", xs, ys, unit="s", scale=1.0))
    finally:
        from telltale.platform import db as _db

        _db.reset()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def hand(db) -> list:  # type: ignore[no-untyped-def]
    # The same planner settings as the service, so the comparison is of the SQL, not of the settings.
    with db.transaction() as tx:
        tx.run("SET LOCAL enable_nestloop = off")
        tx.run("SET LOCAL work_mem = '64MB'")
        rows = tx.run(BASELINE)
        cols = [c["name"] for c in tx.columns]
    return [dict(zip(cols, r, strict=True)) for r in rows]


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def load(db, rows: int) -> str:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    db.query("INSERT INTO usage.connectors (id, tenant_id, name, type, secret_name, created_by)"
             " VALUES ('00000000-0000-0000-0000-000000000001', 'bench', 'bench', 'postgres', 'none', 'bench')")
    space = db.query_one("INSERT INTO usage.spaces (tenant_id, slug, name) VALUES ('bench', 'bench', 'Bench')"
                         " RETURNING id")["id"]
    # Product i owns s<i % 10>.t<i> and t<i>_hist (any schema).
    db.query("""
        INSERT INTO usage.products (id, tenant_id, space_id, name, tables)
        SELECT md5('p' || i)::uuid, 'bench', :sp, 'product ' || i,
               ARRAY['s' || (i % 10) || '.t' || i, 't' || i || '_hist']
        FROM generate_series(1, :n) i""", sp=space, n=PRODUCTS)
    db.query("""
        INSERT INTO usage.product_tables (product_id, tenant_id, sch, tbl)
        SELECT md5('p' || i)::uuid, 'bench', 's' || (i % 10), 't' || i FROM generate_series(1, :n) i
        UNION ALL SELECT md5('p' || i)::uuid, 'bench', '', 't' || i || '_hist' FROM generate_series(1, :n) i""",
             n=PRODUCTS)
    # Tables 1..1250: a fifth of them belong to no product. Names come qualified, bare, or with a database.
    db.query("""
        INSERT INTO usage.bi_queries (tenant_id, connector_id, resource_type, resource_id, sql_text, sql_hash,
            referenced_tables, referenced_columns, executed_by, executed_at)
        SELECT 'bench', '00000000-0000-0000-0000-000000000001', 'query_log', 'q' || g, 'SELECT ?',
               md5((g % 5000)::text),
               ARRAY(SELECT CASE (g + k) % 4 WHEN 0 THEN 's' || (t % 10) || '.t' || t
                                         WHEN 1 THEN 'T' || t
                                         WHEN 2 THEN 'DB.S' || (t % 10) || '.T' || t
                                         ELSE 'x.t' || t || '_hist' END
                     FROM (SELECT k, 1 + ((g::bigint * 7919 + k * 104729) % 1250) AS t
                           FROM generate_series(1, 1 + g % 3) k) s),
               ARRAY['c' || (g % 50), 'c' || (g % 7)],
               'user' || (g % 500),
               now() - make_interval(secs => (g % 5184000))
        FROM generate_series(1, :rows) g""", rows=rows)
    db.query("ANALYZE usage.bi_queries")
    print(f"loaded {rows:,} rows in {time.perf_counter() - start:.1f} s")
    return str(space)


def check(db, aggregate, space: str) -> None:  # type: ignore[no-untyped-def]
    aggregate.aggregate_spaces("bench", [space])
    ours = {str(r["product_id"]): r for r in db.query(
        "SELECT product_id, query_count_30d, unique_users_30d, top_columns, popularity_score"
        " FROM usage.product_usage_stats WHERE tenant_id = 'bench'")}
    theirs = {str(r["product_id"]): r for r in hand(db)}
    assert ours.keys() == theirs.keys()
    for pid, r in theirs.items():
        o = ours[pid]
        assert (o["query_count_30d"], o["unique_users_30d"]) == (r["cnt"], r["users"]), (o, r)
        assert list(o["top_columns"]) == list(r["top_columns"]), (o, r)
        assert abs(o["popularity_score"] - float(r["score"])) < 0.05, (o, r)
    used = sum(1 for r in theirs.values() if r["cnt"])
    print(f"service and hand SQL agree on all {len(theirs)} products ({used} used in the last 30 days)")


if __name__ == "__main__":
    main()
