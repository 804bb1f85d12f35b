"""Connectors, spaces and data products: the things usage is collected from and attributed to.

Connector credentials go to Secrets Manager under ``<prefix>/<tenant>/connectors/<id>`` and never come back
out: replies carry the connector's type, name and non-secret config only.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from telltale.platform import db, scoped
from telltale.platform.config import get_settings
from telltale.platform.errors import Conflict, NotFound, ValidationError, uuid_or_404
from telltale.secrets import store as secrets
from telltale.secrets import vocabulary
from telltale.usage import integrations
from telltale.usage.sql import split_table
from telltale.web.auth import AuthContext

if TYPE_CHECKING:
    ConnectorType = str
else:  # the registry's types, as the enum the API accepts and describes
    ConnectorType = Literal[integrations.TYPES]

SLUG_RE = r"^[a-z0-9][a-z0-9-]{0,62}$"
TABLE_RE = re.compile(r'^[A-Za-z_][\w$-]*(\.[A-Za-z_][\w$-]*){0,2}$')

_CONNECTOR_COLS = "id, name, type, config, created_by, created_at, updated_at"


class ConnectorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    type: ConnectorType = Field(description="; ".join(f"{k}: {v.doc}" for k, v in integrations.REGISTRY.items()))
    config: dict[str, Any] = Field(default_factory=dict, description="Non-secret settings (returned as is)")
    credentials: dict[str, Any] = Field(default_factory=dict, description="Secret settings (never returned)")


class ConnectorUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    config: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None


class SpaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(pattern=SLUG_RE, description="lower-case letters, digits and '-'")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)


class SpaceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


def _check_tables(tables: list[str]) -> list[str]:
    bad = [t for t in tables if not TABLE_RE.match(t.strip())]
    if bad:
        shown = ", ".join(repr(t) if t.strip() else "an empty name" for t in bad[:5])
        # A PydanticCustomError, not a ValueError: its message reaches the client without "Value error, ".
        raise PydanticCustomError("table_name", "table names must look like schema.table, not {shown}",
                                  {"shown": shown})
    seen: dict[str, None] = {t.strip(): None for t in tables}
    return list(seen)


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    tables: list[str] = Field(default_factory=list, max_length=500,
                              description="schema.table names the product owns (matched case-insensitively, "
                                          "with or without schema)")

    @field_validator("tables")
    @classmethod
    def _tables(cls, v: list[str]) -> list[str]:
        return _check_tables(v)


class ProductUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    tables: list[str] | None = Field(default=None, max_length=500)

    @field_validator("tables")
    @classmethod
    def _tables(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_tables(v)


# ---------------------------------------------------------------- connectors

def secret_name_for(tenant_id: str, connector_id: str) -> str:
    return f"{get_settings().secrets_prefix}/{tenant_id}/connectors/{connector_id}"


def _validate_connector(ctype: str, config: dict[str, Any], credentials: dict[str, Any],
                        errors: dict[str, list[str]] | None = None) -> None:
    """A 400 naming every field that is wrong (with ``errors`` found by the caller, if any)."""
    # Imported here: the config models are most of this module's import cost, and only the routes that
    # write a connector need them (the catalog's reads and bi_sync's queue worker do not).
    from telltale.usage.integrations import config as integration_config

    errors = dict(errors or {})
    spec = integrations.REGISTRY[ctype]
    # Fields, bounds and outbound addresses: the type's config model (telltale.usage.integrations.config).
    errors.update(integration_config.field_errors(ctype, config))
    for key in spec.required_config:
        if config.get(key) in (None, "") and f"config.{key}" not in errors:
            errors[f"config.{key}"] = [f"required for type {ctype}"]
    if ctype == "power_bi" and not (config.get("azure_tenant_id") or config.get("token_url")):
        errors.setdefault("config.azure_tenant_id", []).append("azure_tenant_id or token_url is required")
    if ctype == "snowflake" and not (config.get("account") or config.get("base_url")):
        errors.setdefault("config.account", []).append("account or base_url is required")
    if not any(all(credentials.get(k) not in (None, "") for k in keys) for keys in spec.credential_sets):
        options = " or ".join("+".join(keys) for keys in spec.credential_sets)
        errors.setdefault("credentials", []).append(f"type {ctype} needs {options}")
    if any(not isinstance(v, str | int | float | bool) for v in credentials.values()):
        errors.setdefault("credentials", []).append("credential values must be strings or numbers")
    if errors:
        raise ValidationError("the connector is invalid; see errors for each field", errors=errors)


def _connector_out(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["is_bi"] = row["type"] in integrations.BI_TYPES
    return row


def create_connector(auth: AuthContext, body: ConnectorCreate) -> dict[str, Any]:
    credentials = vocabulary.canonical(body.credentials, "credentials")
    _validate_connector(body.type, body.config, credentials)
    cid = str(uuid.uuid4())
    name = secret_name_for(auth.tenant_id, cid)
    with db.transaction() as tx:
        rows = scoped.tenant(auth.tenant_id).run(
            tx, "INSERT INTO usage.connectors (id, name, type, config, secret_name, created_by)"
                " VALUES (CAST(:id AS uuid), :n, :ty, CAST(:c AS jsonb), :s, :u) ON CONFLICT DO NOTHING RETURNING id",
            id=cid, n=body.name, ty=body.type, c=db.jsonb(body.config), s=name, u=auth.user_id,
        )
        if not rows:
            raise Conflict(f"a connector named '{body.name}' already exists; choose another name")
        secrets.put_secret_json(name, credentials, tags={"tenant": auth.tenant_id, "kind": "connector"})
    return get_connector(auth, cid)


def _connector_row(tenant_id: str, connector_id: str, cols: str) -> dict[str, Any]:
    uuid_or_404(connector_id, f"connector '{connector_id}' not found")
    row = scoped.tenant(tenant_id).query_one(f"SELECT {cols} FROM usage.connectors WHERE id = CAST(:id AS uuid)",
                                            id=connector_id)
    if row is None:
        raise NotFound(f"connector '{connector_id}' not found")
    return row


def get_connector(auth: AuthContext, connector_id: str) -> dict[str, Any]:
    out = _connector_out(_connector_row(auth.tenant_id, connector_id, _CONNECTOR_COLS))
    out["last_sync"] = scoped.tenant(auth.tenant_id).query_one(
        "SELECT id, kind, status, started_at, finished_at, items_upserted, items_failed FROM usage.sync_jobs"
        " WHERE connector_id = CAST(:c AS uuid) ORDER BY COALESCE(queued_at, started_at) DESC, id LIMIT 1",
        c=connector_id,
    )
    return out


def load_connector(tenant_id: str, connector_id: str) -> dict[str, Any]:
    """Server-side: the connector with its credentials and mining state (never sent to a client)."""
    row = _connector_row(tenant_id, connector_id, _CONNECTOR_COLS + ", secret_name, mining_state")
    row["tenant_id"] = tenant_id
    try:
        row["credentials"] = secrets.read_secret_json(row["secret_name"])
    except NotFound:
        row["credentials"] = {}
    return row


def list_connectors(auth: AuthContext, *, limit: int, offset: int, type_: str | None = None) -> tuple[list[Any], int]:
    rows, total = scoped.tenant(auth.tenant_id).page(
        f"SELECT {_CONNECTOR_COLS} FROM usage.connectors WHERE CAST(:ty AS text) IS NULL OR type = :ty ORDER BY name",
        limit=limit, offset=offset, ty=type_,
    )
    return [_connector_out(r) for r in rows], total


def update_connector(auth: AuthContext, connector_id: str, body: ConnectorUpdate) -> dict[str, Any]:
    current = load_connector(auth.tenant_id, connector_id)
    config = body.config if body.config is not None else current["config"]
    errors: dict[str, list[str]] = {}
    if body.credentials is None:
        from telltale.usage.integrations import config as integration_config

        moved = integration_config.changed_endpoint_keys(current["config"], config)
        if moved:
            # Otherwise the stored secret would go wherever the new address points: a tenant user could
            # point base_url at their own server, run a sync and read the username and password.
            fields = ", ".join(f"config.{k}" for k in moved)
            errors["credentials"] = [f"required again when {fields} changes"]
    credentials = vocabulary.canonical(body.credentials if body.credentials is not None else current["credentials"],
                                       "credentials")
    _validate_connector(current["type"], config, credentials, errors)
    try:
        scoped.tenant(auth.tenant_id).query(
            "UPDATE usage.connectors SET name = COALESCE(:n, name), config = CAST(:c AS jsonb), updated_at = now()"
            " WHERE id = CAST(:id AS uuid)",
            n=body.name, c=db.jsonb(config), id=connector_id,
        )
    except Exception as exc:
        if "unique" in str(exc).lower() or "23505" in str(exc):
            raise Conflict(f"a connector named '{body.name}' already exists; choose another name") from None
        raise
    if body.credentials is not None:
        secrets.put_secret_json(current["secret_name"], credentials)
    return get_connector(auth, connector_id)


def delete_connector(auth: AuthContext, connector_id: str) -> None:
    row = _connector_row(auth.tenant_id, connector_id, "secret_name")
    scoped.tenant(auth.tenant_id).query("DELETE FROM usage.connectors WHERE id = CAST(:id AS uuid)", id=connector_id)
    secrets.delete_secret(row["secret_name"])


# ---------------------------------------------------------------- spaces

_SPACE_COLS = "id, slug, name, description, created_at, updated_at"


def create_space(auth: AuthContext, body: SpaceCreate) -> dict[str, Any]:
    rows = scoped.tenant(auth.tenant_id).query(
        f"INSERT INTO usage.spaces (slug, name, description) VALUES (:s, :n, :d)"
        f" ON CONFLICT DO NOTHING RETURNING {_SPACE_COLS}",
        s=body.slug, n=body.name, d=body.description,
    )
    if not rows:
        raise Conflict(f"a space with slug '{body.slug}' already exists; choose another slug")
    return rows[0]


def get_space(tenant_id: str, slug: str) -> dict[str, Any]:
    row = scoped.tenant(tenant_id).query_one(f"SELECT {_SPACE_COLS} FROM usage.spaces WHERE slug = :s", s=slug)
    if row is None:
        raise NotFound(f"space '{slug}' not found")
    return row


def list_spaces(auth: AuthContext, *, limit: int, offset: int) -> tuple[list[Any], int]:
    return scoped.tenant(auth.tenant_id).page(
        f"SELECT {_SPACE_COLS}, (SELECT count(*) FROM usage.products p WHERE p.space_id = s.id) AS product_count"
        " FROM usage.spaces s ORDER BY slug",
        limit=limit, offset=offset,
    )


def update_space(auth: AuthContext, slug: str, body: SpaceUpdate) -> dict[str, Any]:
    rows = scoped.tenant(auth.tenant_id).query(
        f"UPDATE usage.spaces SET name = COALESCE(:n, name), description = COALESCE(:d, description),"
        f" updated_at = now() WHERE slug = :s RETURNING {_SPACE_COLS}",
        n=body.name, d=body.description, s=slug,
    )
    if not rows:
        raise NotFound(f"space '{slug}' not found")
    return rows[0]


def delete_space(auth: AuthContext, slug: str) -> None:
    if not scoped.tenant(auth.tenant_id).query("DELETE FROM usage.spaces WHERE slug = :s RETURNING id", s=slug):
        raise NotFound(f"space '{slug}' not found")


# ---------------------------------------------------------------- products

_PRODUCT_COLS = "p.id, p.name, p.description, p.tables, p.created_at, p.updated_at"


def _write_product_tables(tx: Any, scope: scoped.Scope, product_id: str, tables: list[str]) -> None:
    scope.run(tx, "DELETE FROM usage.product_tables WHERE product_id = CAST(:p AS uuid)", p=product_id)
    pairs = sorted({split_table(t) for t in tables})
    if pairs:
        scope.run(
            tx, "INSERT INTO usage.product_tables (product_id, sch, tbl)"
                " SELECT CAST(:p AS uuid), x.sch, x.tbl FROM jsonb_to_recordset(CAST(:rows AS jsonb))"
                " AS x(sch text, tbl text) ON CONFLICT DO NOTHING",
            p=product_id, rows=db.jsonb([{"sch": s, "tbl": t} for s, t in pairs]),
        )


def _product_out(row: dict[str, Any], space_slug: str) -> dict[str, Any]:
    row = dict(row)
    row["space"] = space_slug
    return row


def create_product(auth: AuthContext, slug: str, body: ProductCreate) -> dict[str, Any]:
    space = get_space(auth.tenant_id, slug)
    scope = scoped.tenant(auth.tenant_id)
    with db.transaction() as tx:
        rows = scope.run(
            tx, "INSERT INTO usage.products (space_id, name, description, tables)"
                " VALUES (:sp, :n, :d, CAST(:tb AS text[])) ON CONFLICT DO NOTHING RETURNING id",
            sp=space["id"], n=body.name, d=body.description, tb=body.tables,
        )
        if not rows:
            raise Conflict(f"a product named '{body.name}' already exists in space '{slug}'")
        pid = str(rows[0]["id"])
        _write_product_tables(tx, scope, pid, body.tables)
    return get_product(auth, slug, pid)


def _product_row(tenant_id: str, slug: str, product_id: str) -> dict[str, Any]:
    uuid_or_404(product_id, f"product '{product_id}' not found in space '{slug}'")
    space = get_space(tenant_id, slug)
    row = scoped.tenant(tenant_id).query_one(
        f"SELECT {_PRODUCT_COLS}, s.query_count_30d, s.unique_users_30d, s.last_queried_at, s.popularity_score,"
        " s.top_columns, s.updated_at AS usage_updated_at"
        " FROM usage.products p LEFT JOIN usage.product_usage_stats s ON s.product_id = p.id"
        " WHERE p.space_id = :sp AND p.id = CAST(:id AS uuid)",
        sp=space["id"], id=product_id,
    )
    if row is None:
        raise NotFound(f"product '{product_id}' not found in space '{slug}'")
    return row


def get_product(auth: AuthContext, slug: str, product_id: str) -> dict[str, Any]:
    row = _product_row(auth.tenant_id, slug, product_id)
    usage_keys = ("query_count_30d", "unique_users_30d", "last_queried_at", "popularity_score", "top_columns",
                  "usage_updated_at")
    usage = {k: row.pop(k) for k in usage_keys}
    out = _product_out(row, slug)
    out["usage"] = None if usage["usage_updated_at"] is None else {
        **{k: usage[k] for k in usage_keys[:-1]}, "updated_at": usage["usage_updated_at"]}
    return out


def list_products(auth: AuthContext, slug: str, *, limit: int, offset: int) -> tuple[list[Any], int]:
    space = get_space(auth.tenant_id, slug)
    rows, total = scoped.tenant(auth.tenant_id).page(
        f"SELECT {_PRODUCT_COLS} FROM usage.products p WHERE p.space_id = :sp ORDER BY p.name",
        limit=limit, offset=offset, sp=space["id"],
    )
    return [_product_out(r, slug) for r in rows], total


def update_product(auth: AuthContext, slug: str, product_id: str, body: ProductUpdate) -> dict[str, Any]:
    current = _product_row(auth.tenant_id, slug, product_id)
    scope = scoped.tenant(auth.tenant_id)
    with db.transaction() as tx:
        try:
            scope.run(
                tx, "UPDATE usage.products SET name = COALESCE(:n, name), description = COALESCE(:d, description),"
                    " tables = COALESCE(CAST(:tb AS text[]), tables), updated_at = now() WHERE id = CAST(:id AS uuid)",
                n=body.name, d=body.description, tb=body.tables, id=product_id,
            )
        except Exception as exc:
            if "23505" in str(exc):
                raise Conflict(f"a product named '{body.name}' already exists in space '{slug}'") from None
            raise
        if body.tables is not None:
            _write_product_tables(tx, scope, str(current["id"]), body.tables)
    return get_product(auth, slug, product_id)


def delete_product(auth: AuthContext, slug: str, product_id: str) -> None:
    _product_row(auth.tenant_id, slug, product_id)
    scoped.tenant(auth.tenant_id).query("DELETE FROM usage.products WHERE id = CAST(:id AS uuid)", id=product_id)
