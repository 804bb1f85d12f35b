"""Real servers for the saved-query tests: an external PostgreSQL (a second embedded PostgreSQL server of
its own, started like the stack's platform one: the platform database's endpoint is one the outbound
policy never lets a secret reach), a private MariaDB from the OS package, and an Elasticsearch stand-in.

Elasticsearch cannot be installed here (no package in PyPI or Debian runs a server). Its connector is
therefore tested over real HTTP against ``EsReplayServer``, which answers ``_search`` with responses
recorded in Elasticsearch's documented format (the ``hits``/``aggregations`` shapes of the Search API
reference) and records every request it receives. That is the limit of these tests: they prove what the
connector sends (only ``_search``, the secret's index, auth headers, the capped size, the rendered body) and
how it shapes a documented reply; they cannot prove what a real cluster would answer.

ClickHouse comes from ``servers_clickhouse`` (chdb behind the ClickHouse HTTP protocol).
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

EXT_DB = "tt_queries_ext"
EXT_USER = "readonly_user"
EXT_PASSWORD = "s3cr3t-pg-pass"
MYSQL_USER = "readonly_user"
MYSQL_PASSWORD = "s3cr3t-my-pass"
MYSQL_DB = "analytics_db"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The sample data every SQL engine gets: same rows, so the tests can compare answers across drivers.
SALES = [("North America", 150000, "2024-01-15"), ("Europe", 120000, "2024-01-15"), ("Asia", 90000, "2024-01-16")]
ORDERS = [(1, "2024-01-10 10:00:00", 100.50, "paid"), (2, "2024-01-10 12:00:00", 20.00, "paid"),
          (3, "2024-01-11 09:30:00", 75.25, "pending"), (4, "2024-01-12 15:45:00", 10.00, "paid"),
          (5, "2024-01-12 16:00:00", 5.00, "cancelled")]


# --------------------------------------------------------------------------------------- external postgres
@dataclass
class ExternalPostgres:
    host: str
    port: int
    database: str
    user: str
    password: str
    admin_password: str = ""
    # The server (telltale_local.pg.EmbeddedPostgres): its "telltale" database has pg_stat_statements.
    server: Any = None

    def secret(self, **extra: Any) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "database": self.database, "username": self.user,
                "password": self.password, **extra}

    def connect(self, user: str = "postgres") -> Any:
        import pg8000.native

        password = self.admin_password if user == "postgres" else self.password
        return pg8000.native.Connection(user, host=self.host, port=self.port, database=self.database,
                                        password=password)


def start_external_postgres(base: Path) -> tuple[ExternalPostgres, Callable[[], None]]:
    """A PostgreSQL server of its own (not the platform's: a secret may never reach that one), set up
    by the same code as the stack's (initdb, SCRAM passwords, pg_stat_statements), then seeded."""
    from telltale_local.pg import EmbeddedPostgres

    pg = EmbeddedPostgres(base)
    pg.init()
    try:
        pg.start()
        pg.bootstrap()
        ext = setup_external_postgres(pg)
    except BaseException:
        pg.stop("immediate")
        raise
    return ext, lambda: pg.stop("immediate")


def setup_external_postgres(pg: Any) -> ExternalPostgres:
    """A database of its own in ``pg``, owned by a superuser, read by ``readonly_user``."""
    pg_port = pg.port
    admin = pg.connect("postgres", "postgres")
    try:
        if not admin.run("SELECT 1 FROM pg_database WHERE datname = :d", d=EXT_DB):
            admin.run(f"CREATE DATABASE {EXT_DB}")
        if not admin.run("SELECT 1 FROM pg_roles WHERE rolname = :r", r=EXT_USER):
            # Deliberately a role that COULD write (owner-level grants): the read-only session must stop it.
            admin.run(f"CREATE ROLE {EXT_USER} LOGIN PASSWORD '{EXT_PASSWORD}'")
    finally:
        admin.close()
    conn = pg.connect("postgres", EXT_DB)
    try:
        if not conn.run("SELECT 1 FROM pg_tables WHERE tablename = 'sales'"):
            conn.run("CREATE TABLE sales (region text, amount integer, date date)")
            conn.run("CREATE TABLE orders (id integer PRIMARY KEY, created_at timestamp, total_amount numeric(10,2),"
                     " status text, meta jsonb DEFAULT '{}')")
            conn.run("CREATE TABLE users (id text, status text, created_at date, api_key text, tenant_id text)")
            conn.run("CREATE TABLE audit_logs (user_id text, action text)")
            conn.run("CREATE TABLE guard_canary (id integer PRIMARY KEY, v text)")
            conn.run("CREATE SEQUENCE canary_seq")
            for r in SALES:
                conn.run("INSERT INTO sales VALUES (:a, :b, CAST(:c AS date))", a=r[0], b=r[1], c=r[2])
            for o in ORDERS:
                conn.run("INSERT INTO orders (id, created_at, total_amount, status, meta) VALUES"
                         " (:i, CAST(:t AS timestamp), :a, :s, CAST(:m AS jsonb))",
                         i=o[0], t=o[1], a=str(o[2]), s=o[3], m=json.dumps({"channel": "web", "n": o[0]}))
            conn.run("INSERT INTO users VALUES ('user-1', 'active', '2024-02-01', 'k-123', 't-9'),"
                     " ('user-2', 'inactive', '2023-02-01', 'k-456', 't-9')")
            conn.run("INSERT INTO audit_logs VALUES ('user-1', 'login'), ('user-2', 'logout'), ('user-1', 'export')")
            conn.run("INSERT INTO guard_canary VALUES (1, 'original')")
            conn.run(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {EXT_USER}")
            conn.run(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {EXT_USER}")
            conn.run(f"GRANT CREATE ON SCHEMA public TO {EXT_USER}")
    finally:
        conn.close()
    return ExternalPostgres("127.0.0.1", pg_port, EXT_DB, EXT_USER, EXT_PASSWORD, pg.password("postgres"), pg)


def postgres_fingerprint(ext: ExternalPostgres, conn: Any = None) -> Any:
    """Everything a write could change: relations, their row counts and contents, sequences, roles."""
    own = conn is None
    conn = conn or ext.connect()
    try:
        rels = conn.run("SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON"
                        " n.oid = c.relnamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema',"
                        " 'pg_toast') ORDER BY 1, 2")
        data = {t: conn.run(f"SELECT * FROM {t} ORDER BY 1") for t in
                ("sales", "orders", "users", "audit_logs", "guard_canary")}
        seq = conn.run("SELECT last_value, is_called FROM canary_seq")
        roles = conn.run("SELECT rolname, rolsuper FROM pg_roles ORDER BY 1")
        return repr((rels, data, seq, roles))
    finally:
        if own:
            conn.close()


# ------------------------------------------------------------------------------------------------- MariaDB
@dataclass
class MariaDB:
    host: str
    port: int
    socket_path: str
    database: str = MYSQL_DB
    user: str = MYSQL_USER
    password: str = MYSQL_PASSWORD

    def secret(self, **extra: Any) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "database": self.database, "username": self.user,
                "password": self.password, **extra}

    def root(self, database: str | None = None) -> Any:
        import pymysql

        return pymysql.connect(unix_socket=self.socket_path, user="root", password="", database=database,
                               autocommit=True)


def mariadbd_binary() -> str | None:
    for candidate in (shutil.which("mariadbd"), "/usr/sbin/mariadbd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def start_mariadb(base: Path) -> tuple[MariaDB, Callable[[], None]]:
    binary = mariadbd_binary()
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if binary is None or install is None:
        pytest.skip("MariaDB is not installed (Debian package mariadb-server; `make system-deps` installs it)")
    as_root = os.geteuid() == 0
    user_args = ["--user=mysql"] if as_root else []
    if as_root:
        # As root the server runs as "mysql", which cannot traverse pytest's private temp folders: give it a
        # folder of its own directly under the system temp dir.
        base = Path(tempfile.mkdtemp(prefix="tt-queries-mariadb-"))
        shutil.chown(base, "mysql", "mysql")
    else:
        base.mkdir(parents=True, exist_ok=True)
    data = base / "data"
    result = subprocess.run([install, "--no-defaults", f"--datadir={data}", "--auth-root-authentication-method=normal",
                             "--skip-test-db", *user_args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed: {result.stderr[-1500:]}")
    port = _free_port()
    sock = str(base / "mysqld.sock")
    proc = subprocess.Popen([binary, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
                             "--bind-address=127.0.0.1", f"--pid-file={base / 'mysqld.pid'}",
                             f"--log-error={base / 'error.log'}", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                             "--skip-name-resolve", *user_args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    server = MariaDB("127.0.0.1", port, sock)
    while True:
        try:
            server.root().close()
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log = (base / "error.log").read_text(errors="replace")[-1500:] if (base / "error.log").exists() else ""
                raise RuntimeError(f"mariadbd did not start: {log}") from None
            time.sleep(0.2)

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if as_root:
            shutil.rmtree(base, ignore_errors=True)

    return server, stop


def seed_mariadb(server: MariaDB) -> None:
    conn = server.root()
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {MYSQL_DB}")
        cur.execute(f"USE {MYSQL_DB}")
        cur.execute("CREATE TABLE sales (region varchar(64), amount int, date date)")
        cur.execute("CREATE TABLE orders (id int PRIMARY KEY, created_at datetime, total_amount decimal(10,2),"
                    " status varchar(32), meta json)")
        cur.execute("CREATE TABLE guard_canary (id int PRIMARY KEY, v varchar(64))")
        cur.executemany("INSERT INTO sales VALUES (%s, %s, %s)", SALES)
        cur.executemany("INSERT INTO orders VALUES (%s, %s, %s, %s, %s)",
                        [(*o, json.dumps({"channel": "web", "n": o[0]})) for o in ORDERS])
        cur.execute("INSERT INTO guard_canary VALUES (1, 'original')")
        # A user that COULD write: the read-only transaction is what must stop it.
        cur.execute(f"CREATE USER '{MYSQL_USER}'@'%' IDENTIFIED BY '{MYSQL_PASSWORD}'")
        cur.execute(f"GRANT ALL ON {MYSQL_DB}.* TO '{MYSQL_USER}'@'%'")
    finally:
        conn.close()


def mariadb_fingerprint(server: MariaDB, conn: Any = None) -> Any:
    own = conn is None
    conn = conn or server.root(MYSQL_DB)
    try:
        cur = conn.cursor()
        cur.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN"
                    " ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1, 2")
        tables = cur.fetchall()
        data = {}
        for t in ("sales", "orders", "guard_canary"):
            cur.execute(f"SELECT * FROM {t} ORDER BY 1")
            data[t] = cur.fetchall()
        cur.execute("SELECT user, host FROM mysql.user ORDER BY 1, 2")
        return repr((tables, data, cur.fetchall()))
    finally:
        if own:
            conn.close()


# ------------------------------------------------------------------------------------------- ClickHouse
CH_DB = "analytics"


def seed_clickhouse(host: str, port: int) -> None:
    import clickhouse_connect

    client = clickhouse_connect.get_client(host=host, port=port, username="default", password="")
    try:
        client.command(f"CREATE DATABASE IF NOT EXISTS {CH_DB}")
        client.command(f"CREATE TABLE IF NOT EXISTS {CH_DB}.events (timestamp DateTime, event_type String,"
                       " user_id UInt32) ENGINE = MergeTree ORDER BY timestamp")
        client.command(f"CREATE TABLE IF NOT EXISTS {CH_DB}.guard_canary (id UInt32, v String)"
                       " ENGINE = MergeTree ORDER BY id")
        if not client.query(f"SELECT count() FROM {CH_DB}.events").result_rows[0][0]:
            import datetime as dt

            rows = []
            for day in range(3):
                for i in range(5):
                    rows.append((dt.datetime(2024, 1, 15 + day, 10, i), "click" if i % 2 == 0 else "view",
                                 (i % 3) + day))
            client.insert(f"{CH_DB}.events", rows, column_names=["timestamp", "event_type", "user_id"])
            client.insert(f"{CH_DB}.guard_canary", [(1, "original")], column_names=["id", "v"])
    finally:
        client.close()


def clickhouse_fingerprint(host: str, port: int, client: Any = None) -> Any:
    import clickhouse_connect

    own = client is None
    client = client or clickhouse_connect.get_client(host=host, port=port, username="default", password="")
    try:
        tables = client.query("SELECT database, name FROM system.tables WHERE database NOT IN"
                              " ('system', 'INFORMATION_SCHEMA', 'information_schema') ORDER BY 1, 2").result_rows
        data = {t: client.query(f"SELECT * FROM {CH_DB}.{t} ORDER BY 1, 2").result_rows
                for t in ("events", "guard_canary")}
        return repr((tables, data))
    finally:
        if own:
            client.close()


# ------------------------------------------------------------------------------------------ Elasticsearch
# A response recorded in the Search API's documented shape (hits.total, _source, aggregations).
ES_SEARCH_REPLY: dict[str, Any] = {
    "took": 5, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
    "hits": {
        "total": {"value": 3, "relation": "eq"}, "max_score": None,
        "hits": [
            {"_index": "logs-2024.01", "_id": "a1", "_score": None,
             "_source": {"customer_name": "Ada", "order_total": 120.5, "created_at": "2024-01-15T10:00:00Z",
                         "address": {"city": "London"}}, "sort": [1705312800000]},
            {"_index": "logs-2024.01", "_id": "a2", "_score": None,
             "_source": {"customer_name": "Grace", "order_total": 80, "created_at": "2024-01-14T09:00:00Z",
                         "address": {"city": "New York"}}, "sort": [1705222800000]},
            {"_index": "logs-2024.01", "_id": "a3", "_score": None,
             "_source": {"customer_name": "Linus", "order_total": 42.0, "created_at": "2024-01-13T08:00:00Z",
                         "address": {"city": "Helsinki"}}, "sort": [1705132800000]},
        ],
    },
    "aggregations": {
        "by_status": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": [
            {"key": "paid", "doc_count": 2, "revenue": {"value": 200.5}},
            {"key": "pending", "doc_count": 1, "revenue": {"value": 42.0}}]},
        "avg_total": {"value": 80.83},
    },
}


@dataclass
class EsReplayServer:
    host: str
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def secret(self, **extra: Any) -> dict[str, Any]:
        return {"host": self.url, "index": "logs-*", "username": "elastic", "password": "s3cr3t-es-pass", **extra}


def start_es_replay() -> tuple[EsReplayServer, Callable[[], None]]:
    state = EsReplayServer("127.0.0.1", 0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/vnd.elasticsearch+json;compatible-with=9")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            state.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                   "body": json.loads(raw) if raw else None})
            for pattern, (status, reply) in state.replies.items():
                if re.fullmatch(pattern, path):
                    self._reply(status, reply)
                    return
            if path.endswith("/_search"):
                self._reply(200, ES_SEARCH_REPLY)
            elif path == "/":
                self._reply(200, {"name": "replay", "cluster_name": "replay", "version": {"number": "9.0.0"},
                                  "tagline": "You Know, for Search"})
            else:
                self._reply(200, {"acknowledged": True})

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = int(server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True, name="es-replay").start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return state, stop


# ------------------------------------------------------------------------------------------- fixtures
# The e2e and integration folders each have a conftest that exposes these fixtures; session fixtures from
# two conftests are two fixtures to pytest, so each server is started once per process here and stopped
# when the process exits.
_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()


def _once(name: str, start: Callable[[], tuple[Any, Callable[[], None]]]) -> Any:
    with _SHARED_LOCK:
        if name not in _SHARED:
            value, stop = start()
            _SHARED[name] = value
            atexit.register(stop)
        return _SHARED[name]


@pytest.fixture(scope="session")
def external_pg(local_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> ExternalPostgres:
    server: ExternalPostgres = _once(
        "external_pg", lambda: start_external_postgres(tmp_path_factory.mktemp("external-pg")))
    return server


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> MariaDB:
    def start() -> tuple[MariaDB, Callable[[], None]]:
        server, stop = start_mariadb(tmp_path_factory.mktemp("mariadb"))
        try:
            seed_mariadb(server)
        except BaseException:
            stop()
            raise
        return server, stop

    server: MariaDB = _once("mariadb", start)
    return server


@pytest.fixture(scope="session")
def es_replay() -> EsReplayServer:
    server: EsReplayServer = _once("es_replay", start_es_replay)
    return server


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The chdb-backed ClickHouse (tests/servers_clickhouse.py), seeded with the saved-query tables."""
    def start() -> tuple[Any, Callable[[], None]]:
        from servers_clickhouse import ClickHouseServer, start_clickhouse_server

        data_dir = tmp_path_factory.mktemp("clickhouse-queries")
        host, port, stop = start_clickhouse_server(data_dir)
        try:
            seed_clickhouse(host, port)
        except BaseException:
            stop()
            raise
        return ClickHouseServer(host, port, "default", "", data_dir), stop

    return _once("clickhouse", start)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
