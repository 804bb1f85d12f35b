"""Settings, parsed once from the environment.

The deployed functions get these variables from ``template.yaml``; the local stack sets them to point at
the embedded PostgreSQL, the in-process AWS endpoint and the local queue.

A frozen dataclass rather than a pydantic model: every function reads settings on its first request, and
a pydantic model's machinery is about 50 ms of imports and schema building at each cold start, for
flat scalars that :meth:`Settings.from_env` converts in a few lines.
"""

from __future__ import annotations

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

    # Where outbound connections (query sources, BI and warehouse connectors, monitors) may go beyond the
    # public internet: CIDR networks and host names, comma-separated (telltale.platform.netguard). Empty deployed:
    # nothing private; the local stack allows loopback unless TELLTALE_ALLOWED_NETWORKS is set.
    allowed_networks: tuple[str, ...] = ()

    log_level: str = "INFO"
    max_page_size: int = 100

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Settings from ``TELLTALE_<FIELD>`` variables (empty means the default); a SettingsError naming
        every bad variable otherwise."""
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        errors: list[str] = []
        for f in fields(cls):
            key = "TELLTALE_" + f.name.upper()
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
_MINIMUM = {"max_page_size": 1, "db_port": 1, "clickhouse_port": 1}


def _convert(name: str, raw: str, default: Any) -> Any:
    """``raw`` as the type of the field's default (a string where the default is None)."""
    if name == "event_store":
        if raw not in get_args(EventStore):
            raise ValueError(f"must be one of {', '.join(get_args(EventStore))}, not {raw!r}")
        return raw
    if name == "allowed_networks":
        from telltale.platform.netguard import parse_allowed_networks

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
        if value < _MINIMUM.get(name, value):
            raise ValueError(f"must be at least {_MINIMUM[name]}")
        return value
    return raw


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
