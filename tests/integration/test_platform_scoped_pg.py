"""The tenant scope against the real platform database: two tenants' rows, one scope, only its rows.

Every statement here names no tenant; each returns (or changes) only the scope's rows, or is refused. The
plans PostgreSQL makes of scoped statements are the plans of the hand-written predicates they replace.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from telltale.platform import scoped
from telltale.platform.scoped import TENANT_SCHEMAS, TENANT_TABLES, UnscopedSQL

pytestmark = pytest.mark.integration


def test_the_tenant_tables_are_the_tables_with_a_tenant_column(platform_db: Any) -> None:
    """A new table with tenant_id (or any new table in a tenant schema) must be listed in TENANT_TABLES."""
    partitions = "(SELECT c.relname FROM pg_class c WHERE c.relispartition)"
    with_column = platform_db.query(
        "SELECT c.table_schema AS s, c.table_name AS t FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'"
        " AND c.table_schema NOT LIKE 'tenant\\_%' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')"
        f" AND c.table_name NOT IN {partitions}")
    assert {(r["s"], r["t"]) for r in with_column} == TENANT_TABLES
    in_tenant_schemas = platform_db.query(
        "SELECT table_schema AS s, table_name AS t FROM information_schema.tables"
        f" WHERE table_schema = ANY(:schemas) AND table_name NOT IN {partitions}", schemas=sorted(TENANT_SCHEMAS))
    assert {(r["s"], r["t"]) for r in in_tenant_schemas} <= TENANT_TABLES


@pytest.fixture
def two_tenants(platform_db: Any) -> Iterator[dict[str, Any]]:
    """Tenants a and b, each with a space, a product (with usage stats), a connector and an API key; the rows'
    names say whose they are."""
    db = platform_db
    ids = {"a": "scope-a-" + uuid.uuid4().hex[:8], "b": "scope-b-" + uuid.uuid4().hex[:8]}
    out: dict[str, Any] = {"ids": ids}
    for who, t in ids.items():
        db.query("INSERT INTO platform.tenants (id, schema_name) VALUES (:t, :s)", t=t, s="tenant_" + t)
        sp = db.query_one("INSERT INTO usage.spaces (tenant_id, slug, name) VALUES (:t, :s, :n) RETURNING id",
                          t=t, s=f"{who}-space", n=f"{who}-space")["id"]
        pr = db.query_one("INSERT INTO usage.products (tenant_id, space_id, name) VALUES (:t, :sp, :n) RETURNING id",
                          t=t, sp=sp, n=f"{who}-product")["id"]
        db.query("INSERT INTO usage.product_usage_stats (product_id, tenant_id, space_id, query_count_30d)"
                 " VALUES (:p, :t, :sp, 7)", p=pr, t=t, sp=sp)
        cid = db.query_one("INSERT INTO usage.connectors (tenant_id, name, type, secret_name, created_by)"
                           " VALUES (:t, :n, 'superset', 'x', 'u') RETURNING id", t=t, n=f"{who}-connector")["id"]
        db.query("INSERT INTO platform.api_keys (id, tenant_id, key_hash, key_prefix, name, created_by)"
                 " VALUES (CAST(:id AS uuid), :t, :h, 'tt_', :n, 'u')", id=str(uuid.uuid4()), t=t,
                 h=uuid.uuid4().hex, n=f"{who}-key")
        out[who] = {"space": sp, "product": pr, "connector": cid}
    try:
        yield out
    finally:
        for t in ids.values():
            for table in ("usage.product_usage_stats", "usage.products", "usage.spaces", "usage.connectors",
                          "platform.api_keys"):
                db.query(f"DELETE FROM {table} WHERE tenant_id = :t", t=t)
            db.query("DELETE FROM platform.tenants WHERE id = :t", t=t)


# Each returns rows with a column "name"; on a's scope every name must be a's (and there must be some).
READS = {
    "plain": "SELECT name FROM usage.spaces",
    "or true": "SELECT name FROM usage.spaces WHERE slug = 'nothing' OR true",
    "CTE": "WITH x AS (SELECT name FROM usage.products) SELECT name FROM x",
    "scalar subquery in the select list": "SELECT (SELECT string_agg(name, ',') FROM usage.products) AS name",
    "UNION": "SELECT name FROM usage.spaces UNION ALL SELECT name FROM usage.products UNION SELECT name FROM"
             " usage.connectors",
    "LATERAL": "SELECT l.name FROM platform.tenants t CROSS JOIN LATERAL (SELECT name FROM usage.products) l"
               " WHERE t.id = ANY(:tenants)",
    "comma join": "SELECT s.name || ',' || p.name AS name FROM usage.spaces s, usage.products p",
    "join by id only": "SELECT p.name FROM usage.product_usage_stats st JOIN usage.products p ON p.id = st.product_id",
    # Were the stats not scoped, the other tenant's row would show as 'b-stats' (its product is out of sight).
    "left join by id": "SELECT COALESCE(p.name, 'b-stats') AS name FROM usage.product_usage_stats st"
                       " LEFT JOIN usage.products p ON p.id = st.product_id",
    "EXISTS": "SELECT name FROM usage.products p WHERE EXISTS (SELECT 1 FROM usage.spaces s WHERE s.id = p.space_id)",
    "IN": "SELECT name FROM usage.products WHERE space_id IN (SELECT id FROM usage.spaces)",
    "quoted": 'SELECT name FROM "usage"."spaces"',
    "upper-cased": "SELECT NAME FROM USAGE.SPACES",
    "comment between schema and table": "SELECT name FROM usage/* the schema */./* the table */products",
    "line comment between": "SELECT name FROM usage -- the schema\n . connectors",
    "ARRAY": "SELECT array_to_string(ARRAY(SELECT name FROM platform.api_keys ORDER BY name), ',') AS name",
    "nested subqueries": "SELECT name FROM (SELECT name FROM (SELECT name FROM usage.connectors) x) y",
}


@pytest.mark.parametrize("sql", list(READS.values()), ids=list(READS))
def test_a_scope_reads_only_its_tenants_rows(two_tenants: dict[str, Any], sql: str) -> None:
    ids = two_tenants["ids"]
    rows = scoped.tenant(ids["a"]).query(sql, tenants=list(ids.values()))
    names = [n for r in rows for n in str(r["name"]).split(",")]
    assert names, "the statement returned nothing: the test would prove nothing"
    assert all(n.startswith(("a-", "scope-a-")) for n in names), names
    # The same statement without the scope sees both tenants (so the test could fail).
    raw = scoped.across_tenants("the test's unscoped control").query(sql, tenants=list(ids.values()))
    assert any(n.startswith(("b-", "scope-b-")) for r in raw for n in str(r["name"]).split(",")), raw


def test_another_tenants_ids_find_nothing(two_tenants: dict[str, Any]) -> None:
    a = scoped.tenant(two_tenants["ids"]["a"])
    b_space, b_product = two_tenants["b"]["space"], two_tenants["b"]["product"]
    assert a.query("SELECT name FROM usage.products WHERE space_id = :s", s=b_space) == []
    assert a.query("SELECT query_count_30d FROM usage.product_usage_stats WHERE product_id = :p", p=b_product) == []
    assert a.query("SELECT 1 AS x WHERE EXISTS (SELECT 1 FROM usage.spaces WHERE id = :s)", s=b_space) == []
    assert a.query("SELECT 1 AS x WHERE EXISTS (SELECT 1 FROM usage.spaces WHERE name = 'b-space')") == []
    control = scoped.across_tenants("the test's unscoped control")
    assert control.query("SELECT 1 AS x WHERE EXISTS (SELECT 1 FROM usage.spaces WHERE id = :s)", s=b_space)


def test_a_scope_changes_only_its_tenants_rows(platform_db: Any, two_tenants: dict[str, Any]) -> None:
    ids, b = two_tenants["ids"], two_tenants["b"]
    a = scoped.tenant(ids["a"])

    def b_rows(sql: str, **params: Any) -> list[dict[str, Any]]:
        return platform_db.query(sql, t=ids["b"], **params)

    before = b_rows("SELECT description FROM usage.spaces WHERE tenant_id = :t")
    assert [r["name"] for r in a.query("UPDATE usage.spaces SET description = 'hit' WHERE slug = 'x' OR true"
                                       " RETURNING name")] == ["a-space"]
    assert b_rows("SELECT description FROM usage.spaces WHERE tenant_id = :t") == before
    # UPDATE ... FROM another tenant's rows, by their id: nothing to join.
    assert a.query("UPDATE usage.spaces s SET description = p.name FROM usage.products p WHERE p.space_id = :sp"
                   " RETURNING s.id", sp=b["space"]) == []
    # An upsert whose conflict key (product_id) lacks tenant_id, aimed at the other tenant's row: its stats stay.
    assert a.query("INSERT INTO usage.product_usage_stats (product_id, space_id, query_count_30d)"
                   " VALUES (:p, :sp, 99) ON CONFLICT (product_id) DO UPDATE SET query_count_30d = 99"
                   " RETURNING product_id", p=b["product"], sp=b["space"]) == []
    assert b_rows("SELECT query_count_30d FROM usage.product_usage_stats WHERE tenant_id = :t") == [
        {"query_count_30d": 7}]
    # INSERT ... SELECT copies the scope's rows only, and the copies are the scope's.
    copied = a.query("INSERT INTO usage.spaces (slug, name) SELECT slug || '-copy', name || '-copy'"
                     " FROM usage.spaces RETURNING name")
    assert [r["name"] for r in copied] == ["a-space-copy"]
    assert platform_db.query_one("SELECT tenant_id FROM usage.spaces WHERE name = 'a-space-copy' AND"
                                 " tenant_id = ANY(:ts)", ts=list(ids.values()))["tenant_id"] == ids["a"]
    # DELETE with a condition that is always true, and DELETE ... USING: the other tenant's rows stay.
    a.query("DELETE FROM usage.spaces WHERE name LIKE '%-copy' OR true AND slug <> 'a-space'")
    a.query("DELETE FROM usage.product_usage_stats st USING usage.products p WHERE p.id = st.product_id OR true")
    assert b_rows("SELECT count(*) AS n FROM usage.spaces WHERE tenant_id = :t") == [{"n": 1}]
    assert b_rows("SELECT count(*) AS n FROM usage.product_usage_stats WHERE tenant_id = :t") == [{"n": 1}]
    assert platform_db.query("SELECT count(*) AS n FROM usage.product_usage_stats WHERE tenant_id = :t",
                             t=ids["a"]) == [{"n": 0}]


@pytest.mark.parametrize("sql", [
    "SELECT usage.spaces.name FROM usage.spaces", "SELECT name FROM spaces",
    "SELECT name FROM usage.spaces WHERE tenant_id <> 'x'", "TABLE usage.spaces",
    "SELECT query_to_xml('SELECT name FROM usage.spaces', true, true, '') AS name",
    "SELECT name FROM usage.spaces; SELECT name FROM usage.products",
])
def test_what_cannot_be_scoped_never_reaches_the_database(two_tenants: dict[str, Any], sql: str) -> None:
    with pytest.raises(UnscopedSQL):
        scoped.tenant(two_tenants["ids"]["a"]).query(sql)


def test_a_page_past_the_end_still_has_the_listings_total(two_tenants: dict[str, Any]) -> None:
    a = scoped.tenant(two_tenants["ids"]["a"])
    listing = "SELECT name FROM usage.spaces UNION ALL SELECT name FROM usage.products"
    with pytest.raises(UnscopedSQL):
        a.page(listing, limit=1, offset=0)
    listing = "SELECT name FROM usage.connectors WHERE name LIKE :p ORDER BY name"
    assert a.page(listing, limit=1, offset=0, p="%") == ([{"name": "a-connector"}], 1)
    assert a.page(listing, limit=1, offset=5, p="%") == ([], 1)
    assert a.page(listing, limit=1, offset=0, p="none%") == ([], 0)
    assert a.page(listing, limit=1, offset=3, p="none%") == ([], 0)


# ------------------------------------------------------------------------------------------------ plans
def _plan(db: Any, sql: str, **params: Any) -> str:
    with db.transaction() as tx:
        # Tables this small would be scanned whole either way; the question is whether the indexes serve.
        tx.run("SET LOCAL enable_seqscan = off")
        lines = [r[0] for r in tx.run("EXPLAIN (COSTS OFF) " + sql, **params)]
    text = "\n".join(lines)
    # The scoped form names the base table by itself where the hand-written form used its alias.
    text = re.sub(r"( on \w+) \w+$", r"\1", text, flags=re.MULTILINE)
    return re.sub(r"\b\w+\.(\w+)", r"\1", text)


PLANS = {
    "indexed lookup": (
        "SELECT id, name, type FROM usage.connectors WHERE tenant_id = :tenant_id AND id = CAST(:c AS uuid)",
        "SELECT id, name, type FROM usage.connectors WHERE id = CAST(:c AS uuid)"),
    "join": (
        "SELECT p.id, p.name, s.query_count_30d FROM usage.products p LEFT JOIN usage.product_usage_stats s"
        " ON s.product_id = p.id AND s.tenant_id = :tenant_id WHERE p.tenant_id = :tenant_id AND p.space_id = :sp",
        "SELECT p.id, p.name, s.query_count_30d FROM usage.products p LEFT JOIN usage.product_usage_stats s"
        " ON s.product_id = p.id WHERE p.space_id = :sp"),
    "correlated count": (
        "SELECT s.slug, (SELECT count(*) FROM usage.products p WHERE p.space_id = s.id AND p.tenant_id = :tenant_id)"
        " AS n FROM usage.spaces s WHERE s.tenant_id = :tenant_id AND s.slug = :slug",
        "SELECT s.slug, (SELECT count(*) FROM usage.products p WHERE p.space_id = s.id) AS n FROM usage.spaces s"
        " WHERE s.slug = :slug"),
}


@pytest.mark.parametrize("pair", list(PLANS.values()), ids=list(PLANS))
def test_scoped_statements_get_the_plans_of_hand_written_predicates(platform_db: Any, two_tenants: dict[str, Any],
                                                                    pair: tuple[str, str]) -> None:
    hand, written = pair
    a = two_tenants["a"]
    params = {"tenant_id": two_tenants["ids"]["a"], "c": str(a["connector"]), "sp": a["space"], "slug": "a-space"}
    sent = scoped.rewrite(written)
    assert sent != written and "tenant_id = :tenant_id" in sent
    used = {k: v for k, v in params.items() if f":{k}" in hand}
    assert _plan(platform_db, sent, **used) == _plan(platform_db, hand, **used)
    assert "Index" in _plan(platform_db, sent, **used)
