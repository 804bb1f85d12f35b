"""The scheduled runs, invoked the way the local scheduler (and EventBridge) invokes them: the sample events
in events/ through the functions' own handlers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from test_usage_superset import superset_fake
from usage_helpers import make_connector, make_space
from usage_replay import ReplayServer

EVENTS = Path(__file__).resolve().parents[3] / "events"


def test_schedules_are_declared(local_stack: Any) -> None:
    sync = local_stack.template.function("bi_sync")
    agg = local_stack.template.function("aggregate_usage")
    assert [s["expression"] for s in sync.schedules] == ["rate(6 hours)"]
    assert [s["expression"] for s in agg.schedules] == ["cron(30 2 * * ? *)"]


def test_scheduled_sync_and_aggregation(api: Any, local_stack: Any, replay: ReplayServer) -> None:
    superset_fake(replay, page_size=100)
    conn = make_connector(api, "superset", {"base_url": replay.url}, {"username": "svc", "password": "pw"})
    slug, _ = make_space(api, {"Orders": ["sales.orders"]})

    event = json.loads((EVENTS / "bi_sync_schedule.json").read_text())
    fn = local_stack.template.function("bi_sync")
    # A connector created a moment ago is left to its owner's first sync...
    local_stack.runtime.invoke(fn, event)
    assert api.get(f"/connectors/{conn['id']}/sync-jobs").json()["total"] == 0
    # ...unless the run says otherwise.
    event["detail"] = {"min_interval_minutes": 0}
    result = local_stack.runtime.invoke(fn, event)
    assert result["queued"] >= 1  # one job per connector, each run by the queue worker on its own
    deadline = time.monotonic() + 60
    while True:
        jobs = api.get(f"/connectors/{conn['id']}/sync-jobs").json()["items"]
        if jobs and jobs[0]["status"] not in ("queued", "running"):
            break
        assert time.monotonic() < deadline, jobs
        time.sleep(0.1)
    assert jobs[0]["trigger"] == "schedule" and jobs[0]["status"] == "partial" and jobs[0]["items_upserted"] == 7

    # The sync already aggregated the tenant's spaces; the scheduled aggregation recomputes every space.
    before = api.get(f"/spaces/{slug}/usage").json()[0]
    assert before["updated_at"] is not None and before["last_queried_at"] is not None
    event = json.loads((EVENTS / "aggregate_usage_schedule.json").read_text())
    out = local_stack.runtime.invoke(local_stack.template.function("aggregate_usage"), event)
    assert out["products_updated"] >= 1
    after = api.get(f"/spaces/{slug}/usage").json()[0]
    assert after["query_count_30d"] == before["query_count_30d"] and after["updated_at"] >= before["updated_at"]
