"""The analytics secret types (spec 000, "Secret Configuration"), derived from the source registry.

Each source declares its connection secret's fields (:class:`telltale.sources.SecretField`); here they
become a pydantic model per type, a field table seeded into ``platform.secret_types`` and shown by
``GET .../secrets/types/``, and the check a value passes before it is stored. Only the secrets API imports
this module: an execution needs none of it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator
from pydantic import ValidationError as PydanticValidationError

from telltale import sources
from telltale.platform import db
from telltale.platform.errors import ValidationError, pydantic_errors
from telltale.secrets import vocabulary
from telltale.sources import SecretField, Source

_PY_TYPES: dict[str, Any] = {"string": str, "integer": int, "boolean": bool, "object": dict[str, str]}


class _SecretValue(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


def _field(f: SecretField) -> tuple[Any, Any]:
    kind = _PY_TYPES[f.kind]
    extra: dict[str, Any] | None = {"secret": True} if f.secret else None
    bounds: dict[str, Any] = {}
    if f.kind == "integer":
        bounds = {k: v for k, v in (("ge", f.minimum), ("le", f.maximum)) if v is not None}
    elif f.kind == "string" and not f.allow_empty:
        bounds = {"min_length": 1}
    if f.required:
        return kind, Field(description=f.description, json_schema_extra=extra, **bounds)
    return kind | None, Field(default=f.default, description=f.description, json_schema_extra=extra, **bounds)


def _host_check(source: Source) -> Any:
    """The form of a host field, checked when the secret is saved (a 400 naming value.host); where it may
    connect is checked by telltale.platform.netguard at each connection, since DNS answers change. Elasticsearch's
    host is a URL (spec 000): a scheme, a host and an optional port."""

    def check(cls: Any, v: Any) -> Any:
        from telltale.platform import netguard

        if isinstance(v, str):
            if source.language == "elasticsearch":
                netguard.split_origin(v, 9200)  # ValueError says what to fix
            else:
                netguard.parse_host(v)
        return v

    return check


@lru_cache(maxsize=16)
def model_for(source: Source) -> type[BaseModel]:
    """The pydantic model of ``source``'s connection secret."""
    fields = {f.name: _field(f) for f in source.secret_fields}
    hosts = [f.name for f in source.secret_fields if f.host]
    validators = {"_host": field_validator(*hosts)(_host_check(source))} if hosts else {}
    name = "".join(p.capitalize() for p in source.slug.split("-")) + "Connection"
    model: type[BaseModel] = create_model(name, __base__=_SecretValue, __validators__=validators,  # type: ignore[call-overload]
                                          **fields)
    return model


def secret_types() -> dict[str, Source]:
    """Secret type slug -> the source it selects."""
    return {str(s.secret_type): s for s in sources.external()}


def field_table(source: Source) -> list[dict[str, Any]]:
    """The type's fields as the spec's table: name, type, required, default, description, secret."""
    return [{"name": f.name, "type": f.kind, "required": f.required, "default": f.default,
             "description": f.description, "secret": f.secret} for f in source.secret_fields]


def seed() -> None:
    """Upsert the known types (the tenant seeder); safe to run on every start."""
    for slug, source in secret_types().items():
        db.query(
            "INSERT INTO platform.secret_types (slug, name, description, fields)"
            " VALUES (:slug, :name, :d, CAST(:f AS jsonb))"
            " ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,"
            " fields = EXCLUDED.fields",
            slug=slug, name=source.name, d=source.description, f=db.jsonb(field_table(source)),
        )


def validate_value(type_slug: str, value: Any) -> dict[str, Any]:
    """The value with defaults filled in, or a 400 naming every bad field."""
    types = secret_types()
    if type_slug not in types:
        raise ValidationError(
            f"unknown secret type '{type_slug}'; use one of: {', '.join(sorted(types))}",
            errors={"type_slug": [f"must be one of: {', '.join(sorted(types))}"]},
        )
    if not isinstance(value, dict):
        raise ValidationError("value must be a JSON object", errors={"value": ["must be a JSON object"]})
    fields = {f.name for f in types[type_slug].secret_fields}
    if "username" in fields:  # the credential vocabulary's aliases ("user") name the same field
        value = vocabulary.canonical(value, "value")
    try:
        return model_for(types[type_slug]).model_validate(value).model_dump()
    except PydanticValidationError as exc:
        errors = {f"value.{k}": v for k, v in pydantic_errors(exc).items()}
        raise ValidationError(f"value does not fit secret type '{type_slug}'; see errors for each field",
                              errors=errors) from None
