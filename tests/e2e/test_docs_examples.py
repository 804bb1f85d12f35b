"""The README's and the docs' shell examples, run as written against a fresh local stack.

A newcomer copies these blocks into a terminal after `make dev`; each file's blocks run here in order in
one bash session (so ``TOKEN`` and the ids a block captures carry on), with only the stack's address and
the demo warehouse's port put in for the documented ones. Every curl must answer below 400, and every curl
written in the file must have run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCS = ["README.md", "docs/queries.md", "docs/usage-analytics.md", "docs/events.md", "docs/saas-metrics.md",
        "docs/api-analytics.md", "docs/product-analytics.md"]
BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.S | re.M)
# Documented, not run: the optional real Superset install (minutes, hundreds of MB).
NOT_RUN = ("superset-venv",)
WRAPPER = r'''
set -euo pipefail
curl() {
  local out code
  out=$(command curl -sS -w '\n__STATUS__%{http_code}' "$@") || { echo "failed: curl ${1:-}" >> "$CURL_LOG"; return 1; }
  code=${out##*__STATUS__}
  printf '%s\n' "${out%__STATUS__*}"
  local args="$*"; echo "$code curl ${args//$'\n'/ }" >> "$CURL_LOG"
}
'''


def blocks(doc: str) -> list[str]:
    found = BLOCK.findall((ROOT / doc).read_text())
    return [b for b in found if "curl " in b and not any(m in b for m in NOT_RUN)]


@pytest.mark.parametrize("doc", DOCS)
def test_the_examples_run_as_written(doc: str, tmp_path: Path) -> None:
    """Each file on a fresh `telltale dev` (the process `make dev` runs), demo warehouse included."""
    from dev_process import start, stop, wait_up

    from telltale_local.pg import free_port

    found = blocks(doc)
    assert found, f"{doc} has no shell examples with curl"
    data_dir, port = tmp_path / "telltale", free_port()
    proc = start(data_dir, port)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_up(url, proc)
        warehouse_port = json.loads((data_dir / "ports.json").read_text())["warehouse"]
        script = "\n".join(found)
        script = script.replace("http://127.0.0.1:3000", url).replace("54330", str(warehouse_port))
        script = script.replace(".venv/bin/telltale", str(ROOT / ".venv" / "bin" / "telltale"))
        log = tmp_path / "curl.log"
        env = dict(os.environ, CURL_LOG=str(log), TELLTALE_DATA_DIR=str(data_dir))
        run = subprocess.run(["bash", "-c", WRAPPER + script], capture_output=True, text=True, env=env,
                             cwd=tmp_path, timeout=300)
        calls = log.read_text().splitlines() if log.exists() else []
        assert run.returncode == 0, (run.stderr[-3000:], calls)
        refused = [c for c in calls if not c[:3].isdigit() or int(c[:3]) >= 400]
        assert not refused, (refused, run.stdout[-3000:])
        assert len(calls) == script.count("curl "), (len(calls), calls)
        if "query-log-mining" in script:  # the demo warehouse's log had something to mine
            assert re.search(r'"rows_upserted": [1-9]', run.stdout), run.stdout[-3000:]
    finally:
        stop(proc)
