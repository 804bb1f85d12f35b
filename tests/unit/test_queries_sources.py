"""The data-source registry and the allow-lists derived from it.

Each source declares its functions in the database's own vocabulary; the guard maps them once to what
sqlglot parses a call into. These tests hold the two together (every listed function, called, passes the
guard), attack the lists from outside (every known-dangerous function of each engine, called any way
sqlglot reads it, is refused by name), and check that what is derived from the registry (secret types,
connectors) is exactly what it declares.
"""

from __future__ import annotations

import pytest

from telltale import sources
from telltale.platform.errors import QueryValidationError, SecretResolutionError
from telltale.queries import guard

SQL_SOURCES = ["postgres", "redshift", "mysql", "clickhouse", "internal"]
INTERNAL = guard.Internal("tenant_demo", "shop")

DANGEROUS = {
    "postgres": """pg_sleep pg_sleep_for pg_sleep_until set_config current_setting query_to_xml
        query_to_xml_and_xmlschema query_to_xmlschema ts_stat ts_rewrite cursor_to_xml cursor_to_xmlschema
        table_to_xml schema_to_xml database_to_xml database_to_xml_and_xmlschema xpath xpath_exists lo_import
        lo_export lo_create lo_unlink lo_get lo_put lo_from_bytea pg_read_file pg_read_binary_file pg_ls_dir
        pg_stat_file pg_ls_logdir pg_ls_waldir dblink dblink_exec dblink_connect nextval setval currval lastval
        pg_advisory_lock pg_advisory_xact_lock pg_try_advisory_lock pg_advisory_unlock_all pg_terminate_backend
        pg_cancel_backend pg_notify pg_restore_relation_stats pg_clear_relation_stats pg_restore_attribute_stats
        pg_clear_attribute_stats txid_current pg_current_xact_id version current_user session_user current_schema
        current_schemas current_database format factorial pg_reload_conf pg_rotate_logfile pg_switch_wal
        has_table_privilege has_schema_privilege to_regclass to_regproc pg_get_functiondef pg_get_viewdef
        inet_server_addr inet_client_addr pg_backend_pid pg_stat_get_activity pg_stat_reset pg_logical_emit_message
        pg_create_logical_replication_slot pg_drop_replication_slot pg_import_system_collations
        pg_log_backend_memory_contexts obj_description col_description format_type pg_typeof
        txid_current_snapshot pg_export_snapshot make_interval_sleep json_populate_record jsonb_populate_recordset
        pg_column_size pg_relation_size pg_database_size pg_table_size pg_total_relation_size lo_open loread""",
    "mysql": """sleep benchmark get_lock release_lock release_all_locks is_free_lock is_used_lock load_file
        master_pos_wait source_pos_wait wait_for_executed_gtid_set user current_user session_user system_user
        database schema version connection_id last_insert_id found_rows row_count sys_exec sys_eval name_const
        uuid_short gtid_subset statement_digest_text""",
    "clickhouse": """file url s3 s3Cluster remote remoteSecure cluster clusterAllReplicas mysql postgresql jdbc
        odbc hdfs input executable executablePool dictionary dictGet dictGetString dictGetOrDefault dictHas joinGet
        joinGetOrNull icebergLocal iceberg icebergS3 deltaLake deltaLakeLocal hudi merge loop view generateRandom
        sleep sleepEachRow throwIf currentUser currentDatabase version hostName getSetting getMacro uptime
        azureBlobStorage mongodb redis sqlite fuzzJSON timezone serverUUID filesystemAvailable getServerPort
        connectionId initialQueryID queryID shardNum""",
}
DANGEROUS["redshift"] = DANGEROUS["postgres"]
DANGEROUS["internal"] = DANGEROUS["postgres"]

CALLS = ("SELECT {}(1)", "SELECT {}('x')", "SELECT {}()", "SELECT {}(1, 2)", "SELECT * FROM {}(1)",
         "SELECT * FROM {}('x', 'y')", "SELECT * FROM t WHERE x = {}(1)", 'SELECT "{}"(1)')


def _check(sql: str, slug: str) -> None:
    rules = sources.get(slug).sql
    assert rules is not None
    guard.check(sql, rules.dialect, internal=INTERNAL if slug == "internal" else None, rules=rules)


@pytest.mark.parametrize("slug", SQL_SOURCES)
def test_every_dangerous_function_is_refused_by_name_however_it_is_called(slug):
    rules = sources.get(slug).sql
    assert rules is not None
    for name in DANGEROUS[slug].split():
        assert name not in rules.functions and name not in rules.table_functions, name
        for form in CALLS:
            sql = form.format(name)
            try:
                _check(sql, slug)
            except QueryValidationError as exc:
                assert exc.message.startswith("query refused"), (sql, exc.message)
                continue
            raise AssertionError(f"{slug}: {sql!r} passed the guard")


@pytest.mark.parametrize("slug", SQL_SOURCES)
def test_every_listed_function_called_passes_the_guard(slug):
    rules = sources.get(slug).sql
    assert rules is not None
    forms = ("SELECT {}(x) FROM t", "SELECT {}(x, y) FROM t", "SELECT {}() FROM t", "SELECT {}(x, y, z) FROM t",
             "SELECT {}(x FROM y) FROM t", "SELECT {}(x IN y) FROM t", "SELECT {} FROM t")
    unreachable = []
    for name in sorted(rules.functions):
        for form in forms:
            try:
                _check(form.format(name), slug)
                break
            except QueryValidationError as exc:
                if "could not be parsed" in exc.message or "could not be read" in exc.message:
                    continue
                if f"{name.lower()}()" in exc.message.lower() or "is not allowed" in exc.message:
                    continue
                raise
        else:
            unreachable.append(name)
    assert unreachable == [], f"{slug}: listed but refused or unparseable in every form: {unreachable}"
    for name in sorted(rules.table_functions):
        _check(f"SELECT * FROM {name}(1, 2) AS g", slug)


def test_a_schema_qualified_or_quoted_spelling_does_not_reach_a_refused_function():
    for sql in ('SELECT pg_catalog.pg_sleep(1)', 'SELECT "pg_catalog"."pg_sleep"(1)', 'SELECT "PG_SLEEP"(1)',
                'SELECT U&"\\0070g_sleep"(1)', 'SELECT "pg_sl" || "eep"(1)'):
        with pytest.raises(QueryValidationError, match=r"pg_sleep|PG_SLEEP|0070g_sleep|eep"):
            _check(sql, "postgres")
    for sql in ("SELECT public.lower('x')", "SELECT pg_catalog.lower('x')"):
        with pytest.raises(QueryValidationError, match="schema-qualified"):
            _check(sql, "postgres")
    # A quoted name of an allowed function is that function, and is written back as the plain call.
    assert guard.to_sql(guard.check('SELECT "lower"(\'x\')', "postgres"), "postgres") == "SELECT LOWER('x')"


def test_the_registry_derives_the_secret_types_and_connectors():
    from telltale.secrets import types as secret_types

    assert sorted(secret_types.secret_types()) == ["analytics-clickhouse", "analytics-elasticsearch",
                                                   "analytics-mysql", "analytics-postgres", "analytics-redshift"]
    for source in sources.external():
        assert sources.by_secret_type(str(source.secret_type)) is source
        assert source.connector == f"telltale.connectors.{source.slug}"
        assert source.test_query
        assert "password" in source.secret_field_names or source.slug == "elasticsearch"
    assert sources.get("internal").secret_type is None
    for bad, says in (("postgres", "Unsupported analytics datasource"), ("analytics-oracle", "Driver not supported")):
        with pytest.raises(SecretResolutionError, match=says):
            sources.by_secret_type(bad)


def test_secret_strings_are_the_secret_fields_only():
    es = sources.get("elasticsearch")
    config = {"host": "h", "index": "logs-*", "password": "pw-123456", "api_key": "key-123456",
              "headers": {"X-Token": "tok-123456"}, "username": "elastic"}
    assert sorted(es.secret_strings(config)) == ["key-123456", "pw-123456", "tok-123456"]


def test_catalogs_and_other_schemas_are_unreachable():
    for sql in ("SELECT * FROM pg_catalog.pg_class", "SELECT * FROM pg_class", "SELECT * FROM pg_stat_activity",
                "SELECT * FROM information_schema.tables", "SELECT * FROM db.schema.t"):
        with pytest.raises(QueryValidationError):
            _check(sql, "postgres")
    for sql in ("SELECT * FROM mysql.user", "SELECT * FROM information_schema.processlist",
                "SELECT * FROM performance_schema.threads", "SELECT * FROM sys.session"):
        with pytest.raises(QueryValidationError):
            _check(sql, "mysql")
    for sql in ("SELECT * FROM system.users", "SELECT * FROM system.processes",
                "SELECT * FROM INFORMATION_SCHEMA.TABLES"):
        with pytest.raises(QueryValidationError):
            _check(sql, "clickhouse")
    for sql in ("SELECT * FROM tenant_other.shop_orders", "SELECT * FROM platform.secrets",
                "SELECT * FROM events.events",
                "SELECT tenant_other.shop_orders.id FROM orders", "SELECT * FROM tables", "SELECT * FROM stl_query"):
        with pytest.raises(QueryValidationError):
            _check(sql, "internal" if "stl_" not in sql else "redshift")


def test_types_are_an_allow_list():
    for sql in ("SELECT 'x'::regclass", "SELECT 1::oid", "SELECT 'x'::regproc", "SELECT CAST('x' AS regnamespace)",
                'SELECT \'x\'::"char"', "SELECT 'x'::my_type"):
        with pytest.raises(QueryValidationError):
            _check(sql, "postgres")
    _check("SELECT CAST(x AS numeric(10, 2)), x::date, x::timestamptz, x::jsonb, x::text[] FROM t", "postgres")
