"""Cold start: each handler module's import time against `python -c "import boto3, pydantic"`.

Target (issue 3): at most 1.2x for every handler that is not a query executor. Each figure is a whole
fresh interpreter, as a Lambda cold start is, that sees the standard library and the Common layer only
(harness.layer_site); runs alternate with the baseline.

    .venv/bin/python benchmarks/platform_cold_start.py [function ...]
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, interleaved, layer_python, time_process

TARGET = 1.2
EXECUTORS = {"execute_query"}  # allowed 1.6x (issue 4): they load a database driver
RUNS = int(os.environ.get("BENCH_RUNS", "11"))


def handler_modules() -> list[tuple[str, Path]]:
    sys.path.insert(0, str(ROOT / "local"))
    from telltale_local.template import load

    return sorted({(fn.name + ("" if fn.module_path.stem == "app" else "." + fn.module_path.stem), fn.module_path)
                   for fn in load().functions.values()})


def main(argv: list[str]) -> int:
    env = dict(os.environ, POWERTOOLS_TRACE_DISABLED="true", PYTHONDONTWRITEBYTECODE="0")
    baseline = layer_python("import boto3, pydantic")
    # Each side's fastest of RUNS interleaved starts: on a shared machine a slower start is another
    # process's interference, not the import's cost (the reasoning of timeit's docs), and medians of
    # a few hundred milliseconds swung by a quarter between runs here. The median ratio is shown too.
    print(f"{'handler import':<28} {'handler':>9} {'baseline':>9}   ratio (fastest)   ratio (median)"
          f"   target {TARGET}x")
    over = []
    for name, path in handler_modules():
        if argv and name.split(".")[0] not in argv:
            continue
        code = (f"import importlib.util as u; s = u.spec_from_file_location('h', {str(path)!r}); "
                "m = u.module_from_spec(s); s.loader.exec_module(m)")
        xs, ys = interleaved(lambda c=code, p=path: time_process(layer_python(c, p.parent), env),
                             lambda: time_process(baseline, env), runs=RUNS)
        ratio = min(xs) / min(ys)
        limit = 1.6 if name.split(".")[0] in EXECUTORS else TARGET
        note = "" if ratio <= limit else f"   OVER {limit}x"
        print(f"{name:<28} {min(xs) * 1000:6.1f} ms {min(ys) * 1000:6.1f} ms   {ratio:5.2f}x"
              f"            {statistics.median(xs) / statistics.median(ys):5.2f}x{note}")
        if note:
            over.append(name)
    print(f"over target: {', '.join(over) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
