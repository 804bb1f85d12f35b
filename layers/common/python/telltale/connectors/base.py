"""What every connector shares: the result shape, the limits, and error sanitising."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from telltale.errors import ConnectorError, QueryExecutionError


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name) or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class Limits:
    max_rows: int = field(default_factory=lambda: _env_int("TELLTALE_QUERIES_MAX_ROWS", 10_000))
    # Lambda's 29 s API limit bounds what a reply can wait for; a secret may ask for less.
    statement_timeout_s: int = field(default_factory=lambda: _env_int("TELLTALE_QUERIES_STATEMENT_TIMEOUT_S", 25))
    connect_timeout_s: int = 10
    # The reply's byte budget (rows as JSON): past it the rows stop and the reply says truncated, and why.
    max_bytes: int = field(default_factory=lambda: _env_int("TELLTALE_QUERIES_MAX_BYTES", 5_000_000))


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
    # Values the statement binds by name (secret values: never inlined into the SQL text). pg8000 takes
    # them as ``:name``; ClickHouse as ``{name:String}`` server-side parameters.
    params: dict[str, Any] = field(default_factory=dict)


class Connector(Protocol):
    driver: str

    def execute(self, prepared: Prepared, limits: Limits) -> Result: ...


def rows_as_dicts(names: list[str], rows: Any) -> list[dict[str, Any]]:
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
    return [dict(zip(unique, row, strict=False)) for row in rows]


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
