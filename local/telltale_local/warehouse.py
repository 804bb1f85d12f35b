"""The demo warehouse: a PostgreSQL of its own that `make dev` starts beside the platform database, so a
newcomer has an external database to point a saved-query secret at and a query log to mine, on a fresh
machine, with the addresses the docs show.

It is a second embedded cluster (``.telltale/warehouse/``), not a database of the platform's server: the
platform database is never a secret's or a connector's target (telltale.platform.netguard), and a
tenant's external database would not be there either. It holds database ``analytics`` with schema
``sales`` (regions, customers, orders, order_items), a read-only login ``reader`` / ``reader`` (documented:
it can read ``sales`` and nothing else, and it may read every statement in ``pg_stat_statements``, which
is what query-log mining reads), and a few reports run as that reader so the log has something to mine.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telltale_local.pg import EmbeddedPostgres, free_port

DATABASE = "analytics"
READER = "reader"
READER_PASSWORD = "reader"  # a documented demo credential on a loopback-only server
DEFAULT_PORT = 54330
PLATFORM_DEFAULT_PORT = 54329

REPORTS = [  # what an analyst's BI tool would run; the values differ so mining sees one pattern each
    "SELECT r.name, sum(o.total_amount) FROM sales.orders o JOIN sales.regions r ON r.id = o.region_id"
    " WHERE o.status = '{status}' GROUP BY r.name",
    "SELECT c.segment, count(*) FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.id"
    " WHERE o.created_at > now() - interval '{days} days' GROUP BY c.segment",
    "SELECT product, sum(quantity) FROM sales.order_items WHERE unit_price > {price} GROUP BY product",
]


def stable_port(data_dir: Path, name: str, preferred: int | None) -> int:
    """The port ``name`` listens on, kept in ``ports.json`` so that it is the same at every start: the
    preferred one when it is free the first time, else any free port (then kept as well)."""
    path = data_dir / "ports.json"
    ports: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
    if name not in ports:
        ports[name] = preferred if preferred is not None and _free(preferred) else free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ports, indent=1))
    return int(ports[name])


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class DemoWarehouse:
    def __init__(self, data_dir: Path, preferred_port: int | None = DEFAULT_PORT) -> None:
        folder = data_dir / "warehouse"
        self.pg = EmbeddedPostgres(folder, port=stable_port(data_dir, "warehouse", preferred_port))

    @property
    def port(self) -> int:
        return self.pg.port

    def start(self) -> None:
        self.pg.init()
        self.pg.start()
        self._load()

    def stop(self) -> None:
        self.pg.stop()

    def _load(self) -> None:
        conn = self.pg._socket_connect("postgres")
        try:
            if conn.run("SELECT 1 FROM pg_database WHERE datname = :d", d=DATABASE):
                return
            conn.run(f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'")
            conn.run(f"GRANT pg_read_all_stats TO {READER}")
            conn.run(f"CREATE DATABASE {DATABASE}")
        finally:
            conn.close()
        conn = self.pg._socket_connect(DATABASE)
        try:
            conn.run("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.run("CREATE SCHEMA sales")
            for ddl in (
                "CREATE TABLE sales.regions (id int PRIMARY KEY, name text NOT NULL)",
                "CREATE TABLE sales.customers (id int PRIMARY KEY, name text NOT NULL, segment text NOT NULL)",
                "CREATE TABLE sales.orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES"
                " sales.customers, region_id int NOT NULL REFERENCES sales.regions, status text NOT NULL,"
                " total_amount numeric(12, 2) NOT NULL, created_at timestamptz NOT NULL)",
                "CREATE TABLE sales.order_items (order_id int NOT NULL REFERENCES sales.orders, product text NOT NULL,"
                " quantity int NOT NULL, unit_price numeric(10, 2) NOT NULL)",
            ):
                conn.run(ddl)
            self._fill(conn)
            conn.run(f"REVOKE ALL ON DATABASE {DATABASE} FROM PUBLIC")
            conn.run(f"GRANT CONNECT ON DATABASE {DATABASE} TO {READER}")
            conn.run(f"GRANT USAGE ON SCHEMA sales TO {READER}")
            conn.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA sales TO {READER}")
            conn.run(f"ALTER ROLE {READER} SET default_transaction_read_only = on")
        finally:
            conn.close()
        self._run_reports()

    @staticmethod
    def _fill(conn: Any) -> None:
        rng = random.Random(20240301)
        regions = ["North America", "Europe", "Asia Pacific", "Latin America"]
        for i, name in enumerate(regions, 1):
            conn.run("INSERT INTO sales.regions VALUES (:i, :n)", i=i, n=name)
        for i in range(1, 51):
            conn.run("INSERT INTO sales.customers VALUES (:i, :n, :s)", i=i, n=f"Customer {i}",
                     s=rng.choice(["enterprise", "mid-market", "smb"]))
        base = datetime.now(UTC) - timedelta(days=90)
        for i in range(1, 301):
            conn.run("INSERT INTO sales.orders VALUES (:i, :c, :r, :s, :a, :t)", i=i, c=rng.randint(1, 50),
                     r=rng.randint(1, len(regions)), s=rng.choice(["paid", "shipped", "refunded"]),
                     a=f"{rng.uniform(20, 2000):.2f}", t=base + timedelta(hours=rng.randint(0, 24 * 90)))
            for _ in range(rng.randint(1, 3)):
                conn.run("INSERT INTO sales.order_items VALUES (:o, :p, :q, :u)", o=i,
                         p=rng.choice(["widget", "gadget", "gizmo", "doohickey"]), q=rng.randint(1, 5),
                         u=f"{rng.uniform(5, 400):.2f}")

    def _run_reports(self) -> None:
        import pg8000.native

        conn = pg8000.native.Connection(READER, password=READER_PASSWORD, host="127.0.0.1", port=self.port,
                                        database=DATABASE)
        try:
            for n, (status, days, price) in enumerate((("paid", 30, 10), ("shipped", 7, 100), ("paid", 90, 50))):
                for report in REPORTS[: n + 1] if n < 2 else REPORTS:
                    conn.run(report.format(status=status, days=days, price=price))
        finally:
            conn.close()
