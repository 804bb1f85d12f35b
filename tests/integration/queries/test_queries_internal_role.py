"""The internal role-escape suite: the statement guard OFF, an ordinary tenant's session straight through
``CONNECTOR.session`` (or ``execute``), every known way out of the tenant's role tried on the real embedded
PostgreSQL 18. Each attempt is refused by the database or shown harmless: no row of another tenant or of
the platform comes back, platform sessions survive, no lock or session state outlives the run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from telltale.connectors.base import Limits, Prepared
from telltale.platform.errors import TelltaleError

pytestmark = pytest.mark.integration

LIMITS = Limits(max_rows=1000, statement_timeout_s=3, connect_timeout_s=5)
TENANT, SCHEMA, ROLE = "demo", "tenant_demo", "tenant_demo_reader"
MARKER = "other-tenant-marker-7f3a9c"  # a value only tenant_other holds: it must never come back
# Out of the run's READ ONLY transaction and its read-only default: what follows meets the role's privileges
# alone (the extended protocol keeps a real run from sending these; the guard-off suite sends them anyway).
READ_WRITE = ("COMMIT", "SET default_transaction_read_only = off")
# The embedded server is built without libxml: PostgreSQL itself refuses the *_to_xml family there.
NO_XML = "unsupported XML feature"
PLATFORM_TABLES = ("platform.tenants", "platform.apps", "platform.secrets", "platform.saved_queries",
                   "platform.query_executions", "platform.api_keys", "platform.api_requests",
                   "platform.schema_migrations", "events.events", "usage.connectors", "usage.bi_queries",
                   "public.pg_stat_statements")
OTHER_TABLES = ("tenant_other.shop_orders", "tenant_other.shop_customers", '"tenant_other"."shop_customers"')
ESCAPES = (
    "SELECT set_config('role', 'none', true)",
    "SELECT set_config('role', 'none', false)",
    "SELECT set_config('role', 'telltale', true)",
    "RESET ROLE",
    "SET ROLE NONE",
    "SET ROLE telltale",
    "SET LOCAL ROLE telltale",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION telltale",
    "SET SESSION AUTHORIZATION DEFAULT",
    "RESET SESSION AUTHORIZATION",
    "SELECT set_config('session_authorization', 'telltale', true)",
    "SET SESSION AUTHORIZATION postgres",
)


@pytest.fixture(scope="module")
def marked(platform_db: Any) -> Iterator[None]:
    platform_db.query("INSERT INTO tenant_other.shop_customers (id, name, email, country, created_at)"
                      " VALUES (999999, :m, :m, 'XX', now()) ON CONFLICT (id) DO NOTHING", m=MARKER)
    yield
    platform_db.query("DELETE FROM tenant_other.shop_customers WHERE id = 999999")


def run(*statements: str) -> Any:
    """The statements in one tenant session (one transaction); the rows of the last."""
    from telltale.connectors.internal import CONNECTOR

    rows = None
    with CONNECTOR.session(TENANT, SCHEMA, LIMITS) as conn:
        for sql in statements:
            rows = conn.run(sql)
    return rows


def refused(*statements: str) -> str:
    with pytest.raises(TelltaleError) as info:
        run(*statements)
    return info.value.message


def fingerprint(db: Any) -> Any:
    """What a write, a grant or a new object anywhere would change."""
    return repr((
        db.query("SELECT n.nspname, c.relname, c.relkind, c.relacl::text FROM pg_class c"
                 " JOIN pg_namespace n ON n.oid = c.relnamespace"
                 " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1, 2"),
        db.query("SELECT nspname, nspacl::text FROM pg_namespace ORDER BY 1"),
        db.query("SELECT r.rolname, r.rolcanlogin, r.rolcreaterole, r.rolcreatedb, r.rolinherit, r.rolsuper"
                 " FROM pg_roles r ORDER BY 1"),
        db.query("SELECT roleid::regrole::text, member::regrole::text FROM pg_auth_members ORDER BY 1, 2"),
        db.query("SELECT datacl::text FROM pg_database ORDER BY datname"),
        [db.query_one(f"SELECT count(*) AS n, sum(total_amount) AS s, max(status) AS m FROM {s}.shop_orders")
         for s in ("tenant_demo", "tenant_other")],
        db.query_one("SELECT count(*) AS n FROM platform.saved_queries"),
        db.query_one("SELECT count(*) AS n FROM pg_largeobject_metadata"),
    ))


def no_marker(rows: Any) -> None:
    assert MARKER not in repr(rows)


# ---------------------------------------------------------------------------- who the session is
def test_the_session_is_the_tenant_role_and_nothing_more(platform_db):
    run("SELECT 1")  # the role exists and logs in
    assert run("SELECT current_user, session_user") == [[ROLE, ROLE]]
    role = platform_db.query_one("SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolinherit,"
                                 " rolreplication, rolbypassrls, rolconnlimit FROM pg_roles WHERE rolname = :r",
                                 r=ROLE)
    assert role == {"rolcanlogin": True, "rolsuper": False, "rolcreaterole": False, "rolcreatedb": False,
                    "rolinherit": False, "rolreplication": False, "rolbypassrls": False, "rolconnlimit": 20}
    # Member of nothing: no role to SET ROLE to, none whose privileges it inherits.
    assert platform_db.query("SELECT roleid::regrole::text AS r FROM pg_auth_members"
                             " WHERE member = to_regrole(:r)", r=ROLE) == []
    # The platform user is not granted the tenant role: only its creator's ADMIN (no INHERIT, no SET).
    grants = platform_db.query("SELECT admin_option, inherit_option, set_option FROM pg_auth_members"
                               " WHERE roleid = to_regrole(:r) AND member = current_user::text::regrole", r=ROLE)
    assert all(not g["inherit_option"] and not g["set_option"] for g in grants)
    # Schemas it can use: its own and the system catalogs; it can create in none.
    usable = platform_db.query("SELECT nspname FROM pg_namespace WHERE has_schema_privilege(:r, oid, 'USAGE')"
                               " ORDER BY 1", r=ROLE)
    assert [u["nspname"] for u in usable] == ["information_schema", "pg_catalog", SCHEMA]
    assert platform_db.query("SELECT nspname FROM pg_namespace WHERE has_schema_privilege(:r, oid, 'CREATE')",
                             r=ROLE) == []
    assert platform_db.query_one(
        "SELECT has_database_privilege(:r, current_database(), 'CREATE') AS c,"
        " has_database_privilege(:r, current_database(), 'TEMPORARY') AS t", r=ROLE) == {"c": False, "t": False}
    # Tables: SELECT on its own, nothing else anywhere (the system catalogs aside).
    # (Objects in schemas it cannot use, such as pg_stat_statements in public, stay out of reach whatever
    # their own grants say: test_no_escape_reaches_more_than_the_role reads them.)
    granted = platform_db.query(
        "SELECT n.nspname, c.relname, p.p FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,"
        " unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p(p)"
        " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND has_table_privilege(:r, c.oid, p.p)"
        " AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND has_schema_privilege(:r, n.oid, 'USAGE')"
        " ORDER BY 1, 2, 3", r=ROLE)
    assert {(g["nspname"], g["p"]) for g in granted} == {(SCHEMA, "SELECT")}


def test_public_holds_nothing_of_the_database_or_the_platforms_schemas(platform_db):
    assert platform_db.query("SELECT a.privilege_type FROM pg_database d, aclexplode(d.datacl) a"
                             " WHERE d.datname = current_database() AND a.grantee = 0") == []
    assert platform_db.query("SELECT n.nspname, a.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) a"
                             " WHERE a.grantee = 0 AND n.nspname NOT IN ('pg_catalog', 'information_schema')") == []
    # Functions the platform creates later give PUBLIC no EXECUTE either.
    assert platform_db.query_one("SELECT count(*) AS n FROM pg_default_acl WHERE defaclobjtype = 'f'"
                                 " AND defaclrole = current_user::text::regrole AND defaclnamespace = 0")["n"] == 1


# ---------------------------------------------------------------------------- shedding the role
@pytest.mark.parametrize("escape", ESCAPES)
def test_no_escape_reaches_more_than_the_role(platform_db, marked, escape):
    try:
        who = run(escape, "SELECT current_user, session_user")
    except TelltaleError as exc:
        assert "permission denied" in exc.message, exc.message
    else:
        assert who == [[ROLE, ROLE]]
    for table in OTHER_TABLES + PLATFORM_TABLES:
        message = refused(escape, f"SELECT * FROM {table}")
        assert "permission denied" in message, (table, message)


SQL_IN_A_STRING = (
    "SELECT query_to_xml('SELECT * FROM tenant_other.shop_customers', true, false, '')",
    "SELECT query_to_xml('SELECT set_config(''role'', ''none'', true), name FROM tenant_other.shop_customers',"
    " true, false, '')",
    "SELECT query_to_xml('SELECT * FROM platform.secrets', true, false, '')",
    "SELECT query_to_xml_and_xmlschema('SELECT * FROM tenant_other.shop_customers', true, false, '')",
    "SELECT query_to_xmlschema('SELECT * FROM events.events', true, false, '')",
    "SELECT xpath('//name/text()', query_to_xml('SELECT name FROM tenant_other.shop_customers', true, false, ''))",
    "SELECT * FROM ts_stat('SELECT to_tsvector(name) FROM tenant_other.shop_customers')",
    "SELECT * FROM ts_stat('SELECT to_tsvector(set_config(''role'', ''none'', true) || name)"
    " FROM tenant_other.shop_customers')",
    "SELECT ts_rewrite('a'::tsquery, 'SELECT to_tsquery(''a''), plainto_tsquery(name)"
    " FROM tenant_other.shop_customers')",
    "SELECT table_to_xml('tenant_other.shop_customers', true, false, '')",
    "SELECT table_to_xml_and_xmlschema('platform.api_keys', true, false, '')",
    "SELECT schema_to_xml('tenant_other', true, false, '')",
    "SELECT schema_to_xml('platform', true, false, '')",
    "SELECT database_to_xml(true, false, '')",
    "SELECT database_to_xml_and_xmlschema(true, false, '')",
)


@pytest.mark.parametrize("sql", SQL_IN_A_STRING)
def test_sql_run_from_a_string_runs_as_the_role(platform_db, marked, sql):
    try:
        rows = run("SELECT set_config('role', 'none', true)", sql)
    except TelltaleError as exc:
        assert "permission denied" in exc.message or NO_XML in exc.message, exc.message
        return
    no_marker(rows)
    assert "sk_" not in repr(rows) and "api_key" not in repr(rows).lower()


def test_a_cursor_cannot_be_opened_on_another_schema(platform_db, marked):
    assert "permission denied" in refused("DECLARE c CURSOR FOR SELECT * FROM tenant_other.shop_customers",
                                          "SELECT cursor_to_xml('c', 10, true, false, '')")
    try:
        rows = run("DECLARE c CURSOR FOR SELECT name FROM shop_customers",
                   "SELECT set_config('role', 'none', true)", "SELECT cursor_to_xml('c', 1000, true, false, '')")
    except TelltaleError as exc:
        assert NO_XML in exc.message
    else:
        no_marker(rows)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM pg_authid", "SELECT rolpassword FROM pg_authid", "SELECT * FROM pg_shadow",
    "SELECT * FROM pg_user_mapping", "SELECT * FROM pg_statistic", "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')", "SELECT pg_ls_dir('.')", "SELECT lo_import('/etc/passwd')",
    "SELECT * FROM pg_hba_file_rules", "SELECT * FROM pg_file_settings", "SELECT pg_reload_conf()",
    "SELECT pg_stat_statements_reset()", "SELECT * FROM public.pg_stat_statements",
])
def test_privileged_catalogs_and_files_are_refused(platform_db, sql):
    message = refused(sql)
    assert "permission denied" in message or "does not exist" in message, message


def test_role_passwords_are_not_visible(platform_db):
    assert run("SELECT DISTINCT rolpassword FROM pg_roles") == [["********"]]


def test_catalogs_still_show_names_but_never_rows(platform_db, marked):
    """The residual, documented in docs/queries.md: the system catalogs belong to the bootstrap superuser and
    PUBLIC reads them, so a tenant role sees other schemas' and tables' names (and pg_stat_* counters);
    no non-superuser can revoke that. Rows stay out of reach."""
    names = run("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'tenant_other'")
    assert ["shop_customers"] in names
    counters = run("SELECT relname, n_live_tup FROM pg_stat_all_tables WHERE schemaname = 'tenant_other'")
    assert {r[0] for r in counters} >= {"shop_customers", "shop_orders"}  # counters, not rows
    no_marker(counters)
    assert "permission denied" in refused("SELECT * FROM tenant_other.shop_customers")
    assert "permission denied" in refused("SELECT 'tenant_other.shop_customers'::regclass")


def test_copy_to_a_program_or_a_file_is_refused(platform_db):
    for sql in ("COPY (SELECT 1) TO PROGRAM 'touch /tmp/tt_internal_program'",
                "COPY shop_orders TO '/tmp/tt_internal_copy'",
                "COPY shop_orders FROM '/etc/hostname'"):
        message = refused(sql)
        assert "permission denied" in message or "read-only transaction" in message, (sql, message)
        message = refused(*READ_WRITE, sql)
        assert "permission denied" in message, (sql, message)
    assert not os.path.exists("/tmp/tt_internal_program") and not os.path.exists("/tmp/tt_internal_copy")


# ---------------------------------------------------------------------------- signals and locks
def test_platform_sessions_cannot_be_cancelled_or_terminated(platform_db):
    from telltale.platform import db

    other = db.connect()
    try:
        pid = other.run("SELECT pg_backend_pid()")[0][0]
        platform_pid = db.query_one("SELECT pg_backend_pid() AS p")["p"]
        for target in (pid, platform_pid):
            for fn in ("pg_cancel_backend", "pg_terminate_backend"):
                for sql in (f"SELECT {fn}({target})", f"SELECT set_config('role', 'none', true), {fn}({target})",
                            f"SELECT * FROM ts_stat('SELECT to_tsvector({fn}({target})::text)')"):
                    assert "permission denied" in refused(sql), sql
        assert other.run("SELECT 1") == [[1]]
        assert db.query_one("SELECT pg_backend_pid() AS p")["p"] == platform_pid
    finally:
        other.close()


def _tenant_advisory_locks(db: Any) -> list[Any]:
    return db.query("SELECT l.objid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND a.usename = :r", r=ROLE)


def test_no_advisory_lock_outlives_the_run(platform_db):
    run("SELECT pg_advisory_lock(424201), pg_advisory_lock_shared(424202), pg_try_advisory_lock(424203)")
    assert _tenant_advisory_locks(platform_db) == []
    refused("SELECT pg_advisory_lock(424204)", "SELECT 1 / 0")
    run("ROLLBACK", "SELECT pg_advisory_lock(424205)")  # taken outside the run's transaction
    run("SELECT * FROM ts_stat('SELECT to_tsvector(pg_advisory_lock(424206)::text)')")
    assert _tenant_advisory_locks(platform_db) == []
    got = platform_db.query_one("SELECT pg_try_advisory_lock(424201) AND pg_try_advisory_lock(424205)"
                                " AND pg_try_advisory_lock(424206) AS ok")
    assert got == {"ok": True}
    platform_db.query("SELECT pg_advisory_unlock_all()")


# ---------------------------------------------------------------------------- nothing survives the run
STATE = ("SELECT pg_backend_pid(), current_setting('work_mem'), current_setting('statement_timeout'),"
         " current_setting('search_path'), current_setting('transaction_read_only'),"
         " current_setting('default_transaction_read_only'), coalesce(current_setting('telltale_probe.v', true), ''),"
         " (SELECT count(*) FROM pg_prepared_statements), (SELECT count(*) FROM pg_cursors),"
         " (SELECT count(*) FROM pg_listening_channels()), (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
         " AND pid = pg_backend_pid()), pg_my_temp_schema(), current_user, session_user")


@pytest.mark.parametrize("leftovers", [
    ("SET work_mem = '77MB'", "SET statement_timeout = 0", "SET search_path = tenant_other",
     "SELECT set_config('telltale_probe.v', 'left', false)"),
    ("ROLLBACK", "SET work_mem = '77MB'", "SET statement_timeout = 0", "SET search_path = tenant_other",
     "SET default_transaction_read_only = off", "SET telltale_probe.v = 'left'", "LISTEN telltale_probe",
     "PREPARE telltale_p AS SELECT 1", "SELECT pg_advisory_lock(424210)"),
    ("COMMIT", "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
     "SET work_mem = '77MB'", "SET default_transaction_read_only = off"),
    ("PREPARE telltale_p AS SELECT 1", "SELECT set_config('search_path', 'tenant_other', false)"),
])
def test_no_session_state_survives_into_the_next_run(platform_db, leftovers):
    from telltale.connectors.internal import POOL

    POOL.close_all()
    baseline = run(STATE)
    run(*leftovers)
    after = run(STATE)
    assert after[0][0] == baseline[0][0], "the same cached session served both runs"
    assert after == baseline


def test_temporary_objects_are_refused(platform_db):
    for sql in ("CREATE TEMP TABLE t (x int)", "CREATE TEMP VIEW v AS SELECT 1", "CREATE TEMP SEQUENCE s",
                "SELECT 1 INTO TEMP t"):
        assert "read-only transaction" in refused(sql), sql
        assert "read-only transaction" in refused("COMMIT", sql), sql
        assert "permission denied" in refused(*READ_WRITE, sql), sql


# ---------------------------------------------------------------------------- writes and objects
WRITES = (
    "INSERT INTO shop_orders SELECT * FROM shop_orders LIMIT 0",
    "UPDATE shop_orders SET status = status",
    "DELETE FROM shop_customers WHERE id < 0",
    "TRUNCATE shop_orders",
    "MERGE INTO shop_orders o USING shop_orders s ON o.id = s.id WHEN MATCHED THEN DO NOTHING",
    "ALTER TABLE shop_orders ADD COLUMN x int",
    "DROP TABLE shop_customers",
    "GRANT SELECT ON shop_orders TO PUBLIC",
    "CREATE TABLE tenant_demo.x (i int)",
    "CREATE VIEW tenant_demo.v AS SELECT 1",
    "CREATE TABLE public.x (i int)",
    "CREATE SCHEMA evil",
    "CREATE SCHEMA IF NOT EXISTS public",
    "CREATE FUNCTION tenant_demo.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE EXTENSION dblink",
    "CREATE ROLE evil",
    "CREATE DATABASE evil",
    "ALTER ROLE tenant_demo_reader CREATEROLE",
    "ALTER ROLE tenant_demo_reader CONNECTION LIMIT -1",
    "GRANT telltale TO tenant_demo_reader",
    "ALTER SCHEMA tenant_demo RENAME TO evil",
    "ANALYZE shop_orders",
    "VACUUM shop_orders",
    "REFRESH MATERIALIZED VIEW shop_orders",
    "SELECT pg_clear_relation_stats('tenant_demo', 'shop_orders')",
    "SELECT lo_create(424299)",
    "COMMENT ON TABLE shop_orders IS 'x'",
    "SECURITY LABEL ON TABLE shop_orders IS 'x'",
)


# Accepted by the server and harmless: a MERGE that does nothing; ANALYZE of a table the role does not own
# only warns ("skipping"). The fingerprint shows nothing changed.
HARMLESS = {WRITES[4], "ANALYZE shop_orders"}


# Large objects: any role may create them (lo_create belongs to the superuser and PUBLIC executes it; no
# privilege governs creation), so the role alone does not stop this write. The READ ONLY transaction and the
# login's read-only default do, and a real run cannot leave them (one statement, extended protocol).
READ_ONLY_ONLY = {"SELECT lo_create(424299)"}


@pytest.mark.parametrize("sql", WRITES)
def test_writes_and_new_objects_are_refused_even_outside_the_transaction(platform_db, local_stack, sql):
    run("SELECT 1")  # the reader role is made on first use: let that happen before the fingerprint
    before = fingerprint(platform_db)
    for statements in ((sql,), ("COMMIT", sql), (*READ_WRITE, sql)):  # the last meets the role alone
        if sql in READ_ONLY_ONLY and statements[:-1] == READ_WRITE:
            run(*statements)
            admin = local_stack.pg.connect("postgres")
            try:
                assert admin.run("SELECT lo_unlink(424299)") == [[1]]
            finally:
                admin.close()
        elif sql in HARMLESS:
            with contextlib.suppress(TelltaleError):
                run(*statements)
        else:
            refused(*statements)
    after = fingerprint(platform_db)
    assert after == before, _difference(before, after)


def _difference(before: str, after: str) -> str:
    import difflib
    return "\n".join(difflib.unified_diff(before.split("}, {"), after.split("}, {"), lineterm="", n=0))


def test_one_statement_per_run_through_execute(platform_db):
    from telltale.connectors.internal import CONNECTOR

    before = fingerprint(platform_db)
    for text in ("SELECT 1) AS a; COMMIT; ALTER ROLE tenant_demo_reader PASSWORD 'known'; SELECT (1",
                 "SELECT 1) AS a; SET ROLE NONE; SELECT * FROM tenant_other.shop_orders; SELECT (1"):
        with pytest.raises(TelltaleError) as info:
            CONNECTOR.execute(Prepared(text=text, config={}, tenant_id=TENANT, tenant_schema=SCHEMA), LIMITS)
        assert "multiple commands" in info.value.message
    assert fingerprint(platform_db) == before


def test_params_are_bound_by_name(platform_db):
    from telltale.connectors.internal import CONNECTOR

    result = CONNECTOR.execute(Prepared(text="SELECT count(*) AS n FROM shop_orders WHERE status = :s",
                                        config={}, tenant_id=TENANT, tenant_schema=SCHEMA,
                                        params={"s": "x'; SELECT 1; --"}), LIMITS)
    assert result.rows == [{"n": 0}]


# ---------------------------------------------------------------------------- the role's own settings
def test_defaults_the_role_sets_for_itself_change_nothing(platform_db, marked):
    from telltale.connectors.internal import POOL

    assert "read-only transaction" in refused("COMMIT", "ALTER ROLE tenant_demo_reader SET search_path = tenant_other")
    run(*READ_WRITE, "ALTER ROLE tenant_demo_reader SET search_path = tenant_other",
        "ALTER ROLE tenant_demo_reader SET default_transaction_read_only = off")
    POOL.close_all()  # the next run logs in anew and gets these defaults
    assert run("SELECT current_setting('search_path'), current_setting('transaction_read_only')"
               ) == [['"tenant_demo"', "on"]]
    assert "permission denied" in refused("SELECT * FROM tenant_other.shop_customers")
    from telltale.connectors.internal import ensure_login_role

    ensure_login_role(TENANT)  # the platform's repair drops them
    assert platform_db.query("SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = to_regrole(:r)",
                             r=ROLE) == [{"setconfig": ["default_transaction_read_only=on", "statement_timeout=60s",
                                                        "idle_session_timeout=300s"]}]


def test_a_changed_password_heals_and_the_known_one_stops_working(platform_db, local_stack):
    """The tenant changes its own password (ordinary roles may), or the platform password is rotated:
    the next login fails once, the platform re-sets the derived password and logs in again."""
    import pg8000.native

    from telltale.connectors.internal import POOL

    run(*READ_WRITE, "ALTER ROLE tenant_demo_reader PASSWORD 'known-by-the-tenant'")
    POOL.close_all()
    assert run("SELECT current_user") == [[ROLE]]
    with pytest.raises(pg8000.exceptions.DatabaseError):
        pg8000.native.Connection(ROLE, host="127.0.0.1", port=local_stack.pg.port, database="telltale",
                                 password="known-by-the-tenant").close()
    # Rotation: the stored verifier no longer matches what the platform derives.
    from telltale.connectors.internal import scram_verifier

    platform_db.query(f"ALTER ROLE tenant_demo_reader PASSWORD '{scram_verifier('derived-from-an-old-key')}'")
    POOL.close_all()
    assert run("SELECT current_user") == [[ROLE]]


def test_a_role_that_cannot_log_in_is_repaired(platform_db):
    """Reader roles made before this change were NOLOGIN and granted to the platform user."""
    from telltale.connectors.internal import POOL

    platform_db.query("ALTER ROLE tenant_demo_reader NOLOGIN")
    platform_db.query("GRANT tenant_demo_reader TO current_user")
    POOL.close_all()
    assert run("SELECT current_user") == [[ROLE]]
    assert platform_db.query_one("SELECT pg_has_role(current_user, :r, 'SET') AS s,"
                                 " pg_has_role(current_user, :r, 'USAGE') AS u", r=ROLE) == {"s": False, "u": False}


# ---------------------------------------------------------------------------- connections
def test_a_session_that_dies_is_replaced(platform_db):
    first = run("SELECT pg_backend_pid()")[0][0]
    refused("SELECT pg_terminate_backend(pg_backend_pid())")  # its own session: allowed, and harmless
    second = run("SELECT pg_backend_pid()")[0][0]
    assert second != first
    assert run("SELECT pg_backend_pid()")[0][0] == second  # cached again


def test_sessions_are_per_tenant_and_bounded(platform_db):
    from telltale.connectors.internal import CONNECTOR, POOL

    with CONNECTOR.session("other", "tenant_other", LIMITS) as conn:
        assert conn.run("SELECT current_user") == [["tenant_other_reader"]]
        assert conn.run("SELECT count(*) FROM shop_customers WHERE name = :m", m=MARKER)[0][0] in (0, 1)
    assert "permission denied" in refused("SELECT * FROM tenant_other.shop_customers")
    assert len(POOL) <= POOL.size


def test_the_pool_closes_what_it_evicts():
    from telltale.connectors.internal import _Pool

    class Conn:
        closed = False

        def close(self) -> None:
            self.closed = True

    pool = _Pool(2)
    a, b, c = Conn(), Conn(), Conn()
    pool.give(("a",), a)  # type: ignore[arg-type]
    pool.give(("b",), b)  # type: ignore[arg-type]
    pool.give(("c",), c)  # type: ignore[arg-type]
    assert a.closed and not b.closed and not c.closed and len(pool) == 2
    assert pool.take(("a",)) is None and pool.take(("b",)) is b
    pool.close_all()
    assert c.closed and len(pool) == 0


def test_a_tenant_without_a_schema_is_a_400(platform_db):
    from telltale.connectors.internal import CONNECTOR

    with pytest.raises(TelltaleError) as info, CONNECTOR.session("nobody-here", "tenant_nobody_here", LIMITS):
        pass
    assert info.value.status_code == 400 and "Tenant schema required" in info.value.message
    assert platform_db.query("SELECT 1 FROM pg_roles WHERE rolname = 'tenant_nobody_here_reader'") == []


def test_dblink_is_out_of_reach(platform_db, local_stack):
    admin = local_stack.pg.connect("postgres")
    try:
        try:
            admin.run("CREATE EXTENSION IF NOT EXISTS dblink SCHEMA public")
        except Exception as exc:
            pytest.skip(f"dblink is not installable on this server: {exc}")
        try:
            for sql in ("SELECT * FROM public.dblink('dbname=telltale user=telltale', 'SELECT 1') AS t(x int)",
                        "SELECT public.dblink_connect('dbname=telltale')"):
                assert "permission denied" in refused(sql), sql
            assert "does not exist" in refused("SELECT dblink_connect('dbname=telltale')")
        finally:
            admin.run("DROP EXTENSION dblink")
    finally:
        admin.close()
