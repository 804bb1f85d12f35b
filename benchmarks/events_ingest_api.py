"""Ingest API throughput with batches of 100 events through the local stack, in events per second.

    .venv/bin/python benchmarks/events_ingest_api.py [--seconds 15] [--threads 4]

Baseline in the same run: writing the same message bodies straight into the durable local queue (what
the API does after validating), so the ratio shows what HTTP, auth and validation cost on top.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from events_common import ROOT  # noqa: F401 - puts the layer and local/ on sys.path


def batch(n: int = 100) -> list[dict[str, object]]:
    return [{"eventId": str(uuid.uuid4()), "eventType": "contact.created", "tenantId": "demo",
             "occurredAt": "2026-04-22T10:30:00Z", "actorType": "TENANT_STAFF", "actorId": "TS1",
             "entityType": "CONTACT", "entityId": f"C{i}", "attributes": {"source": "API"}} for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="events-ingest-"))
    os.chmod(tmp, 0o755)
    from telltale_local import tokens
    from telltale_local.stack import LocalStack

    stack = LocalStack(tmp / "stack", port=0, workers=False, scheduler=False, demo=False)
    stack.start()
    try:
        from telltale_local.queue import LocalQueue

        token = tokens.mint(stack.data_dir, tenant="demo", user="bench")
        sent = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds

        def client() -> None:
            s = requests.Session()
            while time.monotonic() < deadline:
                r = s.post(stack.url + "/api/analytics/events", json=batch(),
                           headers={"Authorization": f"Bearer {token}"}, timeout=60)
                assert r.status_code == 202, r.text
                with lock:
                    sent[0] += 100

        t = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        api_rate = sent[0] / (time.perf_counter() - t)

        queue = LocalQueue(tmp / "baseline-queue.db")
        bodies = [json.dumps(e) for e in batch()]
        n = 0
        t = time.perf_counter()
        while time.perf_counter() - t < min(args.seconds, 5):
            queue.send("Baseline", bodies)
            n += 100
        queue_rate = n / (time.perf_counter() - t)
        print(f"ingest API, batches of 100, {args.threads} clients: {api_rate:,.0f} events/s")
        print(f"baseline (local queue writes only, 1 thread): {queue_rate:,.0f} events/s")
        print(f"ratio API/queue: {api_rate / queue_rate:.2f}x")
    finally:
        stack.stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
