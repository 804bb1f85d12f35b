"""The data API's full 50,000-row page, and the api-analytics clients' big batch, through the local stack.

    .venv/bin/python benchmarks/apianalytics_data_page.py [--runs 7]

Loads 100,000 requests with POST /api/log-request (five batches of 20,000, what the peer's Python client
sends after a busy minute), then, interleaved:

- ``GET /api/data?page=2`` (a full page of 50,000 rows, gzip, as requests asks for it) and the same with
  ``compact=true``, against the baseline: the same page's SELECT through the tenant scope plus its JSON
  encoding, in this process (what the handler must do at least), so the ratio is what HTTP, key checks,
  gzip and the gateway cost on top;
- one 20,000-row ``/api/log-request`` batch against the same 20,000 rows sent to ``/api/requests`` as
  four batches of 5,000 (its limit): what reading rows one by one, skipping the bad, costs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "layers" / "common" / "python", ROOT / "local", ROOT / "benchmarks"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from harness import interleaved, ratio_row  # noqa: E402

UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36")


def rows(n: int, offset: int, t: str) -> list[dict[str, Any]]:
    return [{"hostname": "api.example.com", "ip_address": f"81.2.{(offset + i) % 250}.{i % 250}",
             "path": f"/v1/items/{(offset + i) % 500}", "user_agent": UA, "method": "GET", "status": 200,
             "response_time": i % 300, "user_id": f"u{i % 97}", "created_at": t} for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="apianalytics-page-"))
    from telltale_local import tokens
    from telltale_local.stack import LocalStack

    stack = LocalStack(tmp / "stack", port=0, workers=False, scheduler=False, demo=False)
    stack.start()
    try:
        s = requests.Session()
        token = tokens.mint(stack.data_dir, tenant="demo", user="bench")

        def new_key() -> tuple[str, str]:
            r = s.post(stack.url + "/api/keys", json={"name": "bench"}, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 201, r.text
            return r.json()["data"]["api_key"], r.json()["data"]["id"]

        key, key_id = new_key()
        t = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
        for b in range(5):
            r = s.post(stack.url + "/api/log-request", json={"api_key": key, "framework": "FastAPI",
                                                              "privacy_level": 0, "requests": rows(20_000, b, t)})
            assert r.status_code == 201 and r.json()["stored"] == 20_000, r.text[:300]

        from telltale.apianalytics import query
        from telltale.apianalytics.keys import ApiKey
        from telltale.web.replies import dumps

        api_key = ApiKey(id=key_id, tenant_id="demo")

        def page(compact: bool) -> float:
            start = time.perf_counter()
            r = s.get(stack.url + "/api/data", params={"page": "2", **({"compact": "true"} if compact else {})},
                      headers={"X-AUTH-TOKEN": key, "Accept-Encoding": "gzip"}, timeout=120)
            body = r.json()
            elapsed = time.perf_counter() - start
            assert r.status_code == 200 and len(body) == 50_000 + (1 if compact else 0), r.status_code
            return elapsed

        def baseline() -> float:
            start = time.perf_counter()
            f = query.parse_filters({"page": "2"})
            body = dumps(query.fetch_page(api_key, f)[0])
            elapsed = time.perf_counter() - start
            assert len(body) > 1_000_000
            return elapsed

        xs, ys = interleaved(lambda: page(False), baseline, runs=args.runs)
        cs, bs = interleaved(lambda: page(True), baseline, runs=args.runs)
        print(f"100,000 rows stored; page 2 of /api/data (50,000 rows), median of {args.runs} interleaved runs:")
        print(ratio_row("GET /api/data?page=2 (gzip) vs SELECT+JSON", xs, ys))
        print(ratio_row("... &compact=true vs SELECT+JSON", cs, bs))

        def log_request() -> float:
            k, _ = new_key()
            body = {"api_key": k, "framework": "FastAPI", "privacy_level": 0, "requests": rows(20_000, 7, t)}
            start = time.perf_counter()
            r = s.post(stack.url + "/api/log-request", json=body, timeout=120)
            elapsed = time.perf_counter() - start
            assert r.status_code == 201 and r.json()["stored"] == 20_000, r.text[:300]
            return elapsed

        def own_batches() -> float:
            k, _ = new_key()
            batch = rows(20_000, 7, t)
            start = time.perf_counter()
            for i in range(0, 20_000, 5000):
                r = s.post(stack.url + "/api/requests", json={"framework": "FastAPI", "requests": batch[i:i + 5000]},
                           headers={"X-AUTH-TOKEN": k}, timeout=120)
                assert r.status_code == 201, r.text[:300]
            return time.perf_counter() - start

        ls, os_ = interleaved(log_request, own_batches, runs=args.runs)
        print(ratio_row("20,000 rows: /api/log-request vs 4x /api/requests", ls, os_))
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
