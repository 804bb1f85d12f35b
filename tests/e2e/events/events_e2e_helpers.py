"""Helpers for the events end-to-end tests (a uniquely named module: importable from any test file)."""

from __future__ import annotations

import time
from typing import Any


def wait_for_count(api: Any, event_type: str, expected: int, *, tenant: str = "demo",
                   time_range: tuple[str, str] = ("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"),
                   timeout: float = 60.0) -> int:
    """Poll the query API until ``expected`` events of ``event_type`` are stored (the worker is async)."""
    deadline = time.monotonic() + timeout
    count = -1
    while time.monotonic() < deadline:
        r = api.post("/api/analytics/query", tenant=tenant, json={
            "eventType": event_type, "timeRange": {"from": time_range[0], "to": time_range[1]},
            "aggregations": [{"function": "COUNT", "alias": "n"}]})
        assert r.status_code == 200, r.text
        count = r.json()["rows"][0]["values"][0]
        if count >= expected:
            return int(count)
        time.sleep(0.2)
    return int(count)
