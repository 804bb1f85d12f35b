"""Worker write throughput into PostgreSQL against a raw COPY of the same rows, in the same run.

    .venv/bin/python benchmarks/events_worker_throughput.py [--events 100000] [--batch 1000]

Baseline: one COPY of the rows (CSV prepared beforehand, only the COPY is timed) into events.events.
Measured: the worker's Lambda handler fed SQS-shaped batches of the same events (as the queue delivers
them), including its parsing, validation, dedup ledger and partitioned insert. Target: >= 0.5x.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import time

from events_common import ROOT, messages, start_postgres


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()
    pg, data_dir = start_postgres()
    try:
        from telltale import db
        from telltale.events.models import from_message
        from telltale.events.store import PostgresEventStore

        worker_msgs = messages("bench-worker", args.events, seed=1)
        copy_msgs = messages("bench-copy", args.events, seed=1)
        events = [from_message(m) for m in copy_msgs]
        PostgresEventStore().ensure_partitions(e.occurred_at for e in events)
        buf = io.StringIO()
        csv.writer(buf).writerows(
            [e.tenant_id, e.event_id, e.event_type, e.occurred_at.isoformat(), e.received_at.isoformat(), e.actor_type,
             e.actor_id, e.entity_type, e.entity_id, e.schema_version, json.dumps(e.attributes), e.source]
            for e in events)
        payload = buf.getvalue().encode()
        conn = db.connection()
        t = time.perf_counter()
        conn.run("COPY events.events (tenant_id, event_id, event_type, occurred_at, received_at, actor_type, actor_id,"
                 " entity_type, entity_id, schema_version, attributes, source) FROM STDIN WITH (FORMAT csv)",
                 stream=io.BytesIO(payload))
        copy_s = time.perf_counter() - t

        spec = importlib.util.spec_from_file_location("bench_worker", ROOT / "functions/ingest_event/worker.py")
        assert spec and spec.loader
        worker = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(worker)
        sqs = [{"Records": [{"messageId": f"{i + j}", "receiptHandle": "x", "body": m, "attributes": {},
                             "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                             "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:EventsQueue",
                             "awsRegion": "us-east-1"} for j, m in enumerate(worker_msgs[i:i + args.batch])]}
               for i in range(0, len(worker_msgs), args.batch)]
        import logging

        logging.getLogger("telltale").setLevel(logging.WARNING)
        t = time.perf_counter()
        for event in sqs:
            out = worker.handler(event, None)
            assert not out["batchItemFailures"], out
        worker_s = time.perf_counter() - t
        n = db.query_one("SELECT count(*) AS n FROM events.events WHERE tenant_id = 'bench-worker'")
        assert n is not None and n["n"] == args.events
        copy_rate, worker_rate = args.events / copy_s, args.events / worker_s
        print(f"events: {args.events}, worker batch: {args.batch}")
        print(f"raw COPY:  {copy_rate:>10,.0f} events/s ({copy_s:.2f} s)")
        print(f"worker:    {worker_rate:>10,.0f} events/s ({worker_s:.2f} s)")
        print(f"ratio worker/COPY: {worker_rate / copy_rate:.2f}x (target >= 0.5x)")
    finally:
        pg.stop()
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
