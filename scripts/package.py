"""Build the deployable artifacts without Docker: the Common layer and one zip per function.

pip selects wheels for the Lambda runtime's platform and Python version (template.yaml: python3.13 on
arm64), so native dependencies (pydantic-core, clickhouse-connect's extensions, ...) are the Lambda's,
not this machine's. `sam build --use-container` does the same where Docker exists.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}


def runtime_of_template() -> tuple[str, str]:
    """(python version, architecture) declared in template.yaml's Globals."""
    sys.path.insert(0, str(ROOT / "local"))
    import yaml

    from telltale_local.template import TEMPLATE, _CfnLoader

    glob = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)["Globals"]["Function"]  # noqa: S506
    return glob["Runtime"].removeprefix("python"), glob["Architectures"][0]


def _zip_dir(src: Path, dest: Path, prefix: str = "") -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(src.rglob("*")):
            if "__pycache__" in path.parts or path.is_dir():
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
    (out / "target.txt").write_text(f"python{version} {arch} {PLATFORMS[arch]}\n")
    _zip_dir(out / "layer", out / "layer.zip")
    functions = out / "functions"
    functions.mkdir()
    # One zip per function of the template, holding its CodeUri as Lambda will unpack it (the handler
    # path is relative to that folder), named after the logical id.
    from telltale_local.template import load

    for fn in load().functions.values():
        _zip_dir(fn.code_uri, functions / f"{fn.logical_id}.zip")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "build" / "package"))
    args = parser.parse_args()
    out = build(Path(args.out))
    print(f"built {out}/layer.zip and {out}/functions/*.zip for {(out / 'target.txt').read_text().strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
