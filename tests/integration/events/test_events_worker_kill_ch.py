"""The events worker on ClickHouse, killed mid-batch: a worker process (the real handler, functions/ingest_event/
worker.py) takes a batch of SQS records, writes to ClickHouse and is SIGKILLed before it can answer the
queue, so the queue delivers the batch again, to a fresh worker. Nothing is lost and nothing counts twice:
the insert recorded the ids with the events (a materialized view, in the same INSERT), so the
redeliveries insert nothing at all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
N = 3000

# The worker process: the handler as Lambda runs it, with the ClickHouse client's insert wrapped so that
# the process dies (SIGKILL: no cleanup, no reply) right after the insert numbered KILL_AFTER_INSERT returns.
WORKER = r"""
import json, os, signal, sys
kill_after = int(os.environ.get("KILL_AFTER_INSERT", "0"))
if kill_after:
    import clickhouse_connect.driver.client as c
    real, calls = c.Client.insert, [0]
    def insert(self, *a, **kw):
        result = real(self, *a, **kw)
        calls[0] += 1
        if calls[0] == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return result
    c.Client.insert = insert
sys.path.insert(0, os.path.join(os.environ["ROOT"], "functions", "ingest_event"))
import worker
print(json.dumps(worker.handler(json.load(sys.stdin), None)))
"""


def _deliver(records: dict[str, Any], env: dict[str, str], kill_after_insert: int = 0) -> Any:
    return subprocess.run([sys.executable, "-c", WORKER], input=json.dumps(records), capture_output=True, text=True,
                          timeout=120, env={**env, "KILL_AFTER_INSERT": str(kill_after_insert)})


def test_a_worker_killed_before_its_ack_loses_and_duplicates_nothing(clickhouse_server: Any, monkeypatch: Any) -> None:
    kill_after_insert, window = 1, "stored, not acknowledged"
    from telltale.events.models import Event, message_body

    database = "events_" + uuid.uuid4().hex[:8]
    tenant = "kill" + uuid.uuid4().hex[:6]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELLTALE_")}
    env.update(ROOT=str(ROOT), PYTHONPATH=str(ROOT / "layers" / "common" / "python"),
               TELLTALE_EVENT_STORE="clickhouse", TELLTALE_CLICKHOUSE_HOST=clickhouse_server.host,
               TELLTALE_CLICKHOUSE_PORT=str(clickhouse_server.port), TELLTALE_CLICKHOUSE_DATABASE=database,
               AWS_DEFAULT_REGION="us-east-1")
    start = datetime(2026, 5, 31, 23, 0, tzinfo=UTC)  # across a month, so across two partitions
    events = [Event(event_id=str(uuid.uuid4()), event_type="kill.test", tenant_id=tenant,
                    occurred_at=start + timedelta(seconds=2 * i), received_at=start + timedelta(hours=2))
              for i in range(N)]
    records = {"Records": [{"messageId": f"m{i}", "body": message_body(e), "attributes": {},
                            "eventSource": "aws:sqs"} for i, e in enumerate(events)]}

    killed = _deliver(records, env, kill_after_insert)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    client = clickhouse_server.client()

    def counts() -> tuple[int, int, int, int]:
        row = client.query(
            f"SELECT (SELECT count() FROM {database}.events WHERE tenant_id = {{t:String}}),"
            f" (SELECT count() FROM {database}.events FINAL WHERE tenant_id = {{t:String}}),"
            f" (SELECT uniqExact(event_id) FROM {database}.events WHERE tenant_id = {{t:String}}),"
            f" (SELECT count() FROM {database}.event_ids FINAL WHERE tenant_id = {{t:String}})",
            parameters={"t": tenant}).result_rows[0]
        return tuple(int(x) for x in row)  # type: ignore[return-value]

    assert counts()[0] == N, f"the kill came after the events insert ({window})"
    # The queue's visibility timeout passes; another worker takes the same batch, and once more after that.
    for _ in range(2):
        again = _deliver(records, env)
        assert again.returncode == 0, again.stderr[-2000:]
        assert json.loads(again.stdout.strip().splitlines()[-1]) == {"batchItemFailures": []}
    raw, final, distinct, ids = counts()
    assert (final, distinct, ids) == (N, N, N), window
    assert raw == N, raw  # not even an unmerged copy: the ids came with the events

    from telltale.events import dsl
    from telltale.events.stores import clickhouse as store
    from telltale.platform import config

    for k in ("TELLTALE_CLICKHOUSE_HOST", "TELLTALE_CLICKHOUSE_PORT", "TELLTALE_CLICKHOUSE_DATABASE"):
        monkeypatch.setenv(k, env[k])
    config.reset_settings()
    store.reset_clickhouse()
    try:
        ch = store.ClickHouseEventStore()
        q = dsl.Query.model_validate({"eventType": "kill.test", "granularity": "MONTH",
                                      "timeRange": {"from": "2026-05-01T00:00:00Z", "to": "2026-06-30T00:00:00Z"},
                                      "aggregations": [{"function": "COUNT", "alias": "n"}]})
        rows = ch.run(dsl.compile_query(q, tenant, dialect="clickhouse", table=ch.table))
        assert sorted(int(r[-1]) for r in rows) == sorted([1800, N - 1800]), rows  # the DSL's read counts once
    finally:
        monkeypatch.undo()
        config.reset_settings()
        store.reset_clickhouse()
