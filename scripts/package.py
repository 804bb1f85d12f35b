"""Build the deployable artifacts without Docker: the Common layer and one zip per function.

pip selects wheels for the Lambda runtime's platform and Python version (template.yaml: python3.13 on
arm64), so native dependencies (pydantic-core, clickhouse-connect's extensions, ...) are the Lambda's,
not this machine's. `sam build --use-container` does the same where Docker exists.

The layer carries bytecode compiled for the runtime's Python when this machine has that interpreter (on
PATH or under pyenv): Lambda's file system is read-only, so without it every cold start compiles every
module it imports from source (benchmarks/README.md, "Figures the code relies on"). Without the
interpreter the build says so and ships source only.

Then the size Lambda counts: a function's code and its layers, unzipped, may not pass 250 MB. The build
prints the layer's unzipped size, its largest parts and the largest layer + function total, and fails past
200 MB, which leaves room for function code and for a dependency's next release.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
MB = 1024 * 1024
# Lambda's quota: the function's code and all its layers, unzipped (AWS counts 250 MB as 250 MiB).
LAMBDA_LIMIT = 250 * MB
# What the build allows of it.
BUDGET = 200 * MB


def runtime_of_template() -> tuple[str, str]:
    """(python version, architecture) declared in template.yaml's Globals."""
    sys.path.insert(0, str(ROOT / "local"))
    import yaml

    from telltale_local.template import TEMPLATE, _CfnLoader

    glob = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Globals"]["Function"]  # noqa: S506
    return glob["Runtime"].removeprefix("python"), glob["Architectures"][0]


def runtime_interpreter(version: str) -> str | None:
    """A ``python<version>`` interpreter on this machine (PATH, then pyenv's versions), or None."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [shutil.which(f"python{version}"),
                  *map(str, sorted(pyenv.glob(f"{version}*/bin/python{version}"), reverse=True))]
    for candidate in filter(None, candidates):
        found = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, check=False).stdout.strip()
        if found == version:
            return candidate
    return None


def compile_bytecode(tree: Path, version: str) -> str | None:
    """Compile ``tree`` for ``python<version>``: the pyc tag kept in the zip, or None without the interpreter.

    ``unchecked-hash`` pycs are used without looking at the source's timestamp, which a zip does not keep
    exactly; the layer never changes in place, so there is nothing to check."""
    interpreter = runtime_interpreter(version)
    if interpreter is None:
        return None
    subprocess.run([interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                    str(tree)], check=False, stdout=subprocess.DEVNULL)
    return "cpython-" + version.replace(".", "")


def _zip_dir(src: Path, dest: Path, prefix: str = "", pyc_tag: str | None = None) -> None:
    """Zip ``src``; of the bytecode, only ``pyc_tag``'s (pip's own, for this machine's Python, is useless
    to Lambda)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            if path.is_dir():
                continue
            if "__pycache__" in path.parts and not (pyc_tag and path.name.endswith(f".{pyc_tag}.pyc")):
                continue
            zf.write(path, prefix + str(path.relative_to(src)))


def build(out: Path) -> Path:
    version, arch = runtime_of_template()
    if out.exists():
        shutil.rmtree(out)
    layer = out / "layer" / "python"
    layer.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-cache-dir", "--disable-pip-version-check",
                    "--platform", PLATFORMS[arch], "--python-version", version, "--implementation", "cp",
                    "--only-binary=:all:", "--target", str(layer),
                    "-r", str(ROOT / "layers" / "common" / "requirements.txt")], check=True)
    shutil.copytree(ROOT / "layers" / "common" / "python" / "telltale", layer / "telltale",
                    ignore=shutil.ignore_patterns("__pycache__"))
    pyc_tag = compile_bytecode(layer, version)
    bytecode = f"bytecode {pyc_tag}" if pyc_tag else f"no bytecode (no python{version} on this machine)"
    (out / "target.txt").write_text(f"python{version} {arch} {PLATFORMS[arch]}, {bytecode}\n")
    _zip_dir(out / "layer", out / "layer.zip", pyc_tag=pyc_tag)
    functions = out / "functions"
    functions.mkdir()
    # One zip per function of the template, holding its CodeUri as Lambda will unpack it (the handler
    # path is relative to that folder), named after the logical id.
    from telltale_local.template import load

    for fn in load().functions.values():
        _zip_dir(fn.code_uri, functions / f"{fn.logical_id}.zip")
    return out


def unzipped_size(archive: Path) -> int:
    """Bytes ``archive`` unpacks to, as Lambda unpacks it."""
    with zipfile.ZipFile(archive) as zf:
        return sum(info.file_size for info in zf.infolist())


def largest_parts(archive: Path, top: int = 5) -> list[tuple[str, int]]:
    """The ``top`` largest top-level packages of the layer (``python/<name>``), unzipped."""
    parts: dict[str, int] = {}
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = info.filename.split("/")[1] if info.filename.count("/") >= 1 else info.filename
            parts[name] = parts.get(name, 0) + info.file_size
    return sorted(parts.items(), key=lambda p: -p[1])[:top]


def size_report(out: Path, budget: int = BUDGET) -> tuple[bool, list[str]]:
    """(within ``budget``, the lines to print) for the artifacts in ``out``: the layer and the largest
    layer + function total, against Lambda's limit."""
    layer = unzipped_size(out / "layer.zip")
    functions = {p.stem: unzipped_size(p) for p in (out / "functions").glob("*.zip")}
    name, code = max(functions.items(), key=lambda f: f[1])
    total = layer + code
    lines = [f"layer unzipped: {layer / MB:.1f} MB of Lambda's {LAMBDA_LIMIT / MB:.0f} MB limit "
             f"(layer + function code, unzipped); largest: "
             + ", ".join(f"{part} {size / MB:.1f} MB" for part, size in largest_parts(out / "layer.zip")),
             f"largest function: {name}, {code / MB:.2f} MB; with the layer {total / MB:.1f} MB "
             f"(budget {budget / MB:.0f} MB, {(LAMBDA_LIMIT - total) / MB:.1f} MB left under the limit)"]
    if total > budget:
        lines.append(f"too big: {total / MB:.1f} MB is past the {budget / MB:.0f} MB budget; drop or slim a "
                     "dependency of layers/common/requirements.txt (the largest are listed above)")
    return total <= budget, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "build" / "package"))
    args = parser.parse_args()
    out = build(Path(args.out))
    print(f"built {out}/layer.zip and {out}/functions/*.zip for {(out / 'target.txt').read_text().strip()}")
    ok, lines = size_report(out)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
