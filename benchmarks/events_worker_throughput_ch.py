"""Worker write throughput into ClickHouse against a raw ``INSERT ... FORMAT Native`` of the same rows, in the
same run (chdb behind the ClickHouse HTTP protocol, tests/servers_clickhouse.py).

    .venv/bin/python benchmarks/events_worker_throughput_ch.py [--events 20000] [--batch 1000] [--rounds 5]

Baseline: one clickhouse-connect insert (Native format) of the rows, decoded beforehand, into the events
table. Measured: the worker's Lambda handler (TELLTALE_EVENT_STORE=clickhouse) fed SQS-shaped batches of
the same events as the ingest API enqueues them: its checks of each message, the id lookup in event_ids,
and its two inserts per batch. Rounds alternate which side goes first, each with new events; the figure is
the median of the rounds' ratios. Target (issue 13): >= 0.5x.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from pathlib import Path

from events_common import ROOT, messages, sqs_batches


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000, help="events per side in each round")
    ap.add_argument("--batch", type=int, default=1000, help="records per SQS batch (template.yaml: 1000)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from servers_clickhouse import start_clickhouse_server

    tmp = Path(tempfile.mkdtemp(prefix="events-ch-bench-"))
    host, port, stop = start_clickhouse_server(tmp / "ch")
    database = "events_bench"
    os.environ.update({"TELLTALE_EVENT_STORE": "clickhouse", "TELLTALE_CLICKHOUSE_HOST": host,
                       "TELLTALE_CLICKHOUSE_PORT": str(port), "TELLTALE_CLICKHOUSE_DATABASE": database})
    try:
        import logging

        from telltale.events.models import from_message
        from telltale.events.stores.clickhouse import CH_COLUMNS, CH_TABLE, clickhouse_client

        logging.getLogger("telltale").setLevel(logging.WARNING)
        spec = importlib.util.spec_from_file_location("bench_worker", ROOT / "functions/ingest_event/worker.py")
        assert spec and spec.loader
        worker = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(worker)
        client = clickhouse_client()  # applies the migrations

        def raw_side(msgs: list[str]) -> float:
            rows = [[e.tenant_id, e.event_id, e.event_type, e.occurred_at, e.received_at, e.actor_type, e.actor_id,
                     e.entity_type, e.entity_id, e.schema_version, e.attributes, e.source]
                    for e in (from_message(m) for m in msgs)]
            t = time.perf_counter()
            client.insert(CH_TABLE, rows, column_names=CH_COLUMNS, database=database)
            return time.perf_counter() - t

        def worker_side(msgs: list[str]) -> float:
            sqs = sqs_batches(msgs, args.batch)
            t = time.perf_counter()
            for event in sqs:
                out = worker.handler(event, None)
                assert not out["batchItemFailures"], out
            return time.perf_counter() - t

        ratios, raw_rates, worker_rates = [], [], []
        for r in range(args.rounds + 1):  # round 0 warms up; not counted
            raw_msgs = messages(f"bench-raw-{r}", args.events, seed=2 * r + 1)
            worker_msgs = messages(f"bench-worker-{r}", args.events, seed=2 * r + 2)
            if r % 2:
                worker_s, raw_s = worker_side(worker_msgs), raw_side(raw_msgs)
            else:
                raw_s, worker_s = raw_side(raw_msgs), worker_side(worker_msgs)
            n = client.query(f"SELECT count() FROM {database}.events FINAL WHERE tenant_id = {{t:String}}",
                             parameters={"t": f"bench-worker-{r}"}).result_rows[0][0]
            assert n == args.events, n
            if r:
                ratios.append(raw_s / worker_s)
                raw_rates.append(args.events / raw_s)
                worker_rates.append(args.events / worker_s)
        print(f"events: {args.events} per side per round, {args.rounds} rounds, worker batch: {args.batch}")
        print(f"raw Native insert: {statistics.median(raw_rates):>10,.0f} events/s (median)")
        print(f"worker:            {statistics.median(worker_rates):>10,.0f} events/s (median)")
        print(f"ratio worker/raw: {statistics.median(ratios):.2f}x median, {min(ratios):.2f}-{max(ratios):.2f}x"
              " (target >= 0.5x)")
    finally:
        stop()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
