"""A tenant app's secret by its key: type and value together, for server-side use only (the query engine
resolves a saved query's connection and its ``{{ secret.key }}`` references with it).

Apart from the secrets API (:mod:`telltale.secrets.service`, with its request models), so that an execution
loads no pydantic; apart from :mod:`telltale.secrets.store`, which :mod:`telltale.platform.db` uses for its own
password.
"""

from __future__ import annotations

from typing import Any

from telltale.platform import scoped
from telltale.platform.errors import NotFound, SecretResolutionError
from telltale.secrets.store import read_secret_json


def resolve_value(tenant_id: str, app_slug: str, key: str) -> tuple[str, dict[str, Any]]:
    """(type slug, value) of a secret, for server-side use only; SecretResolutionError if absent."""
    meta = scoped.tenant(tenant_id).query_one(
        "SELECT s.type_slug, s.secret_name, t.slug AS known_type FROM platform.secrets s"
        " LEFT JOIN platform.secret_types t ON t.slug = s.type_slug WHERE s.app_slug = :a AND s.key = :k",
        a=app_slug, k=key,
    )
    if meta is None:
        raise SecretResolutionError(f"Secret not found: '{key}' does not exist in app '{app_slug}'; create it first",
                                    status_code=404)
    if meta["known_type"] is None:
        raise SecretResolutionError("Secret type not found: run the tenant seeder or contact your admin")
    try:
        value = read_secret_json(meta["secret_name"])
    except NotFound:
        raise SecretResolutionError(f"Secret not found: the value of '{key}' is missing from the secret store",
                                    status_code=404) from None
    return str(meta["type_slug"]), value
