"""The statement guard: parse the rendered query with sqlglot in the target dialect and refuse anything
that is not one read-only query, before any connection is opened.

It walks the whole tree (CTEs, subqueries, set operations, lateral joins), so a write hidden in a CTE is
found as surely as one at the top. It is one layer of several: the database still runs the query in a
read-only transaction (``readonly=1`` for ClickHouse), so a guard miss writes nothing.

For ``internal`` queries it also confines the query to the tenant's own schema and rewrites logical table
names (``orders``) to physical ones (``shop_orders``); what runs is the tree that was checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from telltale.errors import QueryValidationError
from telltale.log import quiet_sqlglot

# Rendered SQL may hold secret values.
quiet_sqlglot()

SQL_DIALECTS = {"postgres", "mysql", "redshift", "clickhouse"}

# Functions with side effects, that sleep, or that reach files, other servers or other sessions.
_COMMON_DENY = {"pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "load_file", "benchmark"}
_PG_DENY = {
    "nextval", "setval", "set_config", "txid_current", "pg_current_xact_id", "pg_export_snapshot",
    "pg_notify", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_switch_wal", "pg_create_restore_point", "pg_promote", "pg_stat_reset", "pg_stat_reset_shared",
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_file_write", "pg_file_rename",
    "pg_file_unlink", "pg_logdir_ls", "lo_import", "lo_export", "lo_create", "lo_creat", "lo_unlink", "lo_open",
    "lo_put", "lo_get", "lo_from_bytea", "lo_truncate", "lo_close", "loread", "lowrite",
    "dblink", "dblink_exec", "dblink_connect", "dblink_connect_u", "dblink_send_query", "dblink_open",
    "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml", "table_to_xml",
    "table_to_xml_and_xmlschema", "schema_to_xml", "database_to_xml", "pg_import_system_collations",
    "pg_replication_origin_create", "pg_create_logical_replication_slot", "pg_create_physical_replication_slot",
    "pg_drop_replication_slot", "pg_logical_emit_message", "pg_advisory_lock", "pg_advisory_lock_shared",
    "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared", "pg_try_advisory_lock",
    "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock", "pg_try_advisory_xact_lock_shared",
    "pg_advisory_unlock", "pg_advisory_unlock_shared", "pg_advisory_unlock_all", "pg_backend_pid",
    "pg_log_backend_memory_contexts", "make_interval_sleep",
}
_MYSQL_DENY = {
    "get_lock", "release_lock", "release_all_locks", "is_free_lock", "is_used_lock", "master_pos_wait",
    "source_pos_wait", "sys_exec", "sys_eval", "wait_for_executed_gtid_set", "wait_until_sql_thread_after_gtids",
    "last_insert_id", "name_const",
}
_CLICKHOUSE_DENY = {
    "file", "s3", "s3cluster", "url", "urlcluster", "remote", "remotesecure", "cluster", "clusterallreplicas",
    "mysql", "postgresql", "jdbc", "odbc", "hdfs", "hdfscluster", "input", "sleep", "sleepeachrow",
    "executable", "sqlite", "mongodb", "redis", "azureblobstorage", "azureblobstoragecluster", "gcs", "deltalake",
    "iceberg", "icebergs3", "hudi", "generaterandom", "fuzzjson", "dictionary", "merge", "view",
    "throwif", "filecluster", "format", "loop", "timeseries", "dictget",
}
# Catalog and settings readers: internal queries must not learn about or reach other schemas.
_INTERNAL_DENY_PREFIXES = ("pg_", "has_", "to_reg", "lo_")
_INTERNAL_DENY = {"current_setting", "current_schemas", "obj_description", "col_description",
                  "shobj_description", "format_type", "version", "current_version", "inet_server_addr",
                  "inet_server_port", "current_database", "current_catalog"}

_DENY = {
    "postgres": _COMMON_DENY | _PG_DENY,
    "redshift": _COMMON_DENY | _PG_DENY,
    "mysql": _COMMON_DENY | _MYSQL_DENY,
    "clickhouse": _COMMON_DENY | _CLICKHOUSE_DENY,
}
_SYSTEM_SCHEMAS = {"pg_catalog", "information_schema", "pg_toast", "mysql", "performance_schema", "sys", "system"}
_EXEC_COMMENT = re.compile(r"/\*\s*[!+]|/\*M!", re.IGNORECASE)
_OUTFILE = re.compile(r"\binto\s+(out|dump)file\b", re.IGNORECASE)


@dataclass(frozen=True)
class Internal:
    """What an internal query may reach: the tenant's schema, and the app whose tables it names."""

    schema: str
    app_slug: str


def refuse(reason: str) -> QueryValidationError:
    return QueryValidationError(f"query refused: {reason}", errors={"query_text": [reason]})


def _deny_nodes() -> tuple[type, ...]:
    from sqlglot import exp

    names = ["Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command", "Copy",
             "Grant", "Revoke", "Set", "Use", "Transaction", "Commit", "Rollback", "LoadData", "Into", "Lock",
             "Pragma", "Analyze", "Refresh", "Cache", "Uncache", "Kill", "Describe", "Summarize", "Comprehension",
             "PropertyEQ", "Export", "Put", "Get"]
    return tuple(getattr(exp, n) for n in names if isinstance(getattr(exp, n, None), type))


_DENY_NODES: tuple[type, ...] | None = None
_ACTION = {"Insert": "INSERT", "Update": "UPDATE", "Delete": "DELETE", "Merge": "MERGE", "Create": "CREATE",
           "Drop": "DROP", "Alter": "ALTER", "TruncateTable": "TRUNCATE", "Copy": "COPY", "Grant": "GRANT",
           "Revoke": "REVOKE", "Set": "SET", "Into": "SELECT ... INTO", "Lock": "a locking clause (FOR UPDATE/SHARE)",
           "PropertyEQ": "variable assignment (:=)", "Use": "USE", "Transaction": "transaction control",
           "Commit": "transaction control", "Rollback": "transaction control", "LoadData": "LOAD DATA"}


def _func_names(node: Any) -> set[str]:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return {str(node.name).lower()}
    names = {n.lower() for n in getattr(type(node), "_sql_names", ()) or ()}
    names.add(node.key.lower())
    names.add(node.sql_name().lower())  # the SQL spelling, e.g. CURRENT_SCHEMAS
    return names


def check(sql: str, dialect: str, *, internal: Internal | None = None) -> Any:
    """The parsed statement if it is one read-only query; QueryValidationError naming the reason if not."""
    global _DENY_NODES
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    if dialect not in SQL_DIALECTS:
        raise refuse(f"unknown SQL dialect '{dialect}'")
    # Comments vanish from the tree, so the ones a server would execute are refused from the text.
    if _EXEC_COMMENT.search(sql):
        raise refuse("executable comments and optimizer hints (/*! ... */, /*+ ... */) are not allowed")
    if _OUTFILE.search(sql):
        raise refuse("INTO OUTFILE / DUMPFILE is not allowed")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else "syntax error"
        raise refuse(f"the query could not be parsed as {dialect} SQL ({first})") from None
    if len(statements) != 1:
        raise refuse("exactly one statement is allowed (stacked statements are not)" if statements
                     else "the query is empty")
    tree = statements[0]
    if isinstance(tree, exp.Command):
        raise refuse(f"{str(tree.this).upper()} statements are not allowed; only read-only queries are")
    if not isinstance(tree, exp.Query):
        action = _ACTION.get(type(tree).__name__, type(tree).__name__.upper())
        raise refuse(f"{action} is not allowed; only read-only queries (SELECT) are")
    if _DENY_NODES is None:
        _DENY_NODES = _deny_nodes()
    deny_funcs = _DENY[dialect]
    cte_names = {str(c.alias_or_name).lower() for c in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, _DENY_NODES):
            action = _ACTION.get(type(node).__name__, type(node).__name__.upper())
            raise refuse(f"{action} is not allowed; only read-only queries are")
        if isinstance(node, exp.Func):
            names = _func_names(node)
            blocked = names & deny_funcs
            if internal is not None and not blocked:
                blocked = {n for n in names if n.startswith(_INTERNAL_DENY_PREFIXES) or n in _INTERNAL_DENY}
            if blocked:
                raise refuse(f"function {sorted(blocked)[0]}() is not allowed")
        elif isinstance(node, exp.Select):
            for arg in ("settings", "format", "into", "locks"):
                if node.args.get(arg):
                    label = {"settings": "SETTINGS overrides", "format": "FORMAT clauses",
                             "into": "SELECT ... INTO", "locks": "locking clauses (FOR UPDATE/SHARE)"}[arg]
                    raise refuse(f"{label}: not allowed in read-only queries")
        elif isinstance(node, exp.Parameter | exp.SessionParameter) and dialect == "mysql":
            raise refuse("user and system variables (@x, @@x) are not allowed")
        elif internal is not None:
            _check_internal_node(node, internal, cte_names)
    if isinstance(tree, exp.Query) and tree.args.get("settings"):
        raise refuse("SETTINGS overrides are not allowed")
    if internal is not None:
        tree = _rewrite_tables(tree, internal, cte_names)
    return tree


def _check_internal_node(node: Any, internal: Internal, cte_names: set[str]) -> None:
    from sqlglot import exp

    if isinstance(node, exp.Table):
        schema = node.db
        if node.catalog:
            raise refuse("database-qualified names are not allowed in internal queries")
        if schema and schema != internal.schema:
            raise refuse(f"schema '{schema}' is not reachable: internal queries read only the tenant's own tables")
        name = str(node.name).lower()
        if isinstance(node.this, exp.Func):
            return  # a table function: checked as a function
        if name.startswith("pg_") or name in _SYSTEM_SCHEMAS or name in {"tables", "columns", "schemata"}:
            raise refuse(f"catalog table '{node.name}' is not reachable in internal queries")
    elif isinstance(node, exp.Column):
        if node.args.get("catalog") or (node.args.get("db") and node.db != internal.schema):
            raise refuse(f"schema '{node.db}' is not reachable: internal queries read only the tenant's own tables")
    elif isinstance(node, exp.Dot):
        left = node.this
        if isinstance(left, exp.Identifier) and str(left.name) != internal.schema:
            raise refuse(f"schema '{left.name}' is not reachable: internal queries read only the tenant's own tables")
    elif isinstance(node, exp.DataType):
        text = node.sql("postgres").lower()
        if text.startswith("reg"):
            raise refuse(f"casts to {text} (catalog lookups) are not allowed in internal queries")
    elif isinstance(node, exp.ObjectIdentifier):
        raise refuse(f"casts to {str(node.name).lower()} (catalog lookups) are not allowed in internal queries")


def _rewrite_tables(tree: Any, internal: Internal, cte_names: set[str]) -> Any:
    """Logical names to physical ones, always qualified with the tenant's schema."""
    from sqlglot import exp

    prefix = f"{internal.app_slug}_"
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Func) or not table.name:
            continue
        name = str(table.name)
        if not table.db and name.lower() in cte_names:
            continue
        physical = name if name.startswith(prefix) else prefix + name
        table.set("this", exp.to_identifier(physical, quoted=True))
        table.set("db", exp.to_identifier(internal.schema, quoted=True))
    return tree


def to_sql(tree: Any, dialect: str) -> str:
    return str(tree.sql(dialect=dialect))
