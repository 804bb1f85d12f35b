"""Cold-start imports from the layer as Lambda sees it: with the runtime's bytecode (what `make package`
ships when this machine has the runtime's Python) against source only (what it shipped before).

Lambda's file system is read-only, so a layer without bytecode is compiled from source at every cold start.
Both sides are the layer's dependencies installed for the runtime's Python (template.yaml) and this
machine's platform, plus the telltale package, in a fresh interpreter that may not write bytecode;
each side's fastest of RUNS interleaved starts.

    .venv/bin/python benchmarks/layer_bytecode.py
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, interleaved, time_process

sys.path.insert(0, str(ROOT / "scripts"))
import package  # the build's own interpreter finder and compile step

RUNS = 9
IMPORTS = {
    "a platform handler's imports": "import boto3, pydantic, telltale.web.http",
    "the baseline of platform_cold_start": "import boto3, pydantic",
    "an execution's libraries": "import sqlglot, sqlglot.dialects.postgres, jinja2.sandbox, pg8000.native",
}


def main() -> int:
    version, _ = package.runtime_of_template()
    interpreter = package.runtime_interpreter(version)
    if interpreter is None:
        print(f"no python{version} on this machine: nothing to compare")
        return 1
    machine = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}[platform.machine()]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "--platform", machine, "--python-version", version, "--implementation", "cp",
                        "--only-binary=:all:", "--no-compile", "--target", str(source),
                        "-r", str(ROOT / "layers" / "common" / "requirements.txt")], check=True)
        shutil.copytree(ROOT / "layers" / "common" / "python" / "telltale", source / "telltale",
                        ignore=shutil.ignore_patterns("__pycache__"))
        compiled = Path(tmp) / "compiled"
        shutil.copytree(source, compiled)
        package.compile_bytecode(compiled, version)
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
        print(f"python{version}, {machine}; fastest of {RUNS} interleaved starts")
        print(f"{'imports':<38} {'bytecode':>10} {'source':>10}   ratio")
        for name, code in IMPORTS.items():
            def start(tree: Path, code: str = code) -> float:
                return time_process([interpreter, "-S", "-c", code], env={**env, "PYTHONPATH": str(tree)})

            with_pyc, without = interleaved(lambda: start(compiled), lambda: start(source), runs=RUNS)
            print(f"{name:<38} {min(with_pyc) * 1000:8.0f} ms {min(without) * 1000:8.0f} ms"
                  f"   {min(with_pyc) / min(without):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
