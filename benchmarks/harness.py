"""Side-by-side measurement helpers for the benchmarks: runs interleaved A, B, A, B ... and ratios of
medians, so a drift in the machine's speed hits both sides alike. Never part of the test pass/fail."""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def platform_postgres(data_dir: Path) -> Any:
    """A throwaway embedded PostgreSQL in ``data_dir`` with the migrations applied, and this process's
    telltale package pointed at it (what the benchmarks that write to the platform database share)."""
    from telltale_local.pg import EmbeddedPostgres

    pg = EmbeddedPostgres(data_dir)
    pg.init()
    pg.start()
    pg.bootstrap()
    os.environ.update({"TELLTALE_DB_HOST": "127.0.0.1", "TELLTALE_DB_PORT": str(pg.port),
                       "TELLTALE_DB_USER": "telltale", "TELLTALE_DB_NAME": "telltale",
                       "TELLTALE_DB_PASSWORD": pg.password()})
    from telltale.platform import config, db, migrate

    config.reset_settings()
    db.reset()
    migrate.apply_all()
    return pg


ROOT = Path(__file__).resolve().parents[1]
LAYER_CODE = ROOT / "layers" / "common" / "python"
LAYER_REQUIREMENTS = ROOT / "layers" / "common" / "requirements.txt"


def layer_site() -> Path:
    """The Common layer's dependencies, installed for this machine's Python into build/bench/.

    Cold-start benchmarks import from here rather than from the dev virtualenv, which also holds the
    test tools (chdb brings numpy, pandas and pyarrow, and the Elasticsearch client and clickhouse-connect
    import those when they find them). Lambda sees the layer only; so do the measurements.
    """
    digest = hashlib.sha256(LAYER_REQUIREMENTS.read_bytes()).hexdigest()[:12]
    site = ROOT / "build" / "bench" / f"layer-site-{digest}"
    if not (site / ".complete").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", "--target", str(site), "-r", str(LAYER_REQUIREMENTS)],
                       check=True)
        (site / ".complete").touch()
    return site


def layer_python(code: str, *extra_paths: Path) -> list[str]:
    """argv running ``code`` in a fresh interpreter that sees the standard library, the layer's
    dependencies, the telltale package and ``extra_paths``, and nothing else (``-S``: no site-packages)."""
    paths = [str(p) for p in (*extra_paths, LAYER_CODE, layer_site())]
    return [sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {paths!r}\n{code}"]


def time_process(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def interleaved(a: Callable[[], float], b: Callable[[], float], runs: int = 9,
                warmup: int = 1) -> tuple[list[float], list[float]]:
    for _ in range(warmup):
        a()
        b()
    xs, ys = [], []
    for _ in range(runs):
        xs.append(a())
        ys.append(b())
    return xs, ys


def ratio_row(name: str, xs: list[float], ys: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    mx, my = statistics.median(xs), statistics.median(ys)
    return f"{name:<40} {mx * scale:9.1f} {unit} vs {my * scale:9.1f} {unit}   ratio {mx / my:5.2f}x"


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def timed(fn: Callable[[], object], runs: int) -> float:
    """The median of ``runs`` timed calls of ``fn``, after one untimed warm-up (caches, connections, cold start)."""
    import statistics
    import time

    fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)
