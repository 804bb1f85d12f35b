"""Settings, parsed once from the environment: the one module of the layer that reads it.

The deployed functions get these variables from ``template.yaml``; the local stack sets them to point at
the embedded PostgreSQL, the in-process AWS endpoint and the local queue. Every value is converted and
checked together, on the first read (the first request of a cold start): one bad variable is a
:class:`SettingsError` naming it, never a silent default (``tests/unit/test_platform_settings.py`` holds
each setting to that, and fails if another module of the layer reads the environment).

A frozen dataclass rather than a pydantic model: every function reads settings on its first request, and
a pydantic model's imports and schema building would be paid at each cold start (benchmarks/README.md
has what they cost execute_query), for flat scalars that :meth:`Settings.from_env` converts in a few lines.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any, Literal, get_args

EventStore = Literal["postgres", "clickhouse"]


class SettingsError(ValueError):
    """An environment variable that cannot be a setting; the message names the variable and the fix."""


@dataclass(frozen=True)
class Settings:
    stage: str = "local"
    aws_region: str = "us-east-1"
    # An AWS endpoint override (moto locally); None means the real AWS endpoints.
    aws_endpoint_url: str | None = None

    db_host: str = "127.0.0.1"
    db_port: int = 5432
    db_name: str = "telltale"
    db_user: str = "telltale"
    db_password: str | None = None
    # Deployed: the RDS-managed secret holding {"username", "password"}; read once, cached.
    db_secret_arn: str | None = None
    db_ssl: bool = False
    db_connect_timeout_s: float = 5.0
    # Where internal queries log in as the tenant's own role; None means db_host. Deployed behind RDS Proxy,
    # the instance or cluster endpoint: the proxy only admits users it holds a secret for (docs/queries.md).
    tenant_db_host: str | None = None

    # Secrets Manager names are "<prefix>/<tenant>/<app>/<key>".
    secrets_prefix: str = "telltale"
    secrets_cache_seconds: int = 60

    # The claim that carries the tenant id in the JWT.
    tenant_claim: str = "tenant_id"

    events_queue_url: str | None = None
    # Where BI sync jobs wait for the bi_sync worker (POST /connectors/{id}/bi-sync, the schedule).
    usage_sync_queue_url: str | None = None
    # How long POST .../bi-sync and .../query-log-mining wait for their queued job before answering: 200 with
    # the finished job (spec 001), or 202 with the job still running. 0 answers 202 at once; API Gateway's
    # 29 s bounds it.
    usage_sync_wait_s: float = 8.0

    event_store: EventStore = "postgres"
    # The ClickHouse event store (used when event_store is "clickhouse", or for the tenants listed in
    # clickhouse_tenants: tenants that outgrew one PostgreSQL move there one at a time).
    clickhouse_host: str | None = None
    clickhouse_port: int = 8123
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_database: str = "telltale_events"
    clickhouse_secure: bool = False
    clickhouse_tenants: str = ""
    # A cluster name (from the server's remote_servers): every DDL ON CLUSTER, Replicated tables behind
    # Distributed ones sharded by tenant (telltale.events.stores.clickhouse_schema). Empty: one node.
    clickhouse_cluster: str = ""
    # Where API request logs live (telltale.apianalytics.stores): PostgreSQL, or the ClickHouse above, for
    # everyone or for the tenants listed.
    request_store: EventStore = "postgres"
    clickhouse_request_tenants: str = ""
    # How long a process trusts what it read of events.tenant_stores (a tenant moved to ClickHouse): a move
    # waits this long between its steps, so that every process writes where the step says.
    event_store_cache_s: float = 30.0

    # Where outbound connections (query sources, BI and warehouse connectors, monitors) may go beyond the
    # public internet: CIDR networks and host names, comma-separated (telltale.platform.netguard). Empty deployed:
    # nothing private; the local stack allows loopback unless TELLTALE_ALLOWED_NETWORKS is set.
    allowed_networks: tuple[str, ...] = ()

    log_level: str = "INFO"
    max_page_size: int = 100

    # Saved-query execution (telltale.connectors.base.Limits): the row cap, the statement timeout (Lambda's
    # 29 s API limit bounds what a reply can wait for; a secret may ask for less) and the reply's byte
    # budget (rows as JSON: past it the rows stop and the reply says truncated, and why).
    queries_max_rows: int = 10_000
    queries_statement_timeout_s: int = 25
    queries_max_bytes: int = 5_000_000
    # Idle tenant connections a process keeps for internal queries (telltale.connectors.internal).
    internal_pool_size: int = 8
    # An uptime check's deadline for the whole response, in seconds (telltale.apianalytics.monitors).
    apianalytics_check_timeout_s: float = 10.0
    # What one /api/data or /api/stats call may spend in its store, all statements together: cut before API
    # Gateway's 29 s, so the client gets a 503 that says what to narrow, not a gateway timeout.
    apianalytics_query_budget_s: float = 25.0

    # Not a setting but a fact of the sandbox, read here with the rest of the environment: Lambda's runtime
    # API (host, port), from AWS_LAMBDA_RUNTIME_API, which Lambda sets; never an outbound target
    # (telltale.platform.netguard). None outside Lambda.
    lambda_runtime_api: tuple[str, int] | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Settings from ``TELLTALE_<FIELD>`` variables (empty means the default; the runtime's own facts
        under their AWS names); a SettingsError naming every bad variable otherwise."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        errors: list[str] = []
        for f in fields(cls):
            key = _RUNTIME_FACTS.get(f.name) or "TELLTALE_" + f.name.upper()
            raw = env.get(key, "")
            if raw == "":
                continue
            try:
                values[f.name] = _convert(f.name, raw, f.default)
            except ValueError as exc:
                errors.append(f"{key} ({f.name}): {exc}")
        if errors:
            raise SettingsError("invalid settings: " + "; ".join(errors))
        # AWS conventions win for the region and the endpoint override.
        if env.get("AWS_REGION"):
            values.setdefault("aws_region", env["AWS_REGION"])
        if env.get("AWS_ENDPOINT_URL"):
            values.setdefault("aws_endpoint_url", env["AWS_ENDPOINT_URL"])
        return cls(**values)


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}
_MINIMUM: dict[str, int | float] = {
    "max_page_size": 1, "db_port": 1, "clickhouse_port": 1, "queries_max_rows": 1,
    "queries_statement_timeout_s": 1, "queries_max_bytes": 1, "internal_pool_size": 1,
    "apianalytics_check_timeout_s": 0.5, "usage_sync_wait_s": 0, "event_store_cache_s": 0,
    "apianalytics_query_budget_s": 0.001,
}
# An uptime check waits 0.5 s (monitors.MIN_CHECK_S) to 20 s: the bounds it was clamped to before it was a setting.
_MAXIMUM: dict[str, int | float] = {"apianalytics_check_timeout_s": 20, "usage_sync_wait_s": 25,
                                    "apianalytics_query_budget_s": 28}
# Fields the runtime provides under its own name, with no TELLTALE_ variable.
_RUNTIME_FACTS = {"lambda_runtime_api": "AWS_LAMBDA_RUNTIME_API"}


def _convert(name: str, raw: str, default: Any) -> Any:
    """``raw`` as the type of the field's default (a string where the default is None)."""
    if name == "lambda_runtime_api":
        host, _, port = raw.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"must be host:port, not {raw!r}")
        return host.strip("[]"), int(port)
    if name in ("event_store", "request_store"):
        if raw not in get_args(EventStore):
            raise ValueError(f"must be one of {', '.join(get_args(EventStore))}, not {raw!r}")
        return raw
    if name == "allowed_networks":
        from telltale.platform.hosts import parse_allowed_networks

        return parse_allowed_networks(raw)
    if isinstance(default, bool):
        if raw.strip().lower() not in _TRUE | _FALSE:
            raise ValueError(f"must be true or false, not {raw!r}")
        return raw.strip().lower() in _TRUE
    if isinstance(default, int | float):
        try:
            value = type(default)(raw)
        except ValueError:
            kind = "an integer" if isinstance(default, int) else "a number"
            raise ValueError(f"must be {kind}, not {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, not {raw!r}")
        if value < _MINIMUM.get(name, value):
            raise ValueError(f"must be at least {_MINIMUM[name]:g}, not {raw!r}")
        if value > _MAXIMUM.get(name, value):
            raise ValueError(f"must be at most {_MAXIMUM[name]:g}, not {raw!r}")
        return value
    return raw


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
