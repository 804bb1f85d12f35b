"""The caller's identity, taken from the JWT claims that API Gateway's authorizer verified.

Deployed, the HTTP API's JWT authorizer checks signature, issuer, audience and expiry and passes the
claims in ``requestContext.authorizer.jwt.claims`` (every value a string). The local gateway checks the
same rules and builds the same event, so handlers read identity one way.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from telltale.platform.config import get_settings
from telltale.platform.errors import Forbidden, Unauthorized

TENANT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
TENANT_HEADER = "x-tenant-uuid"


@dataclass(frozen=True)
class AuthContext:
    tenant_id: str
    user_id: str
    username: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    is_staff: bool = False
    is_superuser: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def user_profile(self) -> dict[str, Any]:
        """The ``secret.user_profile`` a saved-query template may read."""
        return {
            "id": self.user_id,
            "username": self.username,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "is_staff": self.is_staff,
            "is_superuser": self.is_superuser,
        }


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes"}


def from_claims(claims: dict[str, Any]) -> AuthContext:
    tenant = str(claims.get(get_settings().tenant_claim) or "")
    if not tenant:
        raise Forbidden("the token carries no tenant; ask for a token issued for a tenant")
    if not TENANT_ID_RE.match(tenant):
        raise Forbidden("the token's tenant id must be letters, digits and '-' (at most 63)")
    user_id = str(claims.get("sub") or "")
    if not user_id:
        raise Unauthorized("the token carries no subject")
    return AuthContext(
        tenant_id=tenant,
        user_id=user_id,
        username=str(claims.get("username") or claims.get("preferred_username")
                     or claims.get("cognito:username") or ""),
        email=str(claims.get("email") or ""),
        first_name=str(claims.get("given_name") or ""),
        last_name=str(claims.get("family_name") or ""),
        is_staff=_truthy(claims.get("is_staff", "false")),
        is_superuser=_truthy(claims.get("is_superuser", "false")),
    )


def claims_from_event(event: dict[str, Any]) -> dict[str, Any] | None:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    jwt = authorizer.get("jwt") or {}
    claims = jwt.get("claims")
    return claims if isinstance(claims, dict) else None


def from_event(event: dict[str, Any]) -> AuthContext:
    claims = claims_from_event(event)
    if claims is None:
        raise Unauthorized("missing or invalid bearer token")
    auth = from_claims(claims)
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    check_tenant(auth, headers.get(TENANT_HEADER), where=f"the {TENANT_HEADER} header")
    return auth


# Keys under which a client might name "its" tenant in a JSON body. A route whose body model declares one
# of them as data (spec 003's active-users rows carry the SaaS customer's tenant_id) is exempt for that key.
BODY_TENANT_KEYS = ("tenant_id", "tenantId", "tenant_uuid", "tenantUuid", "tenant")


def check_body_tenant(auth: AuthContext, body: Any, *, declared: Any = ()) -> Any:
    """``body`` without the keys that name a tenant, once they are found to name the token's own.

    A JSON object body that names a tenant, under a key the route does not take as data, must name the
    token's tenant: 403 otherwise, before the body is validated, so the client hears the real problem.
    Naming your own tenant says nothing new, so the key is dropped rather than refused as unknown.
    """
    if not isinstance(body, dict):
        return body
    # Only a string names a tenant; any other value is malformed, and validation says so (400).
    claimed = [key for key in BODY_TENANT_KEYS
               if key not in declared and isinstance(body.get(key), str)]
    for key in claimed:
        check_tenant(auth, body[key], where=f"the body's {key!r}")
    return {k: v for k, v in body.items() if k not in claimed} if claimed else body


def check_tenant(auth: AuthContext, claimed: Any, *, where: str) -> None:
    """A tenant named by the client (header or body) must be the token's own."""
    if claimed is not None and str(claimed) != auth.tenant_id:
        raise Forbidden(f"{where} names a tenant other than the token's; omit it or use your own tenant id")
