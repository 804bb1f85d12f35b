"""`telltale dev` as a newcomer runs it: it starts, serves, stops cleanly on Ctrl-C, and a restart finds
the data (database rows and Secrets Manager values) where it left them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from dev_process import start as _start
from dev_process import stop as _stop
from dev_process import wait_up as _wait_up

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_dev_stops_cleanly_and_keeps_its_data(tmp_path):
    from telltale_local import tokens
    from telltale_local.pg import free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    try:
        _wait_up(url, proc)
        h = {"Authorization": f"Bearer {tokens.mint(tmp_path, tenant='demo')}"}
        value = {"host": "h", "port": 5432, "database": "d", "username": "u", "password": "kept-secret"}
        r = requests.post(f"{url}/api/apps/shop/secrets/", headers=h, timeout=30,
                          json={"key": "survives", "type_slug": "analytics-postgres", "value": value})
        assert r.status_code == 201, r.text
        ports = json.loads((tmp_path / "stack.json").read_text())
    finally:
        out = _stop(proc)
    assert "Telltale is running" in out and f"{url}/swagger" in out and "telltale token" in out
    assert "Stopped." in out
    assert not (tmp_path / "stack.json").exists()

    proc = _start(tmp_path, port)
    try:
        _wait_up(url, proc)
        h = {"Authorization": f"Bearer {tokens.mint(tmp_path, tenant='demo')}"}
        assert requests.get(f"{url}/api/apps/shop/secrets/survives/", headers=h, timeout=30).status_code == 200
        apps = requests.get(f"{url}/api/apps/", headers=h, timeout=30).json()["data"]
        assert [a["slug"] for a in apps] == ["shop"]  # demo data loaded once, not twice
        # Both databases listen where they did: a secret saved against the demo warehouse keeps working.
        again = json.loads((tmp_path / "stack.json").read_text())
        assert (again["pg_port"], again["warehouse_port"]) == (ports["pg_port"], ports["warehouse_port"])
        assert f"127.0.0.1:{ports['warehouse_port']}/analytics" in out
        # The value itself survived too: `telltale invoke` resolves it through the running stack.
        env = dict(os.environ, TELLTALE_DATA_DIR=str(tmp_path))
        code = ("from pathlib import Path; from telltale_local import cli;"
                f"cli._with_backends(Path({str(tmp_path)!r}));"
                "from telltale.secrets import lookup as s;"
                "print(s.resolve('demo', 'shop', 'survives').value['password'])")
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=60, check=False)
        assert out.stdout.strip().endswith("kept-secret"), out.stderr
    finally:
        _stop(proc)


def test_a_busy_port_fails_at_once_and_leaves_nothing_running(tmp_path):
    import socket

    from telltale_local.pg import free_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _start(tmp_path, port)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in out and "--port" in out
    assert not (tmp_path / "pg" / "postmaster.pid").exists() and not list(tmp_path.rglob("postmaster.pid"))
    # And the folder is usable straight away.
    port = free_port()
    proc = _start(tmp_path, port)
    try:
        _wait_up(f"http://127.0.0.1:{port}", proc)
    finally:
        _stop(proc)


def test_a_postgresql_left_running_by_a_dead_process_is_stopped_and_replaced(tmp_path):
    from telltale_local.pg import free_port
    from telltale_local.stack import LocalStack

    leftover = LocalStack(tmp_path, port=0).pg  # what a killed `telltale dev` leaves behind
    leftover.init()
    leftover.start()
    assert leftover.running()
    port = free_port()
    proc = _start(tmp_path, port)
    try:
        _wait_up(f"http://127.0.0.1:{port}", proc)
    finally:
        out = _stop(proc)
    assert "left running" in out
    assert not leftover.running()
