"""The analytics secret types (spec 000, "Secret Configuration"): fields, types, defaults, required.

Each type is a pydantic model; its field table is derived from the model, seeded into
``platform.secret_types`` and shown by ``GET .../secrets/types/``. A value is validated against its
type's model before it is stored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from telltale import db
from telltale.errors import ValidationError, pydantic_errors


class _SecretValue(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


def _bare_host(v: str) -> str:
    """A host's form is checked when the secret is saved (a 400 naming value.host); where it may connect is
    checked by telltale.netguard at each connection, since DNS answers change."""
    from telltale.netguard import parse_host

    parse_host(v)  # ValueError says what to fix
    return v


class _HostedValue(_SecretValue):
    @field_validator("host", check_fields=False)
    @classmethod
    def _host(cls, v: str) -> str:
        return _bare_host(v)


class SqlConnection(_HostedValue):
    host: str = Field(min_length=1, description="Database host")
    port: int = Field(ge=1, le=65535,
                      description="Database port (5432 for PostgreSQL, 3306 for MySQL, 5439 for Redshift)")
    database: str = Field(min_length=1, description="Database name")
    username: str = Field(min_length=1, description="Database username")
    password: str = Field(description="Database password (empty for a passwordless account)",
                          json_schema_extra={"secret": True})
    ssl: bool = Field(default=False, description="Connect with TLS and verify the server certificate")
    connect_timeout: int = Field(default=10, ge=1, le=60, description="Seconds to wait for a connection")
    statement_timeout: int = Field(default=30, ge=1, le=300, description="Seconds a query may run")


class RedshiftConnection(SqlConnection):
    # Spec 000's table: port is required for every SQL type (5439 is Redshift's usual one), no default.
    port: int = Field(ge=1, le=65535, description="Database port (5439 for Redshift)")
    ssl: bool = Field(default=True, description="Connect with TLS (Redshift requires it by default)")


class ElasticsearchConnection(_SecretValue):
    host: str = Field(min_length=1, description="Elasticsearch host URL: scheme, host and an optional port only")
    port: int = Field(default=9200, ge=1, le=65535, description="Port (default: 9200)")

    @field_validator("host")
    @classmethod
    def _origin(cls, v: str) -> str:
        from telltale.netguard import split_origin

        split_origin(v, 9200)  # ValueError says what to fix
        return v
    index: str = Field(min_length=1, description="Default index pattern")
    username: str | None = Field(default=None, description="Basic auth username")
    password: str | None = Field(default=None, description="Basic auth password", json_schema_extra={"secret": True})
    api_key: str | None = Field(default=None, description="API key (alternative to username/password)",
                                json_schema_extra={"secret": True})
    headers: dict[str, str] | None = Field(default=None, description="Custom HTTP headers")
    max_result_rows: int = Field(default=10000, ge=1, le=100000, description="Maximum rows to return (default: 10000)")
    verify_certs: bool = Field(default=True, description="Verify the server's TLS certificate")
    request_timeout: int = Field(default=30, ge=1, le=300, description="Seconds a search may take")


class ClickHouseConnection(_HostedValue):
    host: str = Field(min_length=1, description="ClickHouse host")
    # Required, as spec 000's table says; 8443 is the usual HTTPS port, 8123 plain HTTP.
    port: int = Field(ge=1, le=65535, description="Port (8443 for HTTPS, 8123 for plain HTTP)")
    database: str = Field(min_length=1, description="Database name")
    username: str = Field(min_length=1, description="Username")
    password: str = Field(description="Password", json_schema_extra={"secret": True})
    secure: bool = Field(default=True, description="Use HTTPS (default: true)")
    connect_timeout: int = Field(default=10, ge=1, le=60, description="Seconds to wait for a connection")
    statement_timeout: int = Field(default=30, ge=1, le=300, description="Seconds a query may run")


SECRET_TYPES: dict[str, tuple[str, type[_SecretValue], str]] = {
    "analytics-postgres": ("PostgreSQL", SqlConnection, "Relational data, complex queries"),
    "analytics-mysql": ("MySQL", SqlConnection, "Web application databases"),
    "analytics-redshift": ("Redshift", RedshiftConnection, "Data warehouse analytics"),
    "analytics-elasticsearch": ("Elasticsearch", ElasticsearchConnection, "Log analysis, full-text search"),
    "analytics-clickhouse": ("ClickHouse", ClickHouseConnection, "Real-time analytics, time-series"),
}

_JSON_TYPES = {"string": "string", "integer": "integer", "boolean": "boolean", "object": "object"}


def field_table(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The type's fields as the spec's table: name, type, required, default, description."""
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema["properties"].items():
        kinds = [p.get("type") for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
        rows.append({
            "name": name,
            "type": _JSON_TYPES.get(str(kinds[0]), str(kinds[0])) if kinds else "string",
            "required": name in required,
            "default": prop.get("default"),
            "description": prop.get("description", ""),
            "secret": bool(prop.get("secret", False)),
        })
    return rows


def seed() -> None:
    """Upsert the known types (the tenant seeder); safe to run on every start."""
    for slug, (name, model, description) in SECRET_TYPES.items():
        db.query(
            "INSERT INTO platform.secret_types (slug, name, description, fields)"
            " VALUES (:slug, :name, :d, CAST(:f AS jsonb))"
            " ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,"
            " fields = EXCLUDED.fields",
            slug=slug, name=name, d=description, f=db.jsonb(field_table(model)),
        )


def validate_value(type_slug: str, value: Any) -> dict[str, Any]:
    """The value with defaults filled in, or a 400 naming every bad field."""
    if type_slug not in SECRET_TYPES:
        raise ValidationError(
            f"unknown secret type '{type_slug}'; use one of: {', '.join(sorted(SECRET_TYPES))}",
            errors={"type_slug": [f"must be one of: {', '.join(sorted(SECRET_TYPES))}"]},
        )
    if not isinstance(value, dict):
        raise ValidationError("value must be a JSON object", errors={"value": ["must be a JSON object"]})
    model = SECRET_TYPES[type_slug][1]
    try:
        return model.model_validate(value).model_dump()
    except PydanticValidationError as exc:
        errors = {f"value.{k}": v for k, v in pydantic_errors(exc).items()}
        raise ValidationError(f"value does not fit secret type '{type_slug}'; see errors for each field",
                              errors=errors) from None
