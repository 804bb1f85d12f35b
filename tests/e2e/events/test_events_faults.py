"""Fault test: tens of thousands of events stream in while the database crashes and the whole stack (worker
included) is killed mid-batch; afterwards every accepted event is stored exactly once.

Runs its own local stack in a subprocess on a temp folder (never the shared one), so it can kill it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]
TOTAL = 20_000
BATCH = 500


def _start_stack(data: Path, port: int, log: Any) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'local'}:{ROOT / 'layers' / 'common' / 'python'}")
    for k in [k for k in env if k.startswith("TELLTALE_") or k.startswith("AWS_")]:
        env.pop(k)  # the subprocess stack sets its own (the test process's point at the shared stack)
    proc = subprocess.Popen([sys.executable, "-m", "telltale_local.cli", "--data-dir", str(data), "dev",
                             "--port", str(port), "--no-scheduler"], env=env, stdout=log, stderr=log, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the stack exited; see its log"
        try:
            requests.get(f"http://127.0.0.1:{port}/swagger", timeout=2)
            if (data / "stack.json").exists():
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError("the stack did not start")


def _pg(data: Path) -> Any:
    from telltale_local.pg import EmbeddedPostgres

    port = json.loads((data / "stack.json").read_text())["pg_port"]
    return EmbeddedPostgres(data, port=port)


def _count(pg: Any, event_type: str) -> tuple[int, int]:

    conn = pg.connect("telltale", "telltale", timeout=10)
    try:
        row = conn.run("SELECT count(*), count(DISTINCT event_id) FROM events.events WHERE tenant_id = 'fault'"
                       " AND event_type = :t", t=event_type)[0]
        return int(row[0]), int(row[1])
    finally:
        conn.close()


@pytest.mark.timeout(600)
def test_crashes_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    from telltale_local import tokens
    from telltale_local.pg import free_port

    data = tmp_path / "stack"
    data.mkdir()
    os.chmod(tmp_path, 0o755)
    port = free_port()
    log = open(tmp_path / "stack.log", "ab")  # noqa: SIM115 - closed in finally
    proc = _start_stack(data, port, log)
    event_type = f"fault{uuid.uuid4().hex[:8]}.happened"
    headers = {"Authorization": f"Bearer {tokens.mint(data, tenant='fault', user='u1')}"}
    batches = [[{"eventId": str(uuid.uuid4()), "eventType": event_type, "tenantId": "fault",
                 "attributes": {"i": str(b * BATCH + i)}} for i in range(BATCH)] for b in range(TOTAL // BATCH)]
    accepted: list[int] = []
    retries = [0]

    def send() -> None:
        session = requests.Session()
        for n, batch in enumerate(batches):
            # A client retries until 202: a replay of the same eventIds is stored once.
            while True:
                try:
                    r = session.post(f"http://127.0.0.1:{port}/api/analytics/events", json=batch, headers=headers,
                                     timeout=30)
                    if r.status_code == 202:
                        accepted.append(n)
                        break
                except requests.RequestException:
                    session = requests.Session()
                retries[0] += 1
                time.sleep(0.2)
            time.sleep(0.02)

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        # 1. The database crashes (immediate shutdown) while the worker is writing, then comes back.
        while len(accepted) * BATCH < 5_000:
            time.sleep(0.05)
        pg = _pg(data)
        pg.stop(mode="immediate")
        time.sleep(1.5)
        pg.start()
        # 2. The whole stack, worker included, is killed mid-stream (SIGKILL: no cleanup) and restarted.
        while len(accepted) * BATCH < 12_000:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        _pg(data).stop(mode="immediate")  # PostgreSQL outlives its stack; the restart starts it again
        proc = _start_stack(data, port, log)
        sender.join(timeout=300)
        assert not sender.is_alive()
        assert len(accepted) == TOTAL // BATCH
        pg = _pg(data)
        deadline = time.monotonic() + 180
        redriven = False
        while time.monotonic() < deadline:
            total, distinct = _count(pg, event_type)
            assert total == distinct, "an event was stored twice"
            if total == TOTAL:
                break
            from telltale_local.queue import LocalQueue

            queue = LocalQueue(data / "queue.db")
            if not redriven and queue.count("EventsQueue") == 0 and queue.count("EventsQueue-dlq") > 0:
                # Messages that failed five times during the outages wait in the DLQ: redrive them.
                subprocess.run([sys.executable, "-m", "telltale_local.cli", "--data-dir", str(data), "dlq",
                                "redrive"], check=True, cwd=ROOT, env=dict(
                                    os.environ, PYTHONPATH=f"{ROOT / 'local'}:{ROOT / 'layers/common/python'}"))
                redriven = True
            time.sleep(0.5)
        total, distinct = _count(pg, event_type)
        assert (total, distinct) == (TOTAL, TOTAL), f"stored {total} ({distinct} distinct) of {TOTAL}"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        try:
            if (data / "stack.json").exists():
                _pg(data).stop(mode="immediate")
        except Exception:
            pass
        from telltale_local.pg import EmbeddedPostgres

        EmbeddedPostgres(data).stop(mode="immediate")
        log.close()
