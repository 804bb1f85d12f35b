"""The secrets API's logic, with its request models: typed connection secrets per tenant and app.

The value goes to Secrets Manager; ``platform.secrets`` holds the metadata (key, type, where). Nothing
here returns a value to a caller; the query engine resolves secrets server-side with
:func:`telltale.secrets.lookup.resolve` (which needs none of the models here, so execution loads no pydantic).
A key this API is asked about and does not hold is a 404 NotFound: the secret is the resource the URL names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from telltale.platform import db, scoped
from telltale.platform.errors import Conflict, NotFound, SecretResolutionError
from telltale.platform.tenancy import get_app
from telltale.secrets import store as secrets
from telltale.secrets.types import validate_value
from telltale.web.auth import AuthContext

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"

_META_COLUMNS = "key, type_slug, description, created_by, created_at, updated_at"


class SecretCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="Unique per app: letters, digits, '_', '.', '-'")
    type_slug: str = Field(description="One of the types listed at .../secrets/types/")
    value: dict[str, Any] = Field(description="The connection settings; validated against the type's fields")
    description: str = Field(default="", max_length=1000)


class SecretPatch(BaseModel):
    """A partial update: the description alone (no need to resend the value), the value alone, or both."""

    model_config = ConfigDict(extra="forbid")

    value: dict[str, Any] | None = Field(default=None, description="A new value, validated whole as on create")
    description: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _something(self) -> SecretPatch:
        if self.value is None and self.description is None:
            raise ValueError("send description, value, or both")
        return self


class SecretUpdate(BaseModel):
    """A rotation: the new value (and optionally description). The key and type stay; to change the type,
    delete the secret and create it again."""

    model_config = ConfigDict(extra="forbid")

    value: dict[str, Any]
    description: str | None = Field(default=None, max_length=1000)


def list_types() -> list[dict[str, Any]]:
    return db.query("SELECT slug, name, description, fields FROM platform.secret_types ORDER BY slug")


def list_secrets(auth: AuthContext, app_slug: str, *, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    get_app(auth.tenant_id, app_slug)
    return scoped.tenant(auth.tenant_id).page(
        f"SELECT {_META_COLUMNS} FROM platform.secrets WHERE app_slug = :a ORDER BY key",
        limit=limit, offset=offset, a=app_slug,
    )


def get_meta(auth: AuthContext, app_slug: str, key: str) -> dict[str, Any]:
    row = scoped.tenant(auth.tenant_id).query_one(
        f"SELECT {_META_COLUMNS}, secret_name FROM platform.secrets WHERE app_slug = :a AND key = :k",
        a=app_slug, k=key,
    )
    if row is None:
        raise NotFound(f"secret '{key}' not found in app '{app_slug}'")
    row.pop("secret_name")
    return row


def create(auth: AuthContext, app_slug: str, body: SecretCreate) -> dict[str, Any]:
    get_app(auth.tenant_id, app_slug)
    value = validate_value(body.type_slug, body.value)
    if db.query_one("SELECT 1 FROM platform.secret_types WHERE slug = :s", s=body.type_slug) is None:
        raise SecretResolutionError("Secret type not found: run the tenant seeder (telltale migrate)")
    name = secrets.secret_name(auth.tenant_id, app_slug, body.key)
    # Claim the key first so that two concurrent creates cannot both write the secret.
    scope = scoped.tenant(auth.tenant_id)
    with db.transaction() as tx:
        claimed = scope.run(
            tx, "INSERT INTO platform.secrets (app_slug, key, type_slug, secret_name, secret_arn, description,"
                " created_by) VALUES (:a, :k, :ty, :n, '', :d, :u) ON CONFLICT DO NOTHING RETURNING key",
            a=app_slug, k=body.key, ty=body.type_slug, n=name, d=body.description, u=auth.user_id,
        )
        if not claimed:
            raise Conflict(f"a secret with key '{body.key}' already exists in app '{app_slug}'; "
                           "choose another key or update it with PUT")
        arn = secrets.put_secret_json(name, value, tags={"tenant": auth.tenant_id, "app": app_slug})
        scope.run(tx, "UPDATE platform.secrets SET secret_arn = :arn WHERE app_slug = :a AND key = :k",
                  arn=arn, a=app_slug, k=body.key)
    from telltale.platform import outbox

    # The internal event outbox (spec 004): the platform's own events land in the tenant's event store.
    outbox.publish(auth.tenant_id, "secret.created", actor_id=auth.user_id, entity_type="SECRET",
                   entity_id=f"{app_slug}/{body.key}", attributes={"app": app_slug, "type": body.type_slug})
    return get_meta(auth, app_slug, body.key)


def update(auth: AuthContext, app_slug: str, key: str, body: SecretUpdate | SecretPatch) -> dict[str, Any]:
    """PUT (a rotation: the value, and the description if given) and PATCH (either, or both)."""
    scope = scoped.tenant(auth.tenant_id)
    meta = scope.query_one("SELECT type_slug, secret_name FROM platform.secrets WHERE app_slug = :a AND key = :k",
                           a=app_slug, k=key)
    if meta is None:
        raise NotFound(f"secret '{key}' not found in app '{app_slug}'")
    if body.value is not None:  # validated whole before anything is written
        secrets.put_secret_json(meta["secret_name"], validate_value(meta["type_slug"], body.value))
    scope.query(
        "UPDATE platform.secrets SET updated_at = now(), description = COALESCE(:d, description)"
        " WHERE app_slug = :a AND key = :k",
        d=body.description, a=app_slug, k=key,
    )
    return get_meta(auth, app_slug, key)


def delete(auth: AuthContext, app_slug: str, key: str) -> None:
    # Value first, metadata last, each step safe to repeat: db.query may re-send a statement after a
    # dropped connection, and a DELETE ... RETURNING re-sent after it committed would find nothing and
    # leave the value behind. If this stops half way, the metadata remains and a second DELETE finishes.
    scope = scoped.tenant(auth.tenant_id)
    meta = scope.query_one("SELECT secret_name FROM platform.secrets WHERE app_slug = :a AND key = :k",
                           a=app_slug, k=key)
    if meta is None:
        raise NotFound(f"secret '{key}' not found in app '{app_slug}'")
    secrets.delete_secret(meta["secret_name"])
    scope.query("DELETE FROM platform.secrets WHERE app_slug = :a AND key = :k", a=app_slug, k=key)
