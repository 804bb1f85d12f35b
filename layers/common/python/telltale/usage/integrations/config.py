"""Each connector type's non-secret configuration as a pydantic model: the one place for its fields, their
bounds and their defaults.

A connector is created with its config as the client wrote it (and it is returned as written); it is
validated against its type's model on create and update (a 400 naming ``config.<field>``), and the
integrations receive the validated model dumped to a dict, defaults filled in. Bounds matter beyond tidiness:
``page_size: 0`` used to page forever and ``max_retries: "abc"`` failed every sync with an internal error.
Unknown keys are kept (extra="allow"): they are harmless, and an older connector's config stays valid.

Outbound addresses (``base_url``, ``token_url``, ``host``) are checked with :mod:`telltale.platform.netguard`: on
create and update here, and again when an integration connects (DNS can change in between). Deployments whose BI
tools live inside their network list those networks (or host names) in ``TELLTALE_ALLOWED_NETWORKS``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from telltale.platform import netguard
from telltale.platform.errors import ValidationError, pydantic_message

# Config keys that decide where the stored credentials are sent (or whether the channel is verified):
# changing any of them without giving the credentials again would let a tenant user send them to a server
# of their choosing.
ENDPOINT_KEYS = ("base_url", "token_url", "azure_tenant_id", "account", "host", "port", "verify_tls", "ssl")
URL_KEYS = ("base_url", "token_url")


class _Config(BaseModel):
    model_config = ConfigDict(extra="allow")
    dialect: str | None = Field(default=None, max_length=40,
                                description="the SQL dialect of the tool's database when the tool does not say")


class _Http(_Config):
    base_url: str | None = Field(default=None, max_length=2048)
    timeout_s: float = Field(default=30.0, gt=0, le=300)
    max_retries: int = Field(default=4, ge=0, le=10)
    retry_backoff_s: float = Field(default=1.0, ge=0, le=60)
    max_retry_wait_s: float = Field(default=60.0, ge=0, le=600)
    verify_tls: bool = True
    page_size: int = Field(default=100, ge=1, le=1000)


class SupersetConfig(_Http):
    page_size: int = Field(default=100, ge=1, le=100)  # Superset caps pages at 100


class MetabaseConfig(_Http):
    page_size: int = Field(default=50, ge=1, le=1000)


class LookerConfig(_Http):
    history: bool = True
    history_days: int = Field(default=30, ge=1, le=365)
    history_limit: int = Field(default=5000, ge=1, le=100_000)


class TableauConfig(_Http):
    site: str = Field(default="", max_length=200)
    api_version: str = Field(default="3.22", pattern=r"^\d+\.\d+$")


class PowerBiConfig(_Http):
    azure_tenant_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.-]{1,100}$")
    token_url: str | None = Field(default=None, max_length=2048)
    app_url: str = Field(default="https://app.powerbi.com", max_length=2048)
    scope: str | None = Field(default=None, max_length=500)
    workspaces: list[str] | None = Field(default=None, max_length=10_000)
    page_size: int = Field(default=1000, ge=1, le=5000)
    # At least a second between polls (0 polled in a tight loop against a rate-limited admin API); one
    # scan's wait well under the worker's 900 s Lambda timeout, so the job ends itself, with its counts.
    scan_poll_s: float = Field(default=2.0, ge=1, le=60)
    scan_timeout_s: float = Field(default=600.0, gt=0, le=600)


class _Mining(_Http):
    lookback_days: int = Field(default=30, ge=1, le=3650)


class SnowflakeConfig(_Mining):
    account: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,255}$")
    warehouse: str | None = None
    role: str | None = None
    database: str | None = None
    max_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    poll_s: float = Field(default=1.0, ge=1, le=60)  # 0 would poll the statement in a tight loop
    overlap_minutes: int = Field(default=180, ge=0, le=7 * 24 * 60)
    statement_timeout_s: int = Field(default=120, ge=1, le=3600)


class BigQueryConfig(_Mining):
    project: str = Field(min_length=1, max_length=100)
    region: str = Field(default="us", pattern=r"^[A-Za-z0-9-]{1,40}$")
    page_size: int = Field(default=1000, ge=1, le=100_000)


class PostgresConfig(_Config):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=5432, gt=0, lt=65536)
    database: str = Field(min_length=1, max_length=255)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    ssl: bool = False
    all_databases: bool = False


MODELS: dict[str, type[_Config]] = {
    "superset": SupersetConfig, "metabase": MetabaseConfig, "looker": LookerConfig, "tableau": TableauConfig,
    "power_bi": PowerBiConfig, "snowflake": SnowflakeConfig, "bigquery": BigQueryConfig, "postgres": PostgresConfig,
}


def field_errors(ctype: str, config: dict[str, Any]) -> dict[str, list[str]]:
    """Per ``config.<field>``, what is wrong with ``config`` for a connector of type ``ctype`` (none: valid)."""
    errors: dict[str, list[str]] = {}
    try:
        MODELS[ctype].model_validate(config)
    except PydanticValidationError as exc:
        for err in exc.errors():
            key = ".".join(["config", *(str(p) for p in err.get("loc", ()))])
            msg = "required for type " + ctype if err.get("type") == "missing" else pydantic_message(err)
            errors.setdefault(key, []).append(msg)
    for key in URL_KEYS:
        if config.get(key) and f"config.{key}" not in errors:
            problem = _url_problem(str(config[key]))
            if problem:
                errors[f"config.{key}"] = [problem]
    # A port that failed validation is reported on config.port; resolving with it would only fail again.
    if (ctype == "postgres" and isinstance(config.get("host"), str) and "config.host" not in errors
            and "config.port" not in errors):
        problem = _host_problem(config["host"], config.get("port", 5432))
        if problem:
            errors["config.host"] = [problem]
    return errors


def _url_problem(url: str) -> str | None:
    try:
        netguard.check_url(url)
    except ValueError as exc:
        return str(exc)
    except netguard.Blocked as exc:
        return f"not allowed: {exc}"
    return None


def _host_problem(host: str, port: Any) -> str | None:
    try:
        netguard.outbound_address(host, int(port))
    except (TypeError, ValueError):
        return None  # the port's own error is reported on config.port
    except netguard.Blocked as exc:
        return f"not allowed: {exc}"
    return None


def effective(ctype: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config a scraper or miner runs with: validated, every default filled in. A stored config that no
    longer validates (saved before these bounds existed) is a ValidationError naming the fields."""
    try:
        return MODELS[ctype].model_validate(config).model_dump()
    except PydanticValidationError:
        errors = field_errors(ctype, config)
        detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise ValidationError(f"the connector's config is invalid ({detail}); update it", errors=errors) from None


def changed_endpoint_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [k for k in ENDPOINT_KEYS if old.get(k) != new.get(k)]
