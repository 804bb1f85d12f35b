"""Resolving a secret: a tenant app's secret by its key, its type checked and its value read server-side.

:func:`resolve` is the one place that turns (tenant, app, key) into a secret: the query engine uses it
for a saved query's connection (when the query is saved and each time it runs) and for every
``{{ secret.key }}`` reference its template makes. "Secret not found" is one error,
:class:`SecretNotFound`, wherever it is met.

Apart from the secrets API (:mod:`telltale.secrets.service`, with its request models), so that an
execution loads no pydantic; apart from :mod:`telltale.secrets.store`, which :mod:`telltale.platform.db`
uses for its own password.
"""

from __future__ import annotations

from typing import Any

from telltale.platform import scoped
from telltale.platform.errors import NotFound, SecretResolutionError
from telltale.secrets.store import read_secret_json


class SecretNotFound(SecretResolutionError):
    """Spec 000's "Secret not found": the key names no secret of the app, or its value is gone from the
    store. A 400 (the class's status), as the spec's other setup errors: the request names something the
    caller has to create first. The secrets API's own ``/secrets/{key}/`` answers a 404 NotFound instead:
    there the secret is the resource the URL addresses."""


class ResolvedSecret:
    """A secret whose metadata exists and whose type is registered; :attr:`value` reads the value from the
    store (cached there), so a caller that needs only the type reads no value."""

    __slots__ = ("_name", "app_slug", "key", "type_slug")

    def __init__(self, app_slug: str, key: str, type_slug: str, name: str) -> None:
        self.app_slug, self.key, self.type_slug, self._name = app_slug, key, type_slug, name

    @property
    def value(self) -> dict[str, Any]:
        """The secret's value, for server-side use only; :class:`SecretNotFound` if the store lost it."""
        try:
            return read_secret_json(self._name)
        except NotFound:
            raise SecretNotFound(f"Secret not found: the value of '{self.key}' in app '{self.app_slug}' is missing"
                                 f" from the secret store; set it again with PUT .../secrets/{self.key}/") from None

    def __repr__(self) -> str:  # never a value
        return f"ResolvedSecret({self.app_slug!r}, {self.key!r}, {self.type_slug!r})"


def resolve(tenant_id: str, app_slug: str, key: str) -> ResolvedSecret:
    """The app's secret ``key``: :class:`SecretNotFound` if there is none, spec 000's "Secret type not
    found" if its type is not registered (the tenant seeder has not run)."""
    meta = scoped.tenant(tenant_id).query_one(
        "SELECT s.type_slug, s.secret_name, t.slug AS known_type FROM platform.secrets s"
        " LEFT JOIN platform.secret_types t ON t.slug = s.type_slug WHERE s.app_slug = :a AND s.key = :k",
        a=app_slug, k=key,
    )
    if meta is None:
        raise SecretNotFound(f"Secret not found: '{key}' does not exist in app '{app_slug}'; "
                             "create the secret first (Step 2)")
    if meta["known_type"] is None:
        raise SecretResolutionError(f"Secret type not found: '{meta['type_slug']}' is not registered; "
                                    "run the tenant seeder or contact your admin")
    return ResolvedSecret(app_slug, key, str(meta["type_slug"]), str(meta["secret_name"]))
