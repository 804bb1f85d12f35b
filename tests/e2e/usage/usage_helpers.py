"""API helpers shared by the usage-analytics tests (a uniquely named module: ``conftest`` is ambiguous when
several test folders have one)."""

from __future__ import annotations

import uuid
from typing import Any

# Fast retries for the tests: the backoff is real, only shorter.
FAST = {"retry_backoff_s": 0.01, "max_retries": 3, "timeout_s": 10}


def make_connector(api: Any, ctype: str, config: dict[str, Any], credentials: dict[str, Any],
                   tenant: str = "demo") -> dict[str, Any]:
    r = api.post("/connectors", tenant=tenant, json={"name": f"{ctype}-{uuid.uuid4().hex[:8]}", "type": ctype,
                                                      "config": {**FAST, **config}, "credentials": credentials})
    assert r.status_code == 201, r.text
    return r.json()


def make_space(api: Any, products: dict[str, list[str]], tenant: str = "demo") -> tuple[str, dict[str, str]]:
    slug = f"s-{uuid.uuid4().hex[:10]}"
    r = api.post("/spaces", tenant=tenant, json={"slug": slug, "name": "Test space"})
    assert r.status_code == 201, r.text
    ids = {}
    for name, tables in products.items():
        r = api.post(f"/spaces/{slug}/products", tenant=tenant, json={"name": name, "tables": tables})
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    return slug, ids


def bi_queries(api: Any, connector_id: str, tenant: str = "demo") -> list[dict[str, Any]]:
    r = api.get(f"/connectors/{connector_id}/bi-queries?page_size=500", tenant=tenant)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def run_sync(api: Any, connector_id: str, tenant: str = "demo", timeout: float = 60.0,
             action: str = "bi-sync") -> dict[str, Any]:
    """POST bi-sync (or query-log-mining), then, if it answered 202 (still running), follow
    GET /sync-jobs/{id} until the worker has finished it: the finished job."""
    import time

    r = api.post(f"/connectors/{connector_id}/{action}", tenant=tenant)
    assert r.status_code in (200, 202), r.text
    if r.status_code == 200 and action == "query-log-mining":  # spec 001's {"rows_upserted": N}, and the job
        reply = r.json()
        job = api.get(f"/sync-jobs/{reply['job_id']}", tenant=tenant).json()
        assert reply == {"rows_upserted": job["rows_upserted"], "job_id": job["id"], "status": job["status"],
                         "errors": job["errors"], "warnings": job["warnings"]}, (reply, job)
        return dict(job)
    job = r.json()
    assert job["queued_at"] and (job["status"] in ("queued", "running")) == (r.status_code == 202), job
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"sync job still {job['status']} after {timeout} s"
        time.sleep(0.1)
        r = api.get(f"/sync-jobs/{job['id']}", tenant=tenant)
        assert r.status_code == 200, r.text
        job = r.json()
    return dict(job)


def run_mining(api: Any, connector_id: str, tenant: str = "demo", timeout: float = 60.0) -> dict[str, Any]:
    """A queued mining run followed to its end: the job, with spec 001's rows_upserted."""
    return run_sync(api, connector_id, tenant, timeout, action="query-log-mining")
