"""SnapStart's hooks for execute_query, called as Lambda's runtime calls them (``snapshot_restore_py``'s
registries): before the snapshot every driver, sqlglot dialect and the AWS client are loaded and nothing
is connected; after the restore the connections and the random state are new; then real queries run.

Lambda itself is not here: what is tested is that the hooks are registered by the handler's import,
that they do what the snapshot needs, and that a query run after them answers as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
DRIVERS = ("pg8000.native", "pymysql", "clickhouse_connect", "elasticsearch", "jinja2.sandbox",
           "sqlglot.dialects.clickhouse", "sqlglot.dialects.mysql", "sqlglot.dialects.redshift")

# A fresh interpreter imports the handler as Lambda's init does, then plays the runtime's part.
LIFECYCLE = r"""
import json, random, sys
sys.path.insert(0, "functions/execute_query")
import snapshot_restore_py as hooks
drivers = %(drivers)r
import app  # the handler module: its import registers the hooks
report = {"before_hooks": [f.__module__ + "." + f.__qualname__ for f, _, _ in hooks._before_snapshot_registry],
          "after_hooks": [f.__module__ + "." + f.__qualname__ for f, _, _ in hooks._after_restore_registry],
          "loaded_at_import": [d for d in drivers if d in sys.modules]}
for f, args, kwargs in hooks._before_snapshot_registry:
    f(*args, **kwargs)
from telltale.platform import aws, db
report["loaded_before_snapshot"] = [d for d in drivers if d in sys.modules]
report["clients"] = sorted(aws._clients)
report["connected_before_snapshot"] = getattr(db._local, "conn", None) is not None

class Socket:
    closed = False
    def close(self):
        Socket.closed = True

db._local.conn = Socket()  # as if the snapshot held a connection
random.seed(7); state = random.getstate()
for f, args, kwargs in hooks._after_restore_registry:
    f(*args, **kwargs)
report["connection_closed_after_restore"] = Socket.closed and db._local.conn is None
report["random_reseeded"] = random.getstate() != state
print(json.dumps(report))
"""


def _lifecycle(extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", **(extra_env or {})}
    out = subprocess.run([sys.executable, "-c", LIFECYCLE % {"drivers": DRIVERS}], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


def test_the_handler_registers_hooks_that_load_everything_before_the_snapshot_and_renew_after():
    report = _lifecycle()
    assert report["before_hooks"] == ["telltale.queries.warm.prepare"]
    assert report["after_hooks"] == ["telltale.platform.snapstart.restored", "telltale.queries.warm.restored"]
    # Without a snapshot the cold start is what it was: no driver until a query needs it.
    assert report["loaded_at_import"] == []
    assert report["loaded_before_snapshot"] == list(DRIVERS)
    assert report["clients"] == ["secretsmanager"]
    assert report["connected_before_snapshot"] is False  # no socket, no secret in the snapshot
    assert report["connection_closed_after_restore"] is True
    assert report["random_reseeded"] is True


def test_without_the_runtime_module_nothing_is_registered(monkeypatch):
    from telltale.queries import warm

    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # an import of it raises ImportError
    assert warm.register() is False


def test_queries_run_after_the_hooks(api, local_stack):
    """The hooks run in this process (the local stack's functions do too), then internal and external
    queries execute over HTTP as before: a restored environment opens what it needs anew."""
    import importlib

    import snapshot_restore_py as hooks

    from telltale.queries import warm

    hooks = importlib.reload(hooks)  # empty registries
    assert warm.register() is True
    for f, args, kwargs in hooks._before_snapshot_registry:
        f(*args, **kwargs)
    for f, args, kwargs in hooks._after_restore_registry:
        f(*args, **kwargs)
    name = f"after restore {uuid.uuid4().hex[:6]}"
    r = api.post("/api/apps/shop/analytics/queries/",
                 json={"name": name, "connection_type": "internal",
                       "query_text": "SELECT count(*) AS n FROM orders WHERE status = {{ status }}"})
    assert r.status_code == 201, r.text
    run = api.post(f"/api/apps/shop/analytics/queries/{r.json()['data']['slug']}/execute/",
                   json={"params": {"status": "paid"}})
    assert run.status_code == 200, run.text
    assert run.json()["data"][0]["n"] > 0
