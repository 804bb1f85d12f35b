"""Settings, parsed once from the environment.

The deployed functions get these variables from ``template.yaml``; the local stack sets them to point at
the embedded PostgreSQL, the in-process AWS endpoint and the local queue.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field


class Settings(BaseModel):
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

    # Secrets Manager names are "<prefix>/<tenant>/<app>/<key>".
    secrets_prefix: str = "telltale"
    secrets_cache_seconds: int = 60

    # The claim that carries the tenant id in the JWT.
    tenant_claim: str = "tenant_id"

    events_queue_url: str | None = None
    # The SQLite file behind every "local://" queue URL.
    local_queue_path: str | None = None

    event_store: Literal["postgres", "clickhouse"] = "postgres"
    # The ClickHouse event store (used when event_store is "clickhouse", or for the tenants listed in
    # clickhouse_tenants: tenants that outgrew one PostgreSQL move there one at a time).
    clickhouse_host: str | None = None
    clickhouse_port: int = 8123
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_database: str = "telltale_events"
    clickhouse_secure: bool = False
    clickhouse_tenants: str = ""

    log_level: str = "INFO"
    max_page_size: int = Field(default=100, ge=1)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, str] = {}
        for name in cls.model_fields:
            key = "TELLTALE_" + name.upper()
            if key in env and env[key] != "":
                values[name] = env[key]
        # AWS conventions win for the region and the endpoint override.
        if env.get("AWS_REGION"):
            values.setdefault("aws_region", env["AWS_REGION"])
        if env.get("AWS_ENDPOINT_URL"):
            values.setdefault("aws_endpoint_url", env["AWS_ENDPOINT_URL"])
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings (tests and the local stack change the environment)."""
    get_settings.cache_clear()
