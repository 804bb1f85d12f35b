"""Anonymization + table/column extraction throughput vs plain ``sqlglot.parse_one`` of the same queries.

Runs both over the real-world query corpus (tests/unit/usage/queries, three dialects) in the same process,
alternating rounds so that both see the same machine state, and prints queries per second and the ratio.
Target: analyze() at >= 0.8x of parse_one.

    .venv/bin/python benchmarks/usage_anonymize.py [rounds]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "common" / "python"))

import sqlglot  # noqa: E402

from telltale.usage.sql import analyze  # noqa: E402


def corpus() -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "tests" / "unit" / "usage" / "queries").glob("*.sql")):
        for chunk in path.read_text().split("-- @@\n"):
            sql = chunk.strip().partition("\n")[2].strip().rstrip(";")
            out.append((sql, path.stem))
    return out


def run(fn, queries: list[tuple[str, str]]) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for sql, dialect in queries:
        fn(sql, dialect)
    return time.perf_counter() - start


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    queries = corpus()
    base_fn = lambda sql, d: sqlglot.parse_one(sql, dialect=d)  # noqa: E731
    ours_fn = lambda sql, d: analyze(sql, d)  # noqa: E731
    run(base_fn, queries), run(ours_fn, queries)  # warm-up (imports, dialect caches)
    bases, ourss = [], []
    for _ in range(rounds):
        bases.append(run(base_fn, queries))
        ourss.append(run(ours_fn, queries))
    # Medians: the machine is shared, and one noisy round should not decide the ratio.
    base, ours = statistics.median(bases), statistics.median(ourss)
    n = len(queries)
    print(f"queries: {len(queries)} x {rounds} rounds (median round)")
    print(f"sqlglot.parse_one           : {n / base:9.0f} queries/s")
    print(f"analyze (anonymize+extract) : {n / ours:9.0f} queries/s")
    print(f"ratio analyze / parse_one   : {base / ours:9.2f}x   (target >= 0.80x)")


if __name__ == "__main__":
    main()
