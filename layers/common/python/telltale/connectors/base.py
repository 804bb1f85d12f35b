"""What every connector shares: the result shape, the limits, and error sanitising."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from telltale.platform.config import get_settings
from telltale.platform.errors import ConnectorError, QueryExecutionError


@dataclass(frozen=True)
class Limits:
    """A run's bounds; the defaults are the deployment's settings (TELLTALE_QUERIES_MAX_ROWS,
    _STATEMENT_TIMEOUT_S, _MAX_BYTES: see telltale.platform.config.Settings)."""

    max_rows: int = field(default_factory=lambda: get_settings().queries_max_rows)
    # Lambda's 29 s API limit bounds what a reply can wait for; a secret may ask for less.
    statement_timeout_s: int = field(default_factory=lambda: get_settings().queries_statement_timeout_s)
    connect_timeout_s: int = 10
    # The reply's byte budget (rows as JSON): past it the rows stop and the reply says truncated, and why.
    max_bytes: int = field(default_factory=lambda: get_settings().queries_max_bytes)


@dataclass
class Result:
    columns: list[dict[str, str]]
    rows: list[dict[str, Any]]
    truncated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # Why the rows stop short when ``truncated`` ("row limit", "byte budget"), in words a client can show.
    truncated_reason: str | None = None


@dataclass
class Prepared:
    """What a connector runs: the checked statement text (or search body) and the connection settings."""

    text: str
    config: dict[str, Any]
    body: dict[str, Any] | None = None
    tenant_schema: str | None = None
    tenant_id: str | None = None
    app_slug: str | None = None  # internal queries: the app whose tables the query names (orders = shop_orders)
    # Values the statement binds by name (secret values: never inlined into the SQL text). pg8000 takes
    # them as ``:name``; ClickHouse as ``{name:String}`` server-side parameters.
    params: dict[str, Any] = field(default_factory=dict)


class Connector(Protocol):
    driver: str
    # The client modules ``execute`` imports when it first runs (not at import, so a handler loads only
    # the driver its query needs); imported ahead of time before a SnapStart snapshot (telltale.queries.warm).
    libraries: tuple[str, ...]

    def execute(self, prepared: Prepared, limits: Limits) -> Result: ...


def unique_names(names: list[str]) -> list[str]:
    # Duplicate column names (SELECT a.id, b.id) get a suffix rather than silently overwriting each other.
    unique: list[str] = []
    seen: dict[str, int] = {}
    for name in names:
        if name in seen:
            seen[name] += 1
            unique.append(f"{name}_{seen[name]}")
        else:
            seen[name] = 0
            unique.append(name)
    return unique


def rows_as_dicts(names: list[str], rows: Any) -> list[dict[str, Any]]:
    unique = unique_names(names)
    return [dict(zip(unique, row, strict=False)) for row in rows]


def budget_words(max_bytes: int) -> str:
    if max_bytes >= 1_000_000 and max_bytes % 100_000 == 0:
        return f"{max_bytes / 1_000_000:g} MB"
    if max_bytes >= 1000 and max_bytes % 100 == 0:
        return f"{max_bytes / 1000:g} kB"
    return f"{max_bytes} bytes"


class ReplyFull(Exception):
    """The reply's byte budget is spent: the connector stops reading and ends the session."""


# What a reader may take beyond the budget's remainder for one message: framing, a row description, a
# notice. A message bigger than that cannot fit in the reply, so it is never read into memory.
READ_SLACK = 1 << 20


class RowBudget:
    """The reply's limits applied as rows arrive, one at a time.

    A row is kept while there are fewer than ``max_rows`` and its JSON size (as the reply will serialise it;
    ``str()`` for other types) fits in what is left of ``max_bytes``. The first row refused ends the reply
    with ``truncated`` and a reason. ``pending`` counts the bytes a driver reads off the wire since the last
    kept row (see :class:`GuardedReader`), so a single huge value is refused before it is read."""

    def __init__(self, limits: Limits) -> None:
        self.max_rows = int(limits.max_rows)
        self.max_bytes = int(limits.max_bytes)
        self.rows: list[dict[str, Any]] = []
        self._keys: list[str] = []
        self.used = 2  # "[]"
        self.reason: str | None = None
        self.pending = 0
        self._key_bytes = 0

    def columns(self, names: list[str]) -> None:
        # Each row repeats its keys in the reply: '"name": ' and ', ' per column, plus '{}'.
        self._keys = unique_names(names)
        self._key_bytes = sum(len(json.dumps(n)) + 4 for n in self._keys) + 2

    @property
    def full(self) -> bool:
        return self.reason is not None

    @property
    def remaining(self) -> int:
        return max(self.max_bytes - self.used, 0)

    def add(self, values: list[Any]) -> bool:
        """Keep a row if it fits; False (and the reason set) once the reply is full."""
        if self.reason is not None:
            return False
        if len(self.rows) >= self.max_rows:
            self.reason = f"the row limit of {self.max_rows} was reached"
            return False
        size = len(json.dumps(values, default=str)) + self._key_bytes + 2
        if self.used + size > self.max_bytes:
            self.over_bytes()
            return False
        self.used += size
        self.pending = 0
        # Kept as the reply's dict at once: never a second copy of every row.
        self.rows.append(dict(zip(self._keys, values, strict=False)))
        return True

    def over_bytes(self) -> None:
        self.reason = self.reason or f"the reply reached its {budget_words(self.max_bytes)} byte budget"

    def result(self, columns: list[dict[str, str]], extra: dict[str, Any] | None = None) -> Result:
        return Result(columns, self.rows, self.full, extra or {}, self.reason)


class GuardedReader:
    """A driver's buffered socket reader that refuses, before reading it, a message the reply cannot hold.

    Every read is counted into ``budget.pending`` (the bytes since the last kept row); a read that would take
    it past what is left of the budget plus :data:`READ_SLACK` raises :class:`ReplyFull`. The wire form of a
    row is never much bigger than its JSON form, so a row that passes here is then measured exactly by
    :meth:`RowBudget.add`. Everything else (write, flush, close) goes to the wrapped file."""

    def __init__(self, raw: Any, budget: RowBudget) -> None:
        self._raw = raw
        self._budget = budget

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise ReplyFull("an unbounded read")
        budget = self._budget
        budget.pending += size
        if budget.pending > budget.remaining + READ_SLACK:
            budget.over_bytes()
            raise ReplyFull(f"a {size}-byte message")
        data: bytes = self._raw.read(size)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


def redact(message: str, secrets: list[str]) -> str:
    for s in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        message = message.replace(s, "***")
    # Connection URLs with credentials, whatever the driver printed.
    message = re.sub(r"(\w+://)[^/@\s:]+:[^/@\s]+@", r"\1***:***@", message)
    return message[:500]


def connection_secrets(config: dict[str, Any]) -> list[str]:
    return [str(config[k]) for k in ("password", "api_key") if config.get(k)] + [
        str(v) for v in (config.get("headers") or {}).values()]


def connector_error(what: str, exc: BaseException, config: dict[str, Any],
                    extra: list[str] | None = None) -> ConnectorError:
    # A fixed category only: the driver's message may quote what the remote sent (telltale.connectors.outbound).
    from telltale.connectors.outbound import failure

    return failure(what, exc, config)


def execution_error(exc: BaseException, config: dict[str, Any], extra: list[str] | None = None,
                    message: str | None = None) -> QueryExecutionError:
    detail = redact(message or str(exc), connection_secrets(config) + (extra or []))
    return QueryExecutionError(f"the query failed on the server: {detail}", details={"reason": detail})
