"""Worker write throughput into PostgreSQL against a raw COPY of the same rows, in the same run.

    .venv/bin/python benchmarks/events_worker_throughput.py [--events 20000] [--batch 1000] [--rounds 5]

Baseline: one COPY of the rows (CSV prepared beforehand, only the COPY is timed) into events.events.
Measured: the worker's Lambda handler fed SQS-shaped batches of the same events, the bodies exactly as the
ingest API enqueues them (telltale.events.models.message_body), including its checks of each message, the
dedup ledger and the partitioned insert; each batch committed before the next. Rounds alternate which side
goes first, each with new events; the figure is the median of the rounds' ratios. Target: >= 0.5x.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import json
import statistics
import time

from events_common import ROOT, messages, sqs_batches, start_postgres


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000, help="events per side in each round")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    pg, data_dir = start_postgres()
    try:
        from telltale.events.models import from_message
        from telltale.events.stores.postgres import PostgresEventStore
        from telltale.platform import db

        spec = importlib.util.spec_from_file_location("bench_worker", ROOT / "functions/ingest_event/worker.py")
        assert spec and spec.loader
        worker = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(worker)
        import logging

        logging.getLogger("telltale").setLevel(logging.WARNING)

        def copy_side(msgs: list[str]) -> float:
            events = [from_message(m) for m in msgs]
            PostgresEventStore().ensure_partitions(e.occurred_at for e in events)
            buf = io.StringIO()
            csv.writer(buf).writerows(
                [e.tenant_id, e.event_id, e.event_type, e.occurred_at.isoformat(), e.received_at.isoformat(),
                 e.actor_type, e.actor_id, e.entity_type, e.entity_id, e.schema_version, json.dumps(e.attributes),
                 e.source] for e in events)
            payload = buf.getvalue().encode()
            conn = db.connection()
            t = time.perf_counter()
            conn.run("COPY events.events (tenant_id, event_id, event_type, occurred_at, received_at, actor_type,"
                     " actor_id, entity_type, entity_id, schema_version, attributes, source)"
                     " FROM STDIN WITH (FORMAT csv)", stream=io.BytesIO(payload))
            return time.perf_counter() - t

        def worker_side(msgs: list[str]) -> float:
            sqs = sqs_batches(msgs, args.batch)
            t = time.perf_counter()
            for event in sqs:
                out = worker.handler(event, None)
                assert not out["batchItemFailures"], out
            return time.perf_counter() - t

        ratios, copy_rates, worker_rates = [], [], []
        for r in range(args.rounds + 1):  # round 0 warms up (connection, partitions, caches); not counted
            copy_msgs = messages(f"bench-copy-{r}", args.events, seed=2 * r + 1)
            worker_msgs = messages(f"bench-worker-{r}", args.events, seed=2 * r + 2)
            if r % 2:  # alternate which side goes first, so a growing table favours neither
                worker_s, copy_s = worker_side(worker_msgs), copy_side(copy_msgs)
            else:
                copy_s, worker_s = copy_side(copy_msgs), worker_side(worker_msgs)
            n = db.query_one("SELECT count(*) AS n FROM events.events WHERE tenant_id = :t", t=f"bench-worker-{r}")
            assert n is not None and n["n"] == args.events
            if r:
                ratios.append(copy_s / worker_s)
                copy_rates.append(args.events / copy_s)
                worker_rates.append(args.events / worker_s)
        print(f"events: {args.events} per side per round, {args.rounds} rounds, worker batch: {args.batch}")
        print(f"raw COPY:  {statistics.median(copy_rates):>10,.0f} events/s (median)")
        print(f"worker:    {statistics.median(worker_rates):>10,.0f} events/s (median)")
        print(f"ratio worker/COPY: {statistics.median(ratios):.2f}x median, {min(ratios):.2f}-{max(ratios):.2f}x"
              " (target >= 0.5x)")
    finally:
        pg.stop()
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
