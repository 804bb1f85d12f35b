"""The tenant scope's rewrite (telltale.platform.scoped), checked against sqlglot's reading of its output.

The rewriter is a small tokenizer of our own; sqlglot (fine in tests, never imported at run time) parses
what it produces, and ``scoped_oracle.unscoped`` lists every reference to a tenant table that is neither a
scoped subquery nor a guarded INSERT/UPDATE/DELETE target. Each attack below is a position an author (or a
later edit) could put a tenant table in: it is scoped, or refused. The same statements run against a real
PostgreSQL with two tenants' rows in tests/integration/test_platform_scoped_pg.py.
"""

from __future__ import annotations

import pytest
from scoped_oracle import unscoped

from telltale.platform import scoped
from telltale.platform.scoped import TENANT_TABLES, UnscopedSQL, rewrite


def scoped_ok(sql: str) -> str:
    out = rewrite(sql)
    assert unscoped(out) == [], (sql, out)
    return out


# ---------------------------------------------------------------------------------------------- reads
READS = [
    "SELECT id FROM usage.spaces WHERE slug = :s",
    "SELECT s.id, p.name FROM usage.spaces s JOIN usage.products p ON p.space_id = s.id",
    "SELECT * FROM usage.spaces AS s LEFT OUTER JOIN usage.products AS p ON true RIGHT JOIN usage.connectors c ON true",
    "SELECT * FROM usage.spaces s FULL JOIN usage.products p USING (id) CROSS JOIN usage.bi_queries q",
    "SELECT * FROM usage.spaces s NATURAL JOIN usage.products",
    # a comma join, with and without aliases, then a join after it
    "SELECT * FROM usage.spaces, usage.products p, usage.connectors AS c JOIN usage.sync_jobs j ON true",
    # a CTE, twice referenced, and a recursive one
    "WITH a AS (SELECT * FROM usage.spaces), b AS MATERIALIZED (SELECT id FROM usage.products) "
    "SELECT * FROM a, b, a AS a2",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, usage.spaces WHERE n < 3) SELECT * FROM r",
    # a scalar subquery in the select list, correlated; EXISTS; IN; ANY; ARRAY()
    "SELECT s.slug, (SELECT count(*) FROM usage.products p WHERE p.space_id = s.id) AS n FROM usage.spaces s",
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM platform.api_keys) AND NOT EXISTS (SELECT 1 FROM platform.apps)",
    "SELECT * FROM usage.products WHERE space_id IN (SELECT id FROM usage.spaces) OR id = ANY(SELECT id FROM"
    " usage.products)",
    "SELECT ARRAY(SELECT name FROM usage.connectors) AS names",
    # set operations
    "SELECT id FROM usage.spaces UNION SELECT id FROM usage.products INTERSECT SELECT id FROM usage.connectors"
    " EXCEPT ALL SELECT id FROM usage.sync_jobs",
    "(SELECT id FROM usage.spaces) UNION ALL (SELECT id FROM usage.products ORDER BY id LIMIT 1)",
    # LATERAL, a subquery in FROM, nested subqueries
    "SELECT * FROM usage.spaces s CROSS JOIN LATERAL (SELECT * FROM usage.products p WHERE p.space_id = s.id) x",
    "SELECT * FROM usage.spaces s, LATERAL (SELECT count(*) FROM usage.products p WHERE p.space_id = s.id) c",
    "SELECT * FROM (SELECT * FROM (SELECT id FROM usage.spaces) a) b",
    # quoting, case, comments and whitespace between the parts of the name
    'SELECT * FROM "usage"."spaces"',
    "SELECT * FROM USAGE.SPACES",
    'SELECT * FROM Usage . "spaces" x',
    "SELECT * FROM usage/* a comment */./* another */spaces",
    "SELECT * FROM usage -- a line comment\n . spaces",
    "SELECT * FROM usage /* nested /* comment */ still */ . spaces",
    "SELECT * FROM\tusage\n.\n\tspaces",
    # ONLY, an alias list, and IS DISTINCT FROM next to a table
    "SELECT * FROM ONLY usage.spaces",
    "SELECT * FROM usage.spaces AS s (a, b) WHERE a IS DISTINCT FROM b",
    # every tenant table
    *(f"SELECT * FROM {s}.{t}" for s, t in sorted(TENANT_TABLES)),
]


@pytest.mark.parametrize("sql", READS)
def test_every_read_of_a_tenant_table_is_scoped(sql: str) -> None:
    out = scoped_ok(sql)
    assert "tenant_id = :tenant_id" in out


def test_a_read_keeps_its_alias_or_gets_the_tables_name() -> None:
    assert rewrite("SELECT s.id FROM usage.spaces s") == (
        "SELECT s.id FROM (SELECT * FROM usage.spaces WHERE tenant_id = :tenant_id) s")
    assert rewrite("SELECT spaces.id FROM usage.spaces") == (
        "SELECT spaces.id FROM (SELECT * FROM usage.spaces WHERE tenant_id = :tenant_id) AS spaces")
    assert rewrite("SELECT * FROM usage.spaces AS x") == (
        "SELECT * FROM (SELECT * FROM usage.spaces WHERE tenant_id = :tenant_id) AS x")


def test_sql_without_tenant_tables_is_left_alone() -> None:
    for sql in ("SELECT now()", "SELECT slug FROM platform.secret_types", "SET LOCAL work_mem = '64MB'",
                "SELECT pg_advisory_lock(hashtext(:k))", "SELECT usage.table_keys(ARRAY['a.b'])",
                "SELECT * FROM platform.tenants WHERE id = :t"):
        assert rewrite(sql) == sql
    assert scoped._rewrite("SELECT now()")[1] is False


# ---------------------------------------------------------------------------------------------- writes
def test_update_and_delete_get_the_predicate_around_their_whole_condition() -> None:
    assert rewrite("UPDATE usage.spaces SET name = :n WHERE slug = :s OR true RETURNING id") == (
        "UPDATE usage.spaces SET name = :n WHERE usage.spaces.tenant_id = :tenant_id AND ( slug = :s OR true)"
        " RETURNING id")
    assert rewrite("DELETE FROM usage.spaces") == "DELETE FROM usage.spaces WHERE usage.spaces.tenant_id = :tenant_id"
    assert rewrite("DELETE FROM usage.spaces s RETURNING s.id") == (
        "DELETE FROM usage.spaces s WHERE s.tenant_id = :tenant_id RETURNING s.id")
    # A condition ending in a line comment: the closing parenthesis does not land in it.
    out = rewrite("DELETE FROM usage.spaces WHERE slug = :s OR true -- a trailing comment")
    assert out == ("DELETE FROM usage.spaces WHERE usage.spaces.tenant_id = :tenant_id AND ( slug = :s OR true)"
                   " -- a trailing comment")


WRITES = [
    "UPDATE usage.spaces SET name = :n",
    "UPDATE usage.spaces AS s SET name = p.name FROM usage.products p WHERE p.space_id = s.id",
    "UPDATE ONLY usage.spaces s SET name = (SELECT max(name) FROM usage.products) WHERE s.id IN"
    " (SELECT space_id FROM usage.products)",
    "UPDATE platform.api_monitors m SET last_checked_at = r.prev FROM jsonb_to_recordset(CAST(:rows AS jsonb))"
    " AS r(id uuid, prev timestamptz), usage.spaces q WHERE m.id = r.id RETURNING m.id",
    "DELETE FROM usage.products p USING usage.spaces s, usage.connectors c WHERE s.id = p.space_id",
    "DELETE FROM platform.api_monitor_results WHERE monitor_id IN (SELECT id FROM platform.api_monitors)",
    "WITH gone AS (DELETE FROM usage.products WHERE space_id = :s RETURNING id) SELECT count(*) FROM gone",
    "WITH k AS (SELECT id FROM platform.api_keys WHERE key_hash = :h), t AS (UPDATE platform.api_keys SET"
    " last_used_at = now() WHERE id = (SELECT id FROM k) RETURNING id) SELECT id FROM k",
    "INSERT INTO usage.spaces (slug, name) VALUES (:s, :n)",
    "INSERT INTO usage.spaces (slug, name) VALUES (:s, :n), ('b', 'B'), (lower(:x), (SELECT 'n'))"
    " ON CONFLICT DO NOTHING RETURNING id",
    "INSERT INTO usage.product_tables (product_id, sch, tbl) SELECT id, '', name FROM usage.products",
    "INSERT INTO usage.product_tables (product_id, sch, tbl) SELECT DISTINCT id, '', name FROM usage.products",
    "INSERT INTO usage.spaces (slug, name) WITH x AS (SELECT slug FROM usage.spaces) SELECT slug || '2', 'n' FROM x",
    "WITH x AS (SELECT * FROM usage.products) INSERT INTO usage.product_usage_stats AS s (product_id, space_id)"
    " SELECT id, space_id FROM x ON CONFLICT (product_id) DO UPDATE SET space_id = EXCLUDED.space_id",
    "INSERT INTO usage.bi_queries AS q (connector_id, resource_type, resource_id) SELECT CAST(:c AS uuid), x.a, x.b"
    " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(a text, b text) ON CONFLICT (connector_id, resource_type,"
    " resource_id) DO UPDATE SET title = EXCLUDED.title WHERE q.sql_hash IS DISTINCT FROM EXCLUDED.sql_hash"
    " OR true RETURNING 1 AS n",
    "INSERT INTO events.active_users (saas_tenant_id, env_id, period_type, period, active_users) VALUES"
    " (:st, 1, 'daily', :p, 3) ON CONFLICT (tenant_id, saas_tenant_id, env_id, period_type, period) DO UPDATE"
    " SET active_users = excluded.active_users, updated_at = now()",
    "INSERT INTO platform.api_monitor_results (monitor_id, up) SELECT CAST(:m AS uuid), true"
    " WHERE EXISTS (SELECT 1 FROM platform.api_monitors WHERE id = CAST(:m AS uuid))",
    "INSERT INTO platform.tenants (id, schema_name) SELECT slug, slug FROM usage.spaces ON CONFLICT DO NOTHING",
]


@pytest.mark.parametrize("sql", WRITES)
def test_every_write_to_a_tenant_table_is_guarded(sql: str) -> None:
    scoped_ok(sql)


def test_an_insert_gets_the_tenant_in_every_row_and_its_upsert_a_guard() -> None:
    assert rewrite("INSERT INTO usage.spaces (slug, name) VALUES (:s, :n), (:t, :m)") == (
        "INSERT INTO usage.spaces (tenant_id, slug, name) VALUES (:tenant_id, :s, :n), (:tenant_id, :t, :m)")
    assert rewrite("INSERT INTO usage.product_usage_stats (product_id) SELECT :p ON CONFLICT (product_id)"
                   " DO UPDATE SET query_count_30d = 1 RETURNING product_id") == (
        "INSERT INTO usage.product_usage_stats (tenant_id, product_id) SELECT :tenant_id, :p ON CONFLICT"
        " (product_id) DO UPDATE SET query_count_30d = 1 WHERE product_usage_stats.tenant_id = :tenant_id"
        " RETURNING product_id")


# ---------------------------------------------------------------------------------------------- refusals
REFUSED = {
    # a tenant table where the rewriter cannot scope it
    "column reference": "SELECT usage.spaces.id FROM usage.spaces",
    "star of the table": "SELECT usage.spaces.* FROM usage.spaces",
    "catalog-qualified": "SELECT * FROM telltale.usage.spaces",
    "COPY out": "COPY usage.spaces TO STDOUT",
    "COPY in": "COPY events.events (tenant_id) FROM STDIN",
    "TRUNCATE": "TRUNCATE usage.spaces",
    "DDL": "ALTER TABLE usage.spaces ADD COLUMN x int",
    "partition DDL": "CREATE TABLE events.events_p209901 PARTITION OF events.events FOR VALUES FROM ('a') TO ('b')",
    "TABLE command": "TABLE usage.spaces",
    "SELECT INTO": "SELECT * INTO usage.spaces FROM platform.tenants",
    "MERGE": "MERGE INTO usage.spaces s USING platform.tenants t ON true WHEN MATCHED THEN DELETE",
    "EXPLAIN": "EXPLAIN SELECT * FROM usage.spaces",
    "locking clause": "SELECT * FROM usage.spaces s FOR UPDATE OF usage.spaces",
    "parenthesized join": "SELECT * FROM (usage.spaces s JOIN usage.products p ON true)",
    "LATERAL on a table": "SELECT * FROM platform.tenants, LATERAL usage.spaces",
    "called like a function": "SELECT * FROM usage.spaces()",
    "inheritance star": "SELECT * FROM usage.spaces *",
    "IS DISTINCT FROM a table": "SELECT 1 FROM platform.tenants WHERE id IS DISTINCT FROM usage.spaces",
    "a table in an expression": "SELECT CAST(NULL AS usage.spaces)",
    # unqualified names could be found through search_path
    "unqualified": "SELECT * FROM spaces",
    "unqualified join": "SELECT * FROM usage.spaces s JOIN products p ON true",
    # tables of a tenant schema that are not listed
    "a partition": "SELECT * FROM events.events_p202601",
    "an unlisted table": "SELECT * FROM usage.new_table",
    # names inside literals (regclass, functions that run SQL text)
    "string literal": "SELECT * FROM platform.tenants WHERE 'usage.spaces'::regclass IS NOT NULL",
    "quoted in a string": "SELECT query_to_xml('SELECT * FROM \"usage\".\"spaces\"', true, true, '')",
    "dollar-quoted": "SELECT query_to_xml($q$SELECT * FROM usage.spaces$q$, true, true, '')",
    "DO block": "DO $$ BEGIN DELETE FROM usage.spaces; END $$",
    "E-string": "SELECT query_to_xml(E'SELECT * FROM usage.spaces', true, true, '')",
    "E-string escape": "SELECT query_to_xml(E'SELECT * FROM \\x75sage.spaces', true, true, '')",
    "Unicode escape": 'SELECT * FROM U&"usage".spaces',
    # the scope owns tenant_id
    "tenant_id predicate": "SELECT * FROM usage.spaces WHERE tenant_id = :t",
    "qualified tenant_id": "SELECT * FROM usage.spaces s WHERE s.tenant_id <> 'x'",
    "quoted tenant_id": 'SELECT "tenant_id" FROM usage.spaces',
    "tenant_id parameter": "SELECT * FROM usage.spaces WHERE slug = :tenant_id",
    "moving a row": "UPDATE usage.spaces SET tenant_id = 'other' WHERE slug = :s",
    "inserting a tenant": "INSERT INTO usage.spaces (tenant_id, slug, name) VALUES ('other', 'a', 'b')",
    "upserting a tenant": "INSERT INTO usage.spaces (slug) VALUES ('a') ON CONFLICT (slug) DO UPDATE SET"
                          " tenant_id = 'other'",
    "conflict index predicate": "INSERT INTO usage.spaces (slug) VALUES ('a') ON CONFLICT (slug) WHERE"
                                " tenant_id = 'x' DO NOTHING",
    # INSERTs the rewriter cannot give a tenant
    "no column list": "INSERT INTO usage.spaces VALUES ('t', 'a')",
    "DEFAULT VALUES": "INSERT INTO usage.sync_jobs DEFAULT VALUES",
    "empty column list": "INSERT INTO usage.spaces () VALUES ()",
    "a query as the columns": "INSERT INTO usage.spaces (SELECT * FROM usage.spaces)",
    "UNION source": "INSERT INTO usage.spaces (slug, name) SELECT 'a', 'b' UNION SELECT 'c', 'd'",
    "DISTINCT ON source": "INSERT INTO usage.spaces (slug, name) SELECT DISTINCT ON (slug) slug, name FROM x",
    "a VALUES row that is a query": "INSERT INTO usage.spaces (slug, name) VALUES (SELECT 'a', 'b')",
    # cursors and several statements
    "WHERE CURRENT OF": "UPDATE usage.spaces SET name = 'x' WHERE CURRENT OF c",
    "two statements": "SELECT * FROM usage.spaces; DELETE FROM usage.spaces",
    "unbalanced": "SELECT * FROM (usage.spaces",
    "unterminated string": "SELECT * FROM usage.spaces WHERE slug = 'a",
    "unterminated comment": "SELECT * FROM usage.spaces /* ...",
    "positional parameter": "SELECT * FROM usage.spaces WHERE slug = $1",
    "trailing junk": "SELECT 1usage FROM usage.spaces",
}


@pytest.mark.parametrize("sql", list(REFUSED.values()), ids=list(REFUSED))
def test_what_cannot_be_scoped_is_refused(sql: str) -> None:
    with pytest.raises(UnscopedSQL):
        rewrite(sql)


def test_a_refusal_says_where() -> None:
    with pytest.raises(UnscopedSQL, match=r"usage\.spaces named where it cannot be scoped \(line 2: 'usage\.spaces"):
        rewrite("SELECT 1\nFROM platform.tenants WHERE x IN (TABLE usage.spaces)")


def test_lexing_follows_postgresql() -> None:
    toks = scoped.tokenize("""SELECT 'it''s', E'a\\'b', $t$ $$ ' $t$, "Q""x", x::int, :p, a>=b /* /* */ */ -- c""")
    assert [(t.kind, t.value) for t in toks] == [
        ("word", "select"), ("str", "it's"), ("punct", ","), ("str", "a'b"), ("punct", ","), ("str", " $$ ' "),
        ("punct", ","), ("qword", 'Q"x'), ("punct", ","), ("word", "x"), ("op", "::"), ("word", "int"),
        ("punct", ","), ("param", "p"), ("punct", ","), ("word", "a"), ("op", ">="), ("word", "b")]
    # Only ASCII letters are lowered (as PostgreSQL does); any other character is part of the identifier.
    assert [t.value for t in scoped.tokenize("ÉVÉNEMENTS usage\u00a0x")] == ["ÉvÉnements", "usage\u00a0x"]
    # A name in a comment or a harmless string is no reference.
    assert rewrite("SELECT 'from x' /* FROM usage.spaces */ -- usage.spaces\n") == (
        "SELECT 'from x' /* FROM usage.spaces */ -- usage.spaces\n")


# ---------------------------------------------------------------------------------------------- the scope
def test_the_scope_binds_its_tenant_and_refuses_another() -> None:
    s = scoped.tenant("acme")
    assert s._bind("SELECT * FROM usage.spaces WHERE slug = :s", {"s": "x"})[1] == {"s": "x", "tenant_id": "acme"}
    assert s._bind("SELECT now()", {}) == ("SELECT now()", {})
    with pytest.raises(UnscopedSQL):
        s._bind("SELECT * FROM usage.spaces", {"tenant_id": "other"})
    for bad in ("", None, 3):
        with pytest.raises(ValueError):
            scoped.tenant(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        scoped.across_tenants(" ")


def test_a_text_is_rewritten_once() -> None:
    sql = "SELECT id FROM usage.spaces WHERE name = 'memo-probe'"
    before = scoped._rewrite.cache_info()
    for _ in range(3):
        rewrite(sql)
    after = scoped._rewrite.cache_info()
    assert (after.misses - before.misses, after.hits - before.hits) == (1, 2)


# ---------------------------------------------------------------------------------------------- paging
def test_a_page_counts_its_listing_and_adds_its_limit() -> None:
    page, count = scoped._paged("SELECT id, (SELECT count(*) FROM usage.products p WHERE p.space_id = s.id) AS n"
                                " FROM usage.spaces s WHERE slug <> :x ORDER BY slug -- newest first")
    assert page == ("SELECT id, (SELECT count(*) FROM usage.products p WHERE p.space_id = s.id) AS n, count(*)"
                    " OVER () AS _total FROM usage.spaces s WHERE slug <> :x ORDER BY slug LIMIT :page_limit"
                    " OFFSET :page_offset -- newest first")
    assert count.startswith("SELECT count(*) AS _total FROM (SELECT id,") and count.endswith("first\n) AS _counted")
    scoped_ok(page)
    scoped_ok(count)
    with_cte = scoped._paged("WITH x AS (SELECT id FROM usage.spaces) SELECT id FROM x ORDER BY id")[0]
    assert with_cte.endswith("SELECT id, count(*) OVER () AS _total FROM x ORDER BY id LIMIT :page_limit"
                             " OFFSET :page_offset")


@pytest.mark.parametrize("sql", [
    "SELECT id FROM usage.spaces LIMIT 5", "SELECT id FROM usage.spaces OFFSET 5",
    "SELECT id FROM usage.spaces UNION SELECT id FROM usage.products", "SELECT DISTINCT name FROM usage.spaces",
    "SELECT 1", "UPDATE usage.spaces SET name = 'x'", "SELECT id FROM usage.spaces;",
])
def test_a_page_is_a_plain_listing(sql: str) -> None:
    with pytest.raises(UnscopedSQL):
        scoped._paged(sql)


@pytest.mark.parametrize("sql", READS + WRITES[:-1])
def test_the_oracle_sees_each_statement_unscoped_before_the_rewrite(sql: str) -> None:
    assert unscoped(sql)
    # and with the guard off: the rewritten statement binding another tenant instead of the scope's
    assert unscoped(rewrite(sql).replace(":tenant_id", "'other'"))
