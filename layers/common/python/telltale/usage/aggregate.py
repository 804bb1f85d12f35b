"""ProductUsageStats, computed in the database with one statement per space.

A BiQuery row counts for a product when one of its referenced tables names one of the product's tables:
compared lower-case on the last two name parts, so ``ANALYTICS.PUBLIC.ORDERS``, ``public.orders`` and
``orders`` all match a product table ``public.orders``, and a product table given without schema matches that
table in any schema. A query counts once per product however many of its tables it references.

Activity (one rule, docs/usage-analytics.md "Activity"):
- usage is execution: a row counts towards query_count_30d, unique_users_30d, last_queried_at, recency and
  popular queries only through ``executed_at``, a time the tool says the resource was run or viewed
  (a query-log entry, SQL Lab history, a Look's or dashboard's last view, a Metabase card's last use).
  ``execution_count`` weighs rows that stand for several runs (pg_stat_statements call deltas). A
  definition without such a time (a Superset chart or saved query, a Tableau sheet, a Power BI report)
  counts no queries; its edit time (``modified_at``) is never usage.
- reference is presence: a product is *unused* when no row references it within the window, where a
  query-log row references at its execution time and a definition (chart, saved query, tile) references
  for as long as syncs still see it (``last_seen_at``) or it ran.

Popularity (spec 001):
    raw   = 0.5 * log2(1 + query_count_30d) + 0.3 * unique_users_30d + 0.2 * recency_factor
    score = min(100, raw / 10.0 * 100), and never below 0
recency_factor decays linearly over the 30-day window: 1.0 when last queried at the aggregation time,
0.5 at 15 days, 0.0 at 30 days or more, and 0.0 when never queried (future times count as now).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telltale.platform import db, scoped
from telltale.platform.log import logger
from telltale.usage.catalog import get_space

WINDOW_DAYS = 30
RECENCY_DAYS = 30.0
TOP_COLUMNS = 10
MAX_USERS_LISTED = 20

# Each referenced table of the tenant's rows, split like usage.product_tables (sch '' when unqualified);
# table_keys is computed when the row is written (migration 0301).
_REFS = """
refs AS (
    SELECT q.id AS query_id, split_part(k, '.', 1) AS sch, split_part(k, '.', 2) AS tbl
    FROM usage.bi_queries q CROSS JOIN LATERAL unnest(q.table_keys) AS k
    {window}
),
hits AS (
    SELECT DISTINCT pt.product_id, refs.query_id
    FROM refs JOIN pt ON pt.tbl = refs.tbl AND (pt.sch = '' OR refs.sch = '' OR pt.sch = refs.sch)
)"""

_PRODUCTS = """
prods AS (SELECT p.id AS product_id, p.space_id FROM usage.products p
          WHERE p.space_id = ANY(CAST(:spaces AS uuid[]))),
pt AS (SELECT t.product_id, t.sch, t.tbl FROM usage.product_tables t JOIN usage.products p2 ON p2.id = t.product_id
       WHERE p2.space_id = ANY(CAST(:spaces AS uuid[])))"""

# The time a row last referenced its tables (for "unused"); usage itself is q.executed_at alone.
_REFERENCED_AT = ("greatest(q.executed_at, CASE WHEN q.resource_type <> 'query_log' THEN q.last_seen_at END)")

AGGREGATE_SQL = f"""
WITH {_PRODUCTS},
{_REFS.format(window="")},
hq AS (
    SELECT h.product_id, q.executed_by, q.executed_at AS at, q.execution_count, q.referenced_columns,
           q.column_keys,
           q.executed_at >= CAST(:now AS timestamptz) - make_interval(days => :window) AS in_window
    FROM hits h JOIN usage.bi_queries q ON q.id = h.query_id
    WHERE q.executed_at IS NOT NULL
),
agg AS (
    SELECT product_id,
           COALESCE(sum(execution_count) FILTER (WHERE in_window), 0) AS query_count_30d,
           count(DISTINCT executed_by) FILTER (WHERE in_window) AS unique_users_30d,
           max(at) AS last_queried_at
    FROM hq GROUP BY product_id
),
colcount AS (
    -- A column counts for the product when its table is one of the product's, or when the query does not
    -- say which table it belongs to (column_keys: '<schema>.<table>|<column>').
    SELECT product_id, c AS col, sum(execution_count) AS n
    FROM hq CROSS JOIN LATERAL unnest(hq.referenced_columns) AS c
    WHERE in_window
      AND (NOT EXISTS (SELECT 1 FROM unnest(hq.column_keys) AS k WHERE split_part(k, '|', 2) = c)
           OR EXISTS (SELECT 1 FROM unnest(hq.column_keys) AS k
                      JOIN pt ON pt.product_id = hq.product_id
                       AND pt.tbl = split_part(split_part(k, '|', 1), '.', 2)
                       AND (pt.sch = '' OR split_part(k, '.', 1) = '' OR pt.sch = split_part(k, '.', 1))
                      WHERE split_part(k, '|', 2) = c))
    GROUP BY product_id, c
),
cols AS (
    SELECT product_id, array_agg(col ORDER BY n DESC, col) AS top_columns
    FROM (SELECT product_id, col, n, row_number() OVER (PARTITION BY product_id ORDER BY n DESC, col) AS rk
          FROM colcount) ranked
    WHERE rk <= :top GROUP BY product_id
),
scored AS (
    SELECT p.product_id, p.space_id,
           COALESCE(a.query_count_30d, 0) AS query_count_30d, COALESCE(a.unique_users_30d, 0) AS unique_users_30d,
           a.last_queried_at, COALESCE(c.top_columns, '{{}}') AS top_columns,
           CASE WHEN a.last_queried_at IS NULL THEN 0.0
                ELSE greatest(0.0, least(1.0, 1.0 - extract(epoch FROM CAST(:now AS timestamptz) - a.last_queried_at)
                                                    / 86400.0 / :recency_days))
           END AS recency_factor
    FROM prods p LEFT JOIN agg a USING (product_id) LEFT JOIN cols c USING (product_id)
)
INSERT INTO usage.product_usage_stats AS s (product_id, space_id, query_count_30d, unique_users_30d,
    last_queried_at, popularity_score, top_columns, updated_at)
SELECT product_id, space_id, query_count_30d, unique_users_30d, last_queried_at,
       greatest(0.0, least(100.0, (0.5 * ln(1 + query_count_30d) / ln(2) + 0.3 * unique_users_30d
                                   + 0.2 * recency_factor) / 10.0 * 100)),
       top_columns, CAST(:now AS timestamptz)
FROM scored
ON CONFLICT (product_id) DO UPDATE SET
    query_count_30d = EXCLUDED.query_count_30d, unique_users_30d = EXCLUDED.unique_users_30d,
    last_queried_at = EXCLUDED.last_queried_at, popularity_score = EXCLUDED.popularity_score,
    top_columns = EXCLUDED.top_columns, space_id = EXCLUDED.space_id, updated_at = EXCLUDED.updated_at
RETURNING product_id
"""


def _now(as_of: datetime | None) -> Any:
    if as_of is not None:
        return as_of
    row = db.query_one("SELECT now() AS now")
    assert row is not None
    return row["now"]


def aggregate_spaces(tenant_id: str, space_ids: list[str], *, as_of: datetime | None = None) -> int:
    """Recompute the stats of every product in these spaces; returns how many products were updated."""
    if not space_ids:
        return 0
    now = _now(as_of)
    with db.transaction() as tx:
        # A batch over whole tables: hash joins are right, and a planner that misjudges fresh tables (no
        # statistics yet) must not pick nested loops that evaluate the name matching rows x tables times.
        tx.run("SET LOCAL enable_nestloop = off")
        # Its sorts and hashes (distinct users, top columns) fit in memory instead of spilling to disk.
        tx.run("SET LOCAL work_mem = '64MB'")
        rows = scoped.tenant(tenant_id).run(tx, AGGREGATE_SQL, spaces=space_ids, now=now, window=WINDOW_DAYS,
                                            top=TOP_COLUMNS, recency_days=RECENCY_DAYS)
    logger.info("usage aggregated", extra={"tenant": tenant_id, "spaces": len(space_ids), "products": len(rows)})
    return len(rows)


def aggregate_space(tenant_id: str, slug: str, *, as_of: datetime | None = None) -> int:
    space = get_space(tenant_id, slug)
    return aggregate_spaces(tenant_id, [str(space["id"])], as_of=as_of)


def aggregate_tenant(tenant_id: str) -> int:
    ids = [str(r["id"]) for r in scoped.tenant(tenant_id).query("SELECT id FROM usage.spaces")]
    return aggregate_spaces(tenant_id, ids)


def aggregate_all() -> dict[str, int]:
    """The scheduled run: every tenant's spaces."""
    out: dict[str, int] = {}
    tenants = scoped.across_tenants("the scheduled run visits every tenant that has spaces")
    for r in tenants.query("SELECT DISTINCT tenant_id FROM usage.spaces ORDER BY tenant_id"):
        try:
            out[r["tenant_id"]] = aggregate_tenant(r["tenant_id"])
        except Exception:  # noqa: BLE001 - one tenant's failure must not stop the others
            logger.exception("scheduled aggregation failed", extra={"tenant": r["tenant_id"]})
    return out


def space_usage(tenant_id: str, slug: str) -> list[dict[str, Any]]:
    space = get_space(tenant_id, slug)
    return scoped.tenant(tenant_id).query(
        "SELECT p.id AS product_id, p.name AS product_name, p.space_id, COALESCE(s.query_count_30d, 0) AS"
        " query_count_30d, COALESCE(s.unique_users_30d, 0) AS unique_users_30d, s.last_queried_at,"
        " COALESCE(s.popularity_score, 0) AS popularity_score, COALESCE(s.top_columns, '{}') AS top_columns,"
        " s.updated_at"
        " FROM usage.products p LEFT JOIN usage.product_usage_stats s ON s.product_id = p.id"
        " WHERE p.space_id = :sp ORDER BY popularity_score DESC, p.name",
        sp=space["id"],
    )


_REFERENCED_IN_WINDOW = f"WHERE {_REFERENCED_AT} >= now() - make_interval(days => :days)"
_EXECUTED_IN_WINDOW = "WHERE q.executed_at >= now() - make_interval(days => :days)"


def unused_products(tenant_id: str, slug: str, days: int) -> list[dict[str, Any]]:
    space = get_space(tenant_id, slug)
    return scoped.tenant(tenant_id).query(
        f"""
        WITH {_PRODUCTS},
        {_REFS.format(window=_REFERENCED_IN_WINDOW)}
        SELECT p.id, p.name, p.description, p.tables, p.created_at, p.updated_at, :slug AS space
        FROM usage.products p
        WHERE p.space_id = CAST(:sp AS uuid) AND NOT EXISTS (SELECT 1 FROM hits WHERE hits.product_id = p.id)
        ORDER BY p.name
        """,
        spaces=[str(space["id"])], sp=str(space["id"]), days=days, slug=slug,
    )


def popular_queries(tenant_id: str, slug: str, *, days: int, limit: int) -> list[dict[str, Any]]:
    """The most frequent anonymized patterns among queries that touch the space's products."""
    space = get_space(tenant_id, slug)
    rows = scoped.tenant(tenant_id).query(
        f"""
        WITH {_PRODUCTS},
        {_REFS.format(window=_EXECUTED_IN_WINDOW)},
        qs AS (SELECT DISTINCT query_id FROM hits),
        top AS (
            SELECT q.sql_hash, min(q.sql_text) AS sql_text, sum(q.execution_count) AS query_count,
                   count(DISTINCT q.executed_by) AS unique_users,
                   array_remove(array_agg(DISTINCT q.executed_by), NULL) AS users,
                   max(q.executed_at) AS last_executed_at, count(*) AS resources,
                   bool_or(q.parse_failed) AS parse_failed
            FROM qs JOIN usage.bi_queries q ON q.id = qs.query_id
            WHERE q.sql_hash IS NOT NULL
            GROUP BY q.sql_hash
            ORDER BY query_count DESC, unique_users DESC, q.sql_hash
            LIMIT :lim
        )
        SELECT top.*,
               (SELECT array_agg(DISTINCT p.name ORDER BY p.name) FROM hits h
                  JOIN usage.bi_queries q2 ON q2.id = h.query_id JOIN usage.products p ON p.id = h.product_id
                 WHERE q2.sql_hash = top.sql_hash) AS products,
               (SELECT array_agg(DISTINCT t ORDER BY t) FROM hits h
                  JOIN usage.bi_queries q3 ON q3.id = h.query_id CROSS JOIN LATERAL unnest(q3.referenced_tables) t
                 WHERE q3.sql_hash = top.sql_hash) AS referenced_tables
        FROM top ORDER BY query_count DESC, unique_users DESC, sql_hash
        """,
        spaces=[str(space["id"])], days=days, lim=limit,
    )
    for r in rows:
        # A sample of who runs it (unique_users has the count); a pattern can have thousands.
        r["users"] = list(r["users"] or [])[:MAX_USERS_LISTED]
    return rows
