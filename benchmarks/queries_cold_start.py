"""Cold start of ``execute_query``: a fresh interpreter importing the handler and everything the first
execution of one driver loads (Jinja sandbox, sqlglot and the dialect, the driver's client, boto3 for the
secret), against ``python -c "import boto3, pydantic"``. Target (issue 4): at most 1.6x, with only the
needed driver imported (checked in each run: the other drivers' client libraries must not be loaded).

    .venv/bin/python benchmarks/queries_cold_start.py [driver ...]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import interleaved, ratio_row, time_process

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "common" / "python"
HANDLER = ROOT / "functions" / "execute_query" / "app.py"
TARGET = 1.6
CLIENTS = {"postgres": "pg8000", "redshift": "pg8000", "internal": "pg8000", "mysql": "pymysql",
           "clickhouse": "clickhouse_connect", "elasticsearch": "elasticsearch"}
# What the first execution imports besides the driver (see telltale.queries.render / guard / es_guard).
FIRST_RUN = {
    "postgres": "import boto3, jinja2.sandbox, sqlglot, pg8000.native; sqlglot.Dialect.get_or_raise('postgres')",
    "redshift": "import boto3, jinja2.sandbox, sqlglot, pg8000.native; sqlglot.Dialect.get_or_raise('redshift')",
    "internal": "import boto3, jinja2.sandbox, sqlglot, pg8000.native; sqlglot.Dialect.get_or_raise('postgres')",
    "mysql": "import boto3, jinja2.sandbox, sqlglot, pymysql; sqlglot.Dialect.get_or_raise('mysql')",
    "clickhouse": "import boto3, jinja2.sandbox, sqlglot, clickhouse_connect; "
                  "sqlglot.Dialect.get_or_raise('clickhouse')",
    "elasticsearch": "import boto3, jinja2.sandbox, elasticsearch",
}


def code_for(driver: str) -> str:
    others = sorted({c for d, c in CLIENTS.items() if c != CLIENTS[driver]})
    return (f"import sys; sys.path[:0] = [{str(LAYER)!r}, {str(HANDLER.parent)!r}]\n"
            f"import importlib.util as u; s = u.spec_from_file_location('h', {str(HANDLER)!r})\n"
            "m = u.module_from_spec(s); s.loader.exec_module(m)\n"
            f"from telltale.connectors import load; load({driver!r})\n"
            f"{FIRST_RUN[driver]}\n"
            f"loaded = [c for c in {others!r} if c in sys.modules]\n"
            "assert not loaded, f'other drivers imported: {loaded}'\n")


def main(argv: list[str]) -> int:
    env = dict(os.environ, POWERTOOLS_TRACE_DISABLED="true")
    baseline = [sys.executable, "-c", "import boto3, pydantic"]
    print(f"{'execute_query cold start':<40} {'handler':>12}    {'baseline':>12}   ratio   (target {TARGET}x)")
    worst = 0.0
    for driver in CLIENTS:
        if argv and driver not in argv:
            continue
        code = code_for(driver)
        xs, ys = interleaved(lambda c=code: time_process([sys.executable, "-c", c], env),
                             lambda: time_process(baseline, env), runs=7)
        ratio = sorted(xs)[len(xs) // 2] / sorted(ys)[len(ys) // 2]
        worst = max(worst, ratio)
        print(ratio_row(f"execute_query + {driver}", xs, ys) + ("" if ratio <= TARGET else f"   OVER {TARGET}x"))
    print(f"worst ratio {worst:.2f}x (target {TARGET}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
