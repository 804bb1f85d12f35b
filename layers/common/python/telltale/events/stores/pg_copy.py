"""Events as COPY rows for PostgreSQL: the text encoding, the batch that reads queue messages into rows,
and the ledger's statements. Used by :mod:`telltale.events.stores.postgres` alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from operator import itemgetter

from telltale.events.models import (
    CANONICAL_COLUMNS,
    Event,
    canonical_rows,
    canonical_values,
    from_message,
    iso_ms,
    storable,
)

# COPY's text format: one line per row, tab-separated, backslash escapes (see _text), and "" for NULL (what
# canonical_rows gives; no text column of a valid event is ever ""). The columns in canonical_rows' order,
# so that a message's row is its values joined.
COPY_EVENTS = f"COPY events.events ({', '.join(CANONICAL_COLUMNS)}) FROM STDIN WITH (NULL '')"
# The ids into the ledger: a plain INSERT from two arrays, which fails on an id stored before. (A COPY of
# 1000 short rows costs PostgreSQL more: it buffers them all, one tuple slot each, before inserting.)
INSERT_IDS = ("INSERT INTO events.event_ids (tenant_id, event_id)"
               " SELECT * FROM unnest(CAST(:t AS text[]), CAST(:e AS text[]))")
CLAIM = INSERT_IDS + " ON CONFLICT DO NOTHING RETURNING tenant_id, event_id"
# What the INSERT into the ledger answers when an id of the batch is there already: exclusion_violation (the
# ledger's constraint, migration 0201) or unique_violation (its primary key before); or deadlock_detected,
# when two writers add the same new id at the same moment (an exclusion constraint checks after inserting,
# so each can wait for the other): the one PostgreSQL cancels then claims its ids the careful way.
ALREADY_STORED = ("23P01", "23505", "40P01")
_CHUNK_ROWS = 50  # messages per CopyData message: PostgreSQL inserts one chunk while Python reads the next


def partition_of(month: str) -> str:
    """The partition of a month "YYYY-MM" (the name ensure_partitions gives it)."""
    return f"events_p{month[:4]}{month[5:7]}"


def chunks(lines: list[str]) -> Iterator[bytes]:
    for i in range(0, len(lines), _CHUNK_ROWS):
        yield ("\n".join(lines[i:i + _CHUNK_ROWS]) + "\n").encode()


def _array(values: list[str]) -> str:
    """A text[] literal (pg8000 would encode a list element by element in Python, many times slower)."""
    if not values:
        return "{}"
    joined = "".join(values)
    if '"' not in joined and "\\" not in joined:
        return '{"' + '","'.join(values) + '"}'
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


def ledger_arrays(keys: list[tuple[str, str]]) -> tuple[str, str]:
    """The tenants and event ids of ``keys`` as two text[] literals, in (tenant, event_id) order: writers
    that share ids take the ledger's entries in the same order, so they never wait for each other in a
    cycle (a deadlock)."""
    tenants = set(map(_TENANT, keys))
    if len(tenants) == 1:  # the usual batch: sorting the ids alone gives the same order, a few times faster
        ids = sorted(map(_EVENT_ID, keys))
        return _array([next(iter(tenants))] * len(ids)), _array(ids)
    keys = sorted(keys)
    return _array(list(map(_TENANT, keys))), _array(list(map(_EVENT_ID, keys)))


def _text(value: str | None) -> str:
    """One field in COPY's text format."""
    if value is None:
        return ""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _event_line(e: Event) -> str:
    import json

    attributes = json.dumps(e.attributes, ensure_ascii=False, separators=(",", ":"))
    return "\t".join([_text(e.event_id), _text(e.event_type), iso_ms(e.occurred_at), _text(e.tenant_id),
                      _text(e.actor_type), _text(e.actor_id), _text(e.entity_type), _text(e.entity_id),
                      str(e.schema_version), _text(attributes), _text(e.source), iso_ms(e.received_at)])


class Batch:
    """A batch's events as COPY rows, one per (tenant, eventId) (the first copy of an id in a batch wins),
    and the messages that are not events. Queue messages are read a chunk at a time, as :meth:`stream`
    feeds them to the COPY."""

    def __init__(self, messages: list[tuple[str, str]] | None = None, scan: bool = True) -> None:
        self.keys: list[tuple[str, str]] = []  # (tenant_id, event_id) of each row
        self.lines: list[str] = []  # each row, in COPY text format, without its line break
        self.invalid: list[str] = []  # the message ids of bodies that are not events
        self.scanned = False  # some rows came from the scan (their calendar dates not checked yet)
        self._scan = scan
        self._seen: set[tuple[str, str]] = set()
        messages = messages or []
        self._pending = (messages[i:i + _CHUNK_ROWS] for i in range(0, len(messages), _CHUNK_ROWS))

    def stream(self) -> Iterator[bytes]:
        """The rows as CopyData payloads, reading the messages not read yet on the way."""
        yield from chunks(self.lines)
        for chunk in self._pending:
            start = len(self.lines)
            self._read(chunk)
            if len(self.lines) > start:
                yield ("\n".join(self.lines[start:]) + "\n").encode()

    def finish(self) -> None:
        for chunk in self._pending:
            self._read(chunk)

    def _read(self, messages: list[tuple[str, str]]) -> None:
        rows = canonical_rows([body for _, body in messages]) if self._scan else None
        if rows is not None:
            keys = list(map(_KEY, rows))
            if len(set(keys)) == len(keys) and self._seen.isdisjoint(keys):
                # Every body in the API's shape, each id once: the rows are the values as they are (the
                # shape has no escapes), joined by C code with no Python per message.
                self._seen.update(keys)
                self.keys += keys
                self.lines += map("\t".join, rows)
                self.scanned = True
                return
        for message_id, body in messages:
            values = canonical_values(body)
            if values is not None and _calendar_ok(values):
                self._add((values[3], values[0]), "\t".join(values))
                continue
            try:
                event = from_message(body)  # which also refuses text no store can keep (a NUL, say)
            except (ValueError, TypeError, RecursionError):
                self.invalid.append(message_id)
                continue
            self.add_event(event)

    def add_event(self, event: Event) -> bool:
        """Add a validated event (escaping its text); False if it holds text no store can keep."""
        if not storable(event):
            return False
        self._add((event.tenant_id, event.event_id), _event_line(event))
        return True

    def _add(self, key: tuple[str, str], line: str) -> None:
        if key in self._seen:
            return
        self._seen.add(key)
        self.keys.append(key)
        self.lines.append(line)

    def months(self) -> set[str]:
        """The months ("YYYY-MM") of the rows' occurred_at (only needed when a partition is missing)."""
        return {line.split("\t", 3)[2][:7] for line in self.lines}

    def month_starts(self) -> list[datetime]:
        return [datetime(int(m[:4]), int(m[5:7]), 1, tzinfo=UTC) for m in self.months()]


_KEY = itemgetter(3, 0)  # (tenant_id, event_id) of a canonical row
_TENANT, _EVENT_ID = itemgetter(0), itemgetter(1)  # of a key


def _calendar_ok(values: tuple[str, ...]) -> bool:
    try:
        datetime.fromisoformat(values[2])
        datetime.fromisoformat(values[11])
    except ValueError:
        return False
    return True
