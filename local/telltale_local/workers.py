"""The local event sources: SQS-style queue pollers and an EventBridge-style scheduler.

Each poller feeds its function batches exactly as the Lambda event source mapping would, honouring
partial batch failures; a message received ``maxReceiveCount`` times goes to the dead-letter queue.
The scheduler keeps each rule's last run in the queue's SQLite file, so a restart neither skips nor
repeats a run.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from telltale_local import runtime
from telltale_local.queue import LocalQueue, dlq_name
from telltale_local.template import Function, Template

log = logging.getLogger("telltale_local.workers")


class QueuePoller(threading.Thread):
    def __init__(self, rt: runtime.Runtime, fn: Function, source: dict[str, Any], queue: LocalQueue,
                 template: Template) -> None:
        super().__init__(name=f"poller-{source['queue']}", daemon=True)
        self.rt, self.fn, self.source, self.queue = rt, fn, source, queue
        props = template.queue_properties(source["queue"])
        self.visibility_timeout = float(props.get("VisibilityTimeout", 30))
        redrive = props.get("RedrivePolicy") or {}
        self.max_receive = int(redrive["maxReceiveCount"]) if redrive else None
        self.stop_event = threading.Event()

    def poll_once(self) -> int:
        """Deliver one batch; returns how many messages it carried."""
        name = self.source["queue"]
        messages = self.queue.receive(name, max_messages=self.source["batch_size"],
                                      visibility_timeout=self.visibility_timeout, max_receive_count=self.max_receive)
        if not messages:
            return 0
        try:
            result = self.rt.invoke(self.fn, runtime.sqs_event(name, messages))
        except Exception:
            log.exception("%s failed a batch of %d; it will be retried", self.fn.logical_id, len(messages))
            self._retry_later(messages)
            return len(messages)
        failed_ids: set[str] = set()
        if self.source["partial"] and isinstance(result, dict):
            failed_ids = {f["itemIdentifier"] for f in result.get("batchItemFailures") or []}
        done = [m.id for m in messages if m.id not in failed_ids]
        self.queue.delete(done)
        if failed_ids:
            self._retry_later([m for m in messages if m.id in failed_ids])
        return len(messages)

    def _retry_later(self, messages: list[Any]) -> None:
        # SQS waits out the visibility timeout; locally we back off faster so that retries are visible.
        for m in messages:
            self.queue.release([m.id], delay=min(self.visibility_timeout, 0.5 * 2 ** m.receive_count))

    def run(self) -> None:
        try:
            # Messages a previous (crashed) stack was processing: redeliver now, not after the timeout.
            self.queue.release_inflight(self.source["queue"])
        except Exception:
            log.exception("could not release in-flight messages of %s", self.source["queue"])
        while not self.stop_event.is_set():
            try:
                if self.poll_once() == 0:
                    self.stop_event.wait(0.2)
            except Exception:
                log.exception("poller for %s hit an error", self.source["queue"])
                self.stop_event.wait(1.0)

    def stop(self) -> None:
        self.stop_event.set()


_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_DOW = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


def _cron_field(spec: str, value: int, lo: int, names: dict[str, int] | None = None) -> bool:
    if spec in ("*", "?"):
        return True
    for part in spec.split(","):
        step = 1
        if "/" in part:
            part, s = part.split("/", 1)
            step = int(s)
        if names:
            for n, v in names.items():
                part = part.replace(n, str(v))
        if part in ("*", ""):
            start, end = lo, 10**6
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = end = int(part)
            if step != 1:
                end = 10**6
        if start <= value <= end and (value - start) % step == 0:
            return True
    return False


def cron_matches(expr: str, at: datetime) -> bool:
    """EventBridge cron (minutes hours day-of-month month day-of-week year) at a UTC minute."""
    minute, hour, dom, month, dow, *year = expr.split()
    eb_dow = (at.isoweekday() % 7) + 1  # EventBridge: 1 = Sunday
    return (_cron_field(minute, at.minute, 0) and _cron_field(hour, at.hour, 0)
            and _cron_field(dom, at.day, 1) and _cron_field(month, at.month, 1)
            and _cron_field(dow.upper(), eb_dow, 1, _DOW)
            and (not year or _cron_field(year[0], at.year, 1970)))


def next_run(expression: str, last: datetime | None, now: datetime) -> datetime:
    expression = expression.strip()
    if expression.startswith("rate("):
        n, unit = expression[5:-1].split()
        period = timedelta(seconds=int(n) * _UNITS[unit])
        return now if last is None else last + period
    if expression.startswith("cron("):
        expr = expression[5:-1]
        t = (last or now - timedelta(minutes=1)).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if cron_matches(expr, t):
                return t
            t += timedelta(minutes=1)
        return now + timedelta(days=366)
    raise ValueError(f"unsupported schedule expression: {expression}")


class Scheduler(threading.Thread):
    def __init__(self, rt: runtime.Runtime, template: Template, state_path: str) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.rt = rt
        self.jobs = [(fn, s) for fn in template.functions.values() for s in fn.schedules if s["enabled"]]
        self.state = sqlite3.connect(state_path, check_same_thread=False, isolation_level=None, timeout=30)
        self.state.execute("CREATE TABLE IF NOT EXISTS schedules (name TEXT PRIMARY KEY, last_run REAL)")
        self.stop_event = threading.Event()

    def _last(self, name: str) -> datetime | None:
        row = self.state.execute("SELECT last_run FROM schedules WHERE name = ?", (name,)).fetchone()
        return datetime.fromtimestamp(row[0], UTC) if row else None

    def run_due(self, now: datetime | None = None) -> list[str]:
        now = now or datetime.now(UTC)
        ran = []
        for fn, sched in self.jobs:
            key = f"{fn.logical_id}:{sched['name']}"
            if next_run(sched["expression"], self._last(key), now) > now:
                continue
            self.state.execute("INSERT INTO schedules (name, last_run) VALUES (?, ?) ON CONFLICT (name)"
                               " DO UPDATE SET last_run = excluded.last_run", (key, now.timestamp()))
            import json

            detail = json.loads(sched["input"]) if sched.get("input") else None
            event = detail if detail is not None else runtime.schedule_event(sched["name"])
            try:
                self.rt.invoke(fn, event)
                ran.append(key)
            except Exception:
                log.exception("scheduled run of %s failed", key)
        return ran

    def run(self) -> None:
        while not self.stop_event.wait(5.0):
            self.run_due()

    def stop(self) -> None:
        self.stop_event.set()


def dead_letter_queues(template: Template) -> dict[str, str]:
    """{source queue: its dead-letter queue name} for the queues functions consume."""
    return {s["queue"]: dlq_name(s["queue"]) for fn in template.functions.values() for s in fn.queues}
