"""What saved-query execution adds to a query: render (Jinja sandbox) + guard (sqlglot: parse once, check
the tree, generate the SQL and read it back) + the connector's read-only session, against the raw driver
running the same SQL on the same server, p50 and p95 over a few thousand runs, interleaved so that a drift
in the machine hits both sides alike.

Both sides open a connection per query (as a Lambda execution does). Also shown: render + guard alone
(pure CPU; target under 1 ms at p50) beside its floor, one bare sqlglot parse of the same statement, with
sqlglot's compiled build (sqlglotc, what the layer ships) and with the pure-Python sqlglot, measured in a
subprocess that hides the compiled modules.

    .venv/bin/python benchmarks/queries_execution_overhead.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "layers" / "common" / "python"), str(ROOT / "local")]
from harness import percentile  # noqa: E402 - after the path setup above

TEMPLATE = ("SELECT region, SUM(amount) AS total, COUNT(*) AS n FROM sales WHERE day = '{{ day }}'"
            " AND region <> '{{ skip }}' GROUP BY region ORDER BY total DESC LIMIT 100")
PARAMS = {"day": "2024-01-15", "skip": "' OR 1=1 --"}


def render_and_guard(dialect: str = "postgres") -> str:
    """Render, parse once, put the values in as literals, check the tree, generate and re-read the SQL."""
    from telltale import sources
    from telltale.queries import guard, render

    rendered = render.render(TEMPLATE, PARAMS, language=dialect, user_profile={}, resolve_secret=None)
    return str(guard.prepare(rendered, sources.get(dialect).sql).sql)


# The same statement with its values written in: what the floor parses.
SQL_FLOOR = ("SELECT region, SUM(amount) AS total, COUNT(*) AS n FROM sales WHERE day = '2024-01-15'"
             " AND region <> ''' OR 1=1 --' GROUP BY region ORDER BY total DESC LIMIT 100")


def parse_only(dialect: str = "postgres") -> str:
    """The floor any tree-checking guard pays: one sqlglot parse of the statement, nothing else."""
    import sqlglot

    sqlglot.parse_one(SQL_FLOOR, read=dialect)
    return SQL_FLOOR


def cpu_only(runs: int, fn: Any = None) -> list[float]:
    fn = fn or render_and_guard
    fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def row(name: str, xs: list[float]) -> str:
    return f"{name:<44} p50 {percentile(xs, 50) * 1000:7.3f} ms   p95 {percentile(xs, 95) * 1000:7.3f} ms"


def pure_python_cpu(runs: int) -> str:
    """The same measurement with the compiled modules hidden (a copy of sqlglot without its .so files)."""
    import sqlglot

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(Path(sqlglot.__file__).parent, Path(tmp) / "sqlglot",
                        ignore=shutil.ignore_patterns("*.so", "__pycache__"))
        code = (f"import sys; sys.path[:0] = [{tmp!r}, {str(ROOT / 'benchmarks')!r}]\n"
                "import queries_execution_overhead as b, sqlglot\n"
                "assert not sqlglot.expressions.__file__.endswith('.so')\n"
                f"print(b.row('render + guard + regenerate (pure-Python sqlglot)', b.cpu_only({runs})))\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
        return out.stdout.strip() or out.stderr.strip()[-500:]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2000)
    args = ap.parse_args()


    from telltale.connectors.base import Limits, Prepared
    from telltale.connectors.postgres import CONNECTOR
    from telltale_local.pg import EmbeddedPostgres

    with tempfile.TemporaryDirectory() as tmp:
        pg = EmbeddedPostgres(Path(tmp))
        pg.init()
        pg.start()
        try:
            pg.bootstrap()
            conn = pg.connect("telltale", "telltale")
            conn.run("CREATE TABLE sales (region text, day date, amount integer)")
            conn.run("INSERT INTO sales SELECT 'r' || (i % 7), DATE '2024-01-10' + (i % 10), i FROM"
                     " generate_series(1, 5000) i")
            conn.run("ANALYZE sales")
            conn.close()
            config = {"host": "127.0.0.1", "port": pg.port, "database": "telltale", "username": "telltale",
                      "password": pg.password(), "statement_timeout": 30}
            sql = render_and_guard()

            def raw() -> float:
                t0 = time.perf_counter()
                c = pg.connect("telltale", "telltale")
                c.run(sql)
                c.close()
                return time.perf_counter() - t0

            def ours() -> float:
                t0 = time.perf_counter()
                text = render_and_guard()
                CONNECTOR.execute(Prepared(text=text, config=config), Limits())
                return time.perf_counter() - t0

            for _ in range(50):
                raw()
                ours()
            xs, ys = [], []
            for _ in range(args.runs):
                xs.append(raw())
                ys.append(ours())
        finally:
            pg.stop()

    import sqlglot
    import sqlglot.parser

    compiled = str(sqlglot.parser.__file__).endswith(".so")
    print(f"{args.runs} runs each, interleaved; sqlglot {sqlglot.__version__} ({'compiled' if compiled else 'pure'})")
    print(row("raw pg8000 (connect, run, close)", xs))
    print(row("render + guard + connector", ys))
    added50 = (percentile(ys, 50) - percentile(xs, 50)) * 1000
    added95 = (percentile(ys, 95) - percentile(xs, 95)) * 1000
    print(f"{'added':<44} p50 {added50:7.3f} ms   p95 {added95:7.3f} ms   "
          f"ratio p50 {percentile(ys, 50) / percentile(xs, 50):.2f}x")
    ours_cpu, floor_cpu = cpu_only(args.runs), cpu_only(args.runs, parse_only)
    print(row("render + guard + regenerate (compiled sqlglot)", ours_cpu))
    print(row("floor: one sqlglot parse (compiled)", floor_cpu))
    print(f"{'ratio to the floor':<44} p50 {percentile(ours_cpu, 50) / percentile(floor_cpu, 50):.2f}x")
    print(pure_python_cpu(min(args.runs, 500)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
