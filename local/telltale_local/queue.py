"""A durable local queue with SQS semantics, in one SQLite file.

Used by the local stack where SQS would be deployed: batch receive with a visibility timeout, a receive
count per message, delete on success, redelivery after the timeout, and a dead-letter queue once a
message has been received ``max_receive_count`` times. SQLite in WAL mode keeps every accepted message
on disk, so a crash of the worker (or of the whole stack) loses nothing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id            TEXT PRIMARY KEY,
    queue         TEXT NOT NULL,
    body          TEXT NOT NULL,
    sent_at       REAL NOT NULL,
    visible_at    REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive REAL
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
"""


@dataclass(frozen=True)
class Message:
    id: str
    body: str
    sent_at: float
    receive_count: int
    first_receive: float | None


def dlq_name(queue: str) -> str:
    return queue + "-dlq"


class LocalQueue:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def send(self, queue: str, bodies: list[str]) -> list[str]:
        now = time.time()
        ids = [str(uuid.uuid4()) for _ in bodies]
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO messages (id, queue, body, sent_at, visible_at) VALUES (?, ?, ?, ?, ?)",
                [(i, queue, b, now, now) for i, b in zip(ids, bodies, strict=True)],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return ids

    def receive(self, queue: str, *, max_messages: int = 10, visibility_timeout: float = 30.0,
                max_receive_count: int | None = None) -> list[Message]:
        """Take up to ``max_messages`` visible messages, hiding them for ``visibility_timeout`` seconds.

        A message already received ``max_receive_count`` times moves to the dead-letter queue instead.
        """
        now = time.time()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if max_receive_count is not None:
                conn.execute(
                    "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0"
                    " WHERE queue = ? AND visible_at <= ? AND receive_count >= ?",
                    (dlq_name(queue), now, queue, now, max_receive_count),
                )
            rows = conn.execute(
                "SELECT id, body, sent_at, receive_count, first_receive FROM messages"
                " WHERE queue = ? AND visible_at <= ? ORDER BY sent_at, rowid LIMIT ?",
                (queue, now, max_messages),
            ).fetchall()
            conn.executemany(
                "UPDATE messages SET visible_at = ?, receive_count = receive_count + 1,"
                " first_receive = COALESCE(first_receive, ?) WHERE id = ?",
                [(now + visibility_timeout, now, r[0]) for r in rows],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return [Message(r[0], r[1], r[2], r[3] + 1, r[4] or now) for r in rows]

    def delete(self, ids: list[str]) -> None:
        if ids:
            self._conn().executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in ids])

    def release(self, ids: list[str], *, delay: float = 0.0) -> None:
        """Make messages visible again (after ``delay`` seconds), as SQS does after a failed batch item."""
        at = time.time() + delay
        self._conn().executemany("UPDATE messages SET visible_at = ? WHERE id = ?", [(at, i) for i in ids])

    def release_inflight(self, queue: str) -> int:
        """Make every received-but-undeleted message visible now (their worker died with the last stack).

        Deployed, SQS waits out the visibility timeout; locally the stack that received them is gone, so
        waiting minutes would only delay the redelivery. Receive counts are kept (a crash counts as a try).
        """
        cur = self._conn().execute(
            "UPDATE messages SET visible_at = ? WHERE queue = ? AND visible_at > ? AND receive_count > 0",
            (time.time(), queue, time.time()),
        )
        return int(cur.rowcount)

    def peek(self, queue: str, *, limit: int = 100) -> list[Message]:
        rows = self._conn().execute(
            "SELECT id, body, sent_at, receive_count, first_receive FROM messages WHERE queue = ?"
            " ORDER BY sent_at, rowid LIMIT ?", (queue, limit),
        ).fetchall()
        return [Message(*r) for r in rows]

    def count(self, queue: str) -> int:
        return int(self._conn().execute("SELECT count(*) FROM messages WHERE queue = ?", (queue,)).fetchone()[0])

    def redrive(self, source: str, target: str, *, ids: list[str] | None = None) -> int:
        """Move dead-lettered messages back to their queue with a fresh receive count."""
        now = time.time()
        conn = self._conn()
        if ids:
            cur = conn.executemany(
                "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, first_receive = NULL"
                " WHERE queue = ? AND id = ?", [(target, now, source, i) for i in ids],
            )
        else:
            cur = conn.execute(
                "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, first_receive = NULL"
                " WHERE queue = ?", (target, now, source),
            )
        return int(cur.rowcount)
