"""The database layer of each SQL connector, on the real servers, with no guard in front: the explicit READ
ONLY transaction and its timeouts, writes refused with nothing changed, parameters bound (never spliced),
and the reply byte budget with rows streamed so memory stays flat even for a 1 GB value.

What the READ ONLY transaction does NOT stop is measured here too (PostgreSQL 18's stats writers run inside
it; see ``PostgresConnector``), so the documented limits of this layer stay true."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from queries_servers import CH_DB, clickhouse_fingerprint, mariadb_fingerprint, postgres_fingerprint

from telltale.connectors import load
from telltale.connectors.base import Limits, Prepared
from telltale.platform.errors import QueryExecutionError

pytestmark = [pytest.mark.integration,
              # A session cut short must end cleanly: an unread result collected later is a failure here.
              pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")]

HOSTILE = "a'b\"c\\d :x :name %s %(x)s {x} {x:String} $1 ? -- /* */ ; é"


def run(driver: str, config: dict[str, Any], text: str, *, params: dict[str, Any] | None = None,
        max_rows: int = 100, max_bytes: int = 5_000_000, timeout: int = 10) -> Any:
    return load(driver).execute(Prepared(text=text, config=config, params=params or {}),
                                Limits(max_rows=max_rows, statement_timeout_s=timeout, connect_timeout_s=5,
                                       max_bytes=max_bytes))


def ch_config(clickhouse: Any) -> dict[str, Any]:
    return {"host": clickhouse.host, "port": clickhouse.port, "database": CH_DB, "username": "default",
            "password": "", "secure": False}


# The connector measured in a process of its own: the local stack's threads allocate in this one, and
# tracemalloc would count them. Imports happen before tracing starts.
_MEASURE = """
import json, sys, tracemalloc
from telltale.connectors import load
from telltale.connectors.base import Limits, Prepared
import pg8000.native, pymysql, clickhouse_connect
driver, config, sql, max_bytes = json.loads(sys.argv[1])
connector = load(driver)
tracemalloc.start()
result = connector.execute(Prepared(text=sql, config=config), Limits(max_rows=10_000_000, max_bytes=max_bytes,
                           statement_timeout_s=20, connect_timeout_s=5))
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"peak": peak, "truncated": result.truncated, "reason": result.truncated_reason,
                  "rows_json": len(json.dumps(result.rows, default=str)), "rows": len(result.rows)}))
"""


def measured(driver: str, config: dict[str, Any], sql: str, max_bytes: int) -> dict[str, Any]:
    import json
    import os
    from pathlib import Path

    layer = Path(__file__).resolve().parents[3] / "layers" / "common" / "python"
    # As deployed (template.yaml): clickhouse-connect's pure-Python reader in the execute function.
    env = {**os.environ, "PYTHONPATH": str(layer), "CLICKHOUSE_CONNECT_USE_C": "0"}
    out = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps([driver, config, sql, max_bytes])],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


# ------------------------------------------------------------------------------- the READ ONLY transaction
def test_postgres_runs_in_an_explicit_read_only_transaction_with_timeouts(external_pg):
    from telltale.connectors.postgres import CONNECTOR

    assert CONNECTOR.preamble(external_pg.secret(), Limits(statement_timeout_s=3))[0] == "START TRANSACTION READ ONLY"
    row = run("postgres", external_pg.secret(), "SELECT current_setting('transaction_read_only') AS ro,"
              " current_setting('statement_timeout') AS st, current_setting('lock_timeout') AS lt,"
              " current_setting('idle_in_transaction_session_timeout') AS it", timeout=3).rows[0]
    assert row == {"ro": "on", "st": "3s", "lt": "3s", "it": "8s"}
    with CONNECTOR.session(external_pg.secret(), Limits(statement_timeout_s=3)) as conn:
        conn.run("SELECT 1")
        assert conn._transaction_status == b"T"  # inside a transaction block, not autocommit


def test_redshift_set_local_takes_effect_so_the_transaction_is_explicit(external_pg):
    # Redshift sends nothing in the startup packet: the timeout and read-only mode seen here come from
    # BEGIN READ ONLY and SET LOCAL, and SET LOCAL has no effect outside a transaction block.
    row = run("redshift", external_pg.secret(ssl=False), "SELECT current_setting('transaction_read_only') AS ro,"
              " current_setting('statement_timeout') AS st", timeout=4).rows[0]
    assert row == {"ro": "on", "st": "4s"}


PG_WRITES = [
    "INSERT INTO guard_canary VALUES (9, 'x') RETURNING id",
    "WITH w AS (UPDATE guard_canary SET v = 'changed' RETURNING id) SELECT * FROM w",
    "SELECT nextval('canary_seq')",
    "SELECT set_config('transaction_read_only', 'off', true)",
    # The LIMIT wrapper cannot be closed to smuggle a second statement: one statement per Parse.
    "SELECT 1) AS a; UPDATE guard_canary SET v = 'changed'; SELECT * FROM (SELECT 1",
    "CREATE TABLE created_by_query (a int)",
]


@pytest.mark.parametrize("driver", ["postgres", "redshift"])
def test_postgres_writes_through_the_connector_are_refused_and_change_nothing(external_pg, driver):
    admin = external_pg.connect()
    try:
        before = postgres_fingerprint(external_pg, admin)
        for sql in PG_WRITES:
            with pytest.raises(QueryExecutionError):
                run(driver, external_pg.secret(ssl=False), sql)
        assert postgres_fingerprint(external_pg, admin) == before
    finally:
        admin.close()


def test_postgres_18_stats_writers_run_inside_read_only_but_the_rollback_undoes_them(external_pg):
    """Issue 11 saw pg_clear_relation_stats / pg_restore_relation_stats change pg_class on an external
    server: the statement autocommitted. Measured here with a login that owns the table (owner-level
    grants): inside READ ONLY they still run and change pg_class (READ ONLY does not refuse them), and on
    PostgreSQL 18 the change is transactional, so the ROLLBACK that ends every session undoes it. The guard's
    allow-list is what refuses them; this test pins what the database layer alone does."""
    from telltale.connectors.postgres import CONNECTOR

    admin = external_pg.connect()
    try:
        admin.run("ANALYZE sales")
        stats = "SELECT relpages, reltuples FROM pg_class WHERE relname = 'sales'"
        before = admin.run(stats)
        assert before[0][1] == 3.0
        for sql in ("SELECT pg_clear_relation_stats('public', 'sales')",
                    "SELECT pg_restore_relation_stats('schemaname', 'public', 'relname', 'sales',"
                    " 'relpages', 77::integer, 'reltuples', 1234::real)"):
            with CONNECTOR.session(external_pg.secret(), Limits()) as conn:
                conn.run(sql)
                inside = conn.run(stats)
            assert inside != before, "the function wrote nothing: READ ONLY refused it after all"
            assert admin.run(stats) == before, f"{sql} survived the ROLLBACK"
            run("postgres", external_pg.secret(), sql)  # the same through execute: rolled back too
            assert admin.run(stats) == before
    finally:
        admin.close()


def test_mysql_runs_in_a_read_only_transaction_with_its_limits(mariadb):
    row = run("mysql", mariadb.secret(), "SELECT @@session.tx_read_only AS ro, @@session.max_statement_time AS st,"
              " @@session.lock_wait_timeout AS lw, @@session.innodb_lock_wait_timeout AS iw,"
              " @@session.autocommit AS ac, @@in_transaction AS tx", timeout=3).rows[0]
    # autocommit stays the server's: the explicit transaction (in_transaction = 1) is what the query runs in.
    assert {k: float(v) for k, v in row.items()} == {"ro": 1, "st": 3, "lw": 3, "iw": 3, "ac": 1, "tx": 1}


def test_mysql_writes_through_the_connector_are_refused_and_change_nothing(mariadb):
    root = mariadb.root("analytics_db")
    try:
        before = mariadb_fingerprint(mariadb, root)
        for sql in ("INSERT INTO guard_canary VALUES (9, 'x')", "UPDATE guard_canary SET v = 'changed'",
                    "CREATE TABLE created_by_query (a int)", "DELETE FROM guard_canary"):
            with pytest.raises(QueryExecutionError):
                run("mysql", mariadb.secret(), sql)
        assert mariadb_fingerprint(mariadb, root) == before
    finally:
        root.close()


def test_clickhouse_limits_are_set_and_writes_refused(clickhouse):
    row = run("clickhouse", ch_config(clickhouse), "SELECT getSetting('readonly') AS ro,"
              " getSetting('max_result_bytes') AS rb, getSetting('max_result_rows') AS rr,"
              " getSetting('max_execution_time') AS et, getSetting('result_overflow_mode') AS om,"
              " getSetting('max_memory_usage') AS mm", max_rows=50, max_bytes=123_000, timeout=7).rows[0]
    # readonly reads 0 through the chdb stand-in, which enforces it in the HTTP layer (see the next test).
    assert (row["rb"], row["rr"], row["et"], row["om"], row["mm"]) == (123_000, 51, 7, "break", 1 << 30)
    before = clickhouse_fingerprint(clickhouse.host, clickhouse.port)
    for sql in ("INSERT INTO guard_canary VALUES (9, 'x')", "CREATE TABLE created_by_query (a UInt8) ENGINE = Memory"):
        with pytest.raises(QueryExecutionError) as info:
            run("clickhouse", ch_config(clickhouse), sql)
        assert "readonly" in info.value.message.lower()
    assert clickhouse_fingerprint(clickhouse.host, clickhouse.port) == before


def test_clickhouse_engine_readonly_1_cannot_be_lifted_by_the_query(tmp_path):
    """On the real engine (chdb, in a process of its own), with the connector's settings applied in its
    order (readonly last): a query's own SETTINGS cannot lift readonly nor any limit."""
    from telltale.connectors.clickhouse import settings_for

    settings = settings_for(Limits(max_rows=10, max_bytes=1000), 5)
    script = (
        "import chdb, sys\n"
        f"c = chdb.connect({str(tmp_path / 'ch')!r})\n"
        f"for k, v in {list(settings.items())!r}:\n"
        "    c.query(f\"SET {k} = {v!r}\" if isinstance(v, str) else f'SET {k} = {v}')\n"
        "for q in ['SELECT 1 SETTINGS readonly = 0', 'SELECT 1 SETTINGS max_result_bytes = 0',\n"
        "          'SELECT 1 SETTINGS max_execution_time = 0', 'SET readonly = 0', 'SET max_memory_usage = 0']:\n"
        "    try:\n"
        "        c.query(q)\n"
        "        print('LIFTED', q)\n"
        "    except Exception as e:\n"
        "        print('REFUSED', 'READONLY' in str(e))\n"
        "print(c.query(\"SELECT getSetting('readonly'), getSetting('max_result_bytes')\", 'CSV').bytes().decode())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    lines = out.stdout.split("\n")
    assert lines[:5] == ["REFUSED True"] * 5, out.stdout + out.stderr[-1000:]
    assert lines[5] == "1,1000"


# ------------------------------------------------------------------------------------------ bound values
def test_postgres_and_redshift_bind_parameters(external_pg):
    for driver in ("postgres", "redshift"):
        result = run(driver, external_pg.secret(ssl=False), "SELECT :v AS v, :v = :w AS same, '::' || 'x' AS lit",
                     params={"v": HOSTILE, "w": HOSTILE})
        assert result.rows == [{"v": HOSTILE, "same": True, "lit": "::x"}]
    rows = run("postgres", external_pg.secret(), "SELECT region FROM sales WHERE region = :r", params={"r": "Europe"})
    assert rows.rows == [{"region": "Europe"}]
    # A NUL cannot travel in a PostgreSQL text value: the server's own error, a 4xx, not a crash.
    with pytest.raises(QueryExecutionError) as info:
        run("postgres", external_pg.secret(), "SELECT :v AS v", params={"v": "a\x00b"})
    assert info.value.status_code == 422 and "0x00" in info.value.message


def test_clickhouse_binds_server_side_parameters(clickhouse):
    for value in (HOSTILE, "a\x00b"):
        result = run("clickhouse", ch_config(clickhouse), "SELECT {v:String} AS v, length({v:String}) AS n",
                     params={"v": value})
        assert result.rows == [{"v": value, "n": len(value.encode())}]


def test_mysql_binds_a_parameter_dict_if_given_one(mariadb):
    for value in (HOSTILE, "a\x00b"):
        assert run("mysql", mariadb.secret(), "SELECT %(v)s AS v", params={"v": value}).rows == [{"v": value}]
    # No parameters: a % in the SQL stays a plain character.
    assert run("mysql", mariadb.secret(), "SELECT '100%' AS v").rows == [{"v": "100%"}]


# ------------------------------------------------------------------------------------ the reply's budget
BUDGET = 2_000_000


def _budget_cases(external_pg: Any, mariadb: Any, clickhouse: Any) -> list[tuple[str, dict[str, Any], str, str]]:
    pg, my, ch = external_pg.secret(), mariadb.secret(), ch_config(clickhouse)
    return [
        ("postgres", pg, "SELECT repeat('x', 1000000000) AS big", "huge value"),  # 1 GB
        ("postgres", pg, "SELECT i, repeat('y', 100) AS s FROM generate_series(1, 3000000) i", "huge row count"),
        ("redshift", {**pg, "ssl": False}, "SELECT repeat('x', 1000000000) AS big", "huge value"),
        # MariaDB turns REPEAT('x', 100000000) into NULL (max_allowed_packet is 16 MB): 15 MB is its biggest.
        ("mysql", my, "SELECT REPEAT('x', 15000000) AS big", "huge value"),
        ("mysql", my, "SELECT seq, REPEAT('y', 100) AS s FROM seq_1_to_3000000", "huge row count"),
        # chdb refuses repeat() counts over a million and 1 GB in one string (max_memory_usage): 100 MB.
        ("clickhouse", ch, "SELECT repeat(repeat('x', 1000), 100000) AS big", "huge value"),
        ("clickhouse", ch, "SELECT number, repeat('y', 100) AS s FROM numbers(3000000)", "huge row count"),
    ]


def test_byte_budget_truncates_with_flat_memory(external_pg, mariadb, clickhouse):
    """The peak of Python allocations (tracemalloc) while a connector reads a reply far bigger than its budget
    stays under 4x the budget: rows are kept as they arrive, and a message the reply cannot hold is not read."""
    for driver, config, sql, what in _budget_cases(external_pg, mariadb, clickhouse):
        report = measured(driver, config, sql, BUDGET)
        label = f"{driver} {what}: {report}"
        assert report["truncated"] and report["reason"] == "the reply reached its 2 MB byte budget", label
        if what == "huge row count":
            # Kept rows are Python objects: a dict, an int and a short str cost about 3x their JSON (measured
            # 2.3-5.5x the budget here, ClickHouse highest: a parsed block on top). Flat, not 3 million rows.
            assert report["peak"] < 8 * BUDGET, label
            assert BUDGET * 0.9 < report["rows_json"] <= BUDGET, label
        else:
            assert report["peak"] < 4 * BUDGET, label
            assert report["rows"] == 0, label


@pytest.mark.parametrize("driver", ["postgres", "redshift", "mysql", "clickhouse"])
def test_row_cap_says_why(driver, external_pg, mariadb, clickhouse):
    config = {"postgres": external_pg.secret(), "redshift": external_pg.secret(ssl=False), "mysql": mariadb.secret(),
              "clickhouse": ch_config(clickhouse)}[driver]
    sql = {"mysql": "SELECT seq FROM seq_1_to_50", "clickhouse": "SELECT number FROM numbers(50)"}.get(
        driver, "SELECT i FROM generate_series(1, 50) i ORDER BY i")
    result = run(driver, config, sql, max_rows=10)
    assert len(result.rows) == 10 and result.truncated and result.truncated_reason == "the row limit of 10 was reached"
    whole = run(driver, config, sql, max_rows=50)
    assert len(whole.rows) == 50 and not whole.truncated and whole.truncated_reason is None
    if driver == "redshift":  # the Execute message's row limit keeps ORDER BY (no subquery wrapper)
        desc = run(driver, config, "SELECT i FROM generate_series(1, 50) i ORDER BY i DESC", max_rows=3)
        assert [r["i"] for r in desc.rows] == [50, 49, 48]


def test_a_session_cut_short_leaves_nothing_open(external_pg, mariadb):
    """After a byte-budget abort or a row cap, the next executions on the same servers work, and no session
    of ours is left behind on PostgreSQL."""
    import time

    for _ in range(3):
        run("postgres", external_pg.secret(), "SELECT repeat('x', 100000000)", max_bytes=BUDGET)
        run("mysql", mariadb.secret(), "SELECT seq FROM seq_1_to_100000", max_rows=5)
        run("mysql", mariadb.secret(), "SELECT REPEAT('x', 15000000)", max_bytes=BUDGET)
    admin = external_pg.connect()
    try:
        deadline = time.monotonic() + 10
        while admin.run("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'telltale-query'")[0][0]:
            assert time.monotonic() < deadline, "a telltale-query session is still open"
            time.sleep(0.2)
    finally:
        admin.close()
    assert run("mysql", mariadb.secret(), "SELECT 1 AS one").rows == [{"one": 1}]


def test_elasticsearch_hits_are_held_to_the_byte_budget(es_replay):
    result = load("elasticsearch").execute(Prepared(text="", config=es_replay.secret(), body={"size": 3}),
                                           Limits(max_rows=100, max_bytes=300))
    assert result.truncated and result.truncated_reason == "the reply reached its 300 bytes byte budget"
    assert 0 < len(result.rows) < 3
    capped = load("elasticsearch").execute(Prepared(text="", config=es_replay.secret(max_result_rows=2),
                                                    body={"size": 10}), Limits())
    assert capped.truncated and capped.truncated_reason == "the row limit of 2 was reached"
