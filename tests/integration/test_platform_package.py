"""The deployable layer built without Docker (``make package``) holds every dependency, for the Lambda's
platform: each requirement and each of their requirements (markers evaluated for the target), and no
native extension built for another machine."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "package"

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def built() -> Path:
    sources = [ROOT / "layers" / "common" / "requirements.txt", ROOT / "template.yaml", ROOT / "scripts" / "package.py",
               *(p for p in (ROOT / "functions").rglob("*") if p.is_file() and "__pycache__" not in p.parts)]
    target = OUT / "target.txt"
    if not target.exists() or any(s.stat().st_mtime > target.stat().st_mtime for s in sources):
        subprocess.run([sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(OUT)], check=True)
    return OUT


def _target_env(built: Path) -> dict[str, str]:
    version = built.joinpath("target.txt").read_text().split()[0].removeprefix("python")
    env = dict(default_environment())
    env.update({"python_version": version, "python_full_version": version + ".0", "sys_platform": "linux",
                "platform_system": "Linux", "platform_machine": "aarch64", "implementation_name": "cpython",
                "platform_python_implementation": "CPython", "os_name": "posix"})
    return env


def test_every_dependency_is_in_the_layer(built: Path):
    site = built / "layer" / "python"
    dists = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions(path=[str(site)])}
    env = _target_env(built)
    wanted = []
    for line in (ROOT / "layers" / "common" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            wanted.append(Requirement(line))
    missing = []
    seen = set()
    while wanted:
        req = wanted.pop()
        name = canonicalize_name(req.name)
        if req.marker and not req.marker.evaluate(env):
            continue
        if name not in dists:
            missing.append(str(req))
            continue
        assert req.specifier.contains(dists[name].version, prereleases=True), f"{name} {dists[name].version} !{req}"
        key = (name, tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        for sub in dists[name].requires or []:
            r = Requirement(sub)
            extra_env = [dict(env, extra=e) for e in (req.extras or {""})]
            if r.marker is None or any(r.marker.evaluate(e) for e in extra_env):
                wanted.append(Requirement(str(r).split(";")[0]))
    assert not missing, f"missing from the layer: {missing}"
    assert (site / "telltale" / "platform" / "migrations" / "0001_platform.sql").exists()


def test_native_extensions_are_for_the_lambda_platform(built: Path):
    site = built / "layer" / "python"
    version = built.joinpath("target.txt").read_text().split()[0].removeprefix("python").replace(".", "")
    so_files = list(site.rglob("*.so"))
    assert so_files, "expected native extensions (pydantic-core at least)"
    for so in so_files:
        tag = re.search(r"\.cpython-(\d+)-([a-z0-9_]+)-linux-gnu\.so$", so.name)
        if tag:
            assert tag.group(1) == version and tag.group(2) == "aarch64", so.name
        header = so.read_bytes()[:20]
        assert header[:4] == b"\x7fELF"
        machine = int.from_bytes(header[18:20], "little")
        assert machine == 183, f"{so.name} is not an aarch64 binary (e_machine={machine})"  # 183 = EM_AARCH64


def test_every_function_has_an_artifact_that_holds_its_handler(built: Path, tmp_path: Path):
    """Each zip, unpacked as Lambda unpacks it, has the template's handler (checked by importing it)."""
    import importlib.util
    import zipfile

    sys.path.insert(0, str(ROOT / "local"))
    from telltale_local.template import load

    functions = load().functions
    assert {p.stem for p in (built / "functions").glob("*.zip")} == set(functions)
    for logical_id, fn in functions.items():
        unpacked = tmp_path / logical_id
        with zipfile.ZipFile(built / "functions" / f"{logical_id}.zip") as zf:
            zf.extractall(unpacked)
        module = fn.handler.rsplit(".", 1)[0]
        spec = importlib.util.spec_from_file_location(f"packaged_{logical_id}", unpacked / (module.replace(".", "/")
                                                                                             + ".py"))
        assert spec is not None and spec.loader is not None, logical_id
        loaded = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(unpacked))  # Lambda's /var/task: the handler may import the modules beside it
        try:
            spec.loader.exec_module(loaded)
        finally:
            sys.path.remove(str(unpacked))
        assert callable(getattr(loaded, fn.handler_name)), logical_id
    # The docs function serves generated files; they must travel with it.
    assert {"openapi.json", "swagger.html"} <= {p.name for p in (tmp_path / "ApiDocsFunction").iterdir()}


def _package_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("telltale_package_script", ROOT / "scripts" / "package.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_layer_and_each_function_fit_the_budget_under_lambdas_limit(built: Path):
    """Lambda refuses a function whose code and layers pass 250 MB unzipped; `make package` fails past 200."""
    import zipfile

    package = _package_script()
    ok, lines = package.size_report(built)
    assert ok, lines
    layer = package.unzipped_size(built / "layer.zip")
    with zipfile.ZipFile(built / "layer.zip") as zf:  # measured as Lambda unpacks it: every file's size
        assert layer == sum(i.file_size for i in zf.infolist()) > 20 * package.MB
    for archive in (built / "functions").glob("*.zip"):
        assert layer + package.unzipped_size(archive) <= package.BUDGET < package.LAMBDA_LIMIT, archive.name
    assert lines[0].startswith(f"layer unzipped: {layer / package.MB:.1f} MB of Lambda's 250 MB limit")
    # Past the budget the report says so and the build fails.
    ok, lines = package.size_report(built, budget=layer)
    assert not ok and lines[-1].startswith("too big:")


def test_the_layer_carries_bytecode_for_the_runtime_and_none_for_this_machine(built: Path):
    """Lambda's file system is read-only: without the runtime's bytecode in the layer, every cold start
    compiles what it imports from source. pip's bytecode for this machine's Python is left out."""
    import zipfile

    package = _package_script()
    version = built.joinpath("target.txt").read_text().split()[0].removeprefix("python")
    if package.runtime_interpreter(version) is None:
        pytest.skip(f"no python{version} on this machine to compile the runtime's bytecode with")
    tag = "cpython-" + version.replace(".", "")
    with zipfile.ZipFile(built / "layer.zip") as zf:
        names = zf.namelist()
    pycs = [n for n in names if n.endswith(".pyc")]
    assert f"python/telltale/platform/__pycache__/db.{tag}.pyc" in names
    assert f"python/pydantic/__pycache__/main.{tag}.pyc" in names
    assert pycs and all(f".{tag}." in n for n in pycs), [n for n in pycs if f".{tag}." not in n][:5]
    assert "bytecode " + tag in built.joinpath("target.txt").read_text()
