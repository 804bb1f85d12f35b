"""Shared pieces of the events benchmarks: a throwaway PostgreSQL, a local stack beside a ClickHouse, and a fast
event generator."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT / "layers" / "common" / "python", ROOT / "local", ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


def start_postgres() -> tuple[Any, Path]:
    """An embedded PostgreSQL in a temp folder with the migrations applied; this process points at it."""
    from harness import platform_postgres

    data = Path(tempfile.mkdtemp(prefix="events-bench-"))
    os.chmod(data, 0o755)
    return platform_postgres(data), data


def messages(tenant: str, n: int, *, event_type: str = "contact.created", seed: int = 1,
             start: datetime = datetime(2026, 4, 1, tzinfo=UTC), days: int = 30) -> list[str]:
    """``n`` queue messages, spread over ``days``: the bodies the ingest API enqueues (the same serializer)."""
    from telltale.events.models import Event, message_body

    rnd = random.Random(seed)
    out = []
    span = days * 86400
    for _ in range(n):
        ts = start + timedelta(seconds=rnd.randrange(span))
        out.append(message_body(Event(
            event_id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)), event_type=event_type, occurred_at=ts,
            tenant_id=tenant, received_at=ts, actor_type="TENANT_STAFF", actor_id=f"TS{rnd.randrange(50):04d}",
            entity_type="CONTACT", entity_id=f"C{rnd.randrange(100000):06d}", schema_version=1,
            attributes={"source": rnd.choice(["API", "CRM", "UI"])}, source="api",
        )))
    return out


def sqs_batches(msgs: list[str], batch: int) -> list[dict[str, Any]]:
    """The messages as the SQS events Lambda hands the worker, ``batch`` records each."""
    return [{"Records": [{"messageId": f"{i + j}", "receiptHandle": "x", "body": m, "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:EventsQueue",
                         "awsRegion": "us-east-1"} for j, m in enumerate(msgs[i:i + batch])]}
            for i in range(0, len(msgs), batch)]


@contextlib.contextmanager
def stack_with_clickhouse(prefix: str, database: str, **settings: str) -> Iterator[tuple[Any, str, int]]:
    """A local stack (no workers, no scheduler) in a temp folder, pointed at a fresh ClickHouse test server
    and ``database``, with ``settings`` (environment names) set: (stack, ClickHouse host, port)."""
    from servers_clickhouse import start_clickhouse_server

    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(tmp, 0o755)
    host, port, stop = start_clickhouse_server(tmp / "ch")
    os.environ.update({"TELLTALE_CLICKHOUSE_HOST": host, "TELLTALE_CLICKHOUSE_PORT": str(port),
                       "TELLTALE_CLICKHOUSE_DATABASE": database, **settings})
    from telltale_local.stack import LocalStack

    stack = LocalStack(tmp / "stack", port=0, workers=False, scheduler=False, demo=False)
    stack.start()
    try:
        yield stack, host, port
    finally:
        stack.stop()
        stop()
        shutil.rmtree(tmp, ignore_errors=True)
