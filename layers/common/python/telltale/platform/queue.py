"""The queue port: send message batches to SQS deployed, or to the durable local queue.

A queue URL ``local://<QueueLogicalId>`` names a queue of the local stack, which installs its queue here
(:func:`install_local`; the queue itself lives in ``local/``, outside the deployed layer); anything else is
an SQS queue URL. Either way, ``send_batch`` returns only when every message is durably enqueued, or raises
:class:`ServiceUnavailable` so that the caller answers 503 and the client retries: nothing is answered
202 that was not stored.
"""

from __future__ import annotations

import time
from typing import Protocol

from telltale.platform import aws
from telltale.platform.errors import ServiceUnavailable

LOCAL_SCHEME = "local://"
SQS_BATCH = 10
SQS_MAX_BATCH_BYTES = 256 * 1024

class LocalSender(Protocol):
    def send(self, queue: str, bodies: list[str]) -> object: ...


_local_queue: LocalSender | None = None


def install_local(queue: LocalSender | None) -> None:
    """Where ``local://`` URLs go in this process (the local stack's queue); None removes it."""
    global _local_queue
    _local_queue = queue


def local_queue() -> LocalSender:
    if _local_queue is None:
        raise ServiceUnavailable("no local queue in this process: local:// queue URLs need the local stack "
                                 "(telltale dev)")
    return _local_queue


def send_batch(queue_url: str, bodies: list[str]) -> None:
    if not bodies:
        return
    if queue_url.startswith(LOCAL_SCHEME):
        local_queue().send(queue_url[len(LOCAL_SCHEME):], bodies)
        return
    _send_sqs(queue_url, bodies)


def _chunks(bodies: list[str]) -> list[list[str]]:
    """SendMessageBatch allows 10 entries and 256 KiB in all per call."""
    out: list[list[str]] = []
    current: list[str] = []
    size = 0
    for body in bodies:
        n = len(body.encode())
        if current and (len(current) == SQS_BATCH or size + n > SQS_MAX_BATCH_BYTES):
            out.append(current)
            current, size = [], 0
        current.append(body)
        size += n
    if current:
        out.append(current)
    return out


def _send_sqs(queue_url: str, bodies: list[str], attempts: int = 4) -> None:
    sqs = aws.client("sqs")
    for chunk in _chunks(bodies):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(chunk)]
        for attempt in range(attempts):
            try:
                failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
            except Exception:  # noqa: BLE001 - throttling and network errors are retried below
                failed = [{"Id": e["Id"], "SenderFault": False} for e in entries]
            if not failed:
                break
            if any(f.get("SenderFault") for f in failed):
                raise ServiceUnavailable("the queue rejected a message; nothing from this request was lost, retry")
            retry_ids = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in retry_ids]
            time.sleep(0.05 * 2**attempt)
        else:
            raise ServiceUnavailable("the queue is unavailable; retry the request")
