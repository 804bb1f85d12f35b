"""Local identity: an RSA key pair in the data folder, tokens signed with it, and the same checks the
deployed JWT authorizer makes (signature, issuer, audience, expiry)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt

LOCAL_ISSUER = "https://telltale.local/issuer"
LOCAL_AUDIENCE = "telltale"


def _key_paths(data_dir: Path) -> tuple[Path, Path]:
    return data_dir / "jwt-private.pem", data_dir / "jwt-public.pem"


def ensure_keys(data_dir: Path) -> tuple[bytes, bytes]:
    private_path, public_path = _key_paths(data_dir)
    if not private_path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        data_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
        private_path.chmod(0o600)
        public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path.read_bytes(), public_path.read_bytes()


def mint(data_dir: Path, *, tenant: str, user: str = "user-1", email: str | None = None, staff: bool = False,
         ttl_seconds: int = 12 * 3600, extra: dict[str, Any] | None = None, issuer: str = LOCAL_ISSUER,
         audience: str = LOCAL_AUDIENCE) -> str:
    private, _ = ensure_keys(data_dir)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer, "aud": audience, "sub": user, "iat": now, "nbf": now, "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()), "tenant_id": tenant, "username": user,
        "email": email or f"{user}@{tenant}.example", "is_staff": staff, "is_superuser": False,
    }
    claims.update(extra or {})
    return jwt.encode(claims, private, algorithm="RS256")


class TokenRejected(Exception):
    """Why a token was refused, in words that name what to fix and never quote the token."""


def _reason(exc: Exception, issuer: str, audience: str) -> str:
    import jwt

    if isinstance(exc, jwt.ExpiredSignatureError):
        return "the token has expired; get a new one"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "the token is not valid yet (nbf or iat in the future)"
    if isinstance(exc, jwt.InvalidAudienceError):
        return f"the token's audience (aud) is not {audience}"
    if isinstance(exc, jwt.InvalidIssuerError):
        return f"the token was not issued by {issuer} (iss)"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token has no {exc.claim} claim"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "the token's signature does not verify: it was signed by another key"
    if isinstance(exc, jwt.InvalidAlgorithmError):
        return "the token is not signed with RS256"
    if isinstance(exc, jwt.DecodeError):
        return "the token is not a well-formed JWT"
    return "the token is invalid"


def verify(public_key: bytes, token: str, *, issuer: str = LOCAL_ISSUER,
           audience: str = LOCAL_AUDIENCE) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, public_key, algorithms=["RS256"], audience=audience, issuer=issuer,
            options={"require": ["exp", "iss", "aud", "sub"]}, leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise TokenRejected(_reason(exc, issuer, audience)) from None
    return claims


def as_authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """API Gateway passes every claim as a string; lists become "[a b]"."""
    out: dict[str, str] = {}
    for k, v in claims.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, list):
            out[k] = "[" + " ".join(str(i) for i in v) + "]"
        else:
            out[k] = str(v)
    return out
