"""A message the worker can never store ends in the dead-letter queue; `telltale dlq list|redrive` show and
move it back."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


def _row(queue: Any, mid: str) -> tuple[str, int, float] | None:
    return queue._conn().execute("SELECT queue, receive_count, visible_at FROM messages WHERE id = ?",
                                 (mid,)).fetchone()


def _wait(cond: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_poison_message_reaches_the_dlq_and_redrives(api: Any, local_stack: Any, capsys: Any) -> None:
    from telltale_local import cli
    from telltale_local.queue import LocalQueue

    queue = LocalQueue(local_stack.data_dir / "queue.db")
    marker = uuid.uuid4().hex
    [mid] = queue.send("EventsQueue", [json.dumps({"eventType": "no.id", "tenantId": "demo", "marker": marker})])
    try:
        # Four failed receives are simulated (the worker's retry backoff would take half a minute); the fifth
        # is real: the worker reports the message as a batch item failure.
        queue._conn().execute("UPDATE messages SET receive_count = 4 WHERE id = ?", (mid,))
        # Received a fifth time and failed: released for a retry after a backoff (not the 900 s visibility).
        _wait(lambda: (_row(queue, mid) or ("", 0, 0))[1] >= 5 and (_row(queue, mid) or ("", 0, 1e18))[2]
              < time.time() + 60)
        row = _row(queue, mid)
        assert row is not None and row[0] == "EventsQueue" and row[2] > time.time()  # failed, retry later
        # The backoff elapses; the next receive moves it to the dead-letter queue.
        queue._conn().execute("UPDATE messages SET visible_at = ? WHERE id = ?", (time.time(), mid))
        _wait(lambda: (_row(queue, mid) or ("",))[0] == "EventsQueue-dlq")

        capsys.readouterr()
        assert cli.main(["--data-dir", str(local_stack.data_dir), "dlq", "list", "--limit", "1000"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert listed["queue"] == "EventsQueue-dlq"
        assert any(m["id"] == mid and marker in m["body"] for m in listed["messages"])

        assert cli.main(["--data-dir", str(local_stack.data_dir), "dlq", "redrive", "--ids", mid]) == 0
        assert "redrove 1 message" in capsys.readouterr().out
        row = _row(queue, mid)
        assert row is not None and row[0] == "EventsQueue" and row[1] <= 1  # back, with a fresh receive count
    finally:
        queue.delete([mid])
