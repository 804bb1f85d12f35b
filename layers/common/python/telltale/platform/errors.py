"""Typed errors. Every error a client can cause is one of these; the resolver maps them to replies.

Messages say what to fix and never carry secret values, passwords or stack traces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class TelltaleError(Exception):
    status_code = 500
    code = "InternalError"

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None,
                 details: dict[str, Any] | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.details = details
        if status_code is not None:
            self.status_code = status_code

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "error", "code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        if self.details:
            body["details"] = self.details
        return body


class ValidationError(TelltaleError):
    status_code = 400
    code = "ValidationError"


class Unauthorized(TelltaleError):
    status_code = 401
    code = "Unauthorized"


class Forbidden(TelltaleError):
    status_code = 403
    code = "Forbidden"


class NotFound(TelltaleError):
    status_code = 404
    code = "NotFound"


class NotAcceptable(TelltaleError):
    status_code = 406
    code = "NotAcceptable"


class Conflict(TelltaleError):
    status_code = 409
    code = "Conflict"


class PayloadTooLarge(TelltaleError):
    status_code = 413
    code = "PayloadTooLarge"


class ServiceUnavailable(TelltaleError):
    status_code = 503
    code = "ServiceUnavailable"


# The saved-query surface's error codes (spec 000).
class QueryValidationError(TelltaleError):
    status_code = 400
    code = "QueryValidationError"


class QueryExecutionError(TelltaleError):
    status_code = 422
    code = "QueryExecutionError"


class SecretResolutionError(TelltaleError):
    status_code = 400
    code = "SecretResolutionError"


class ConnectorError(TelltaleError):
    status_code = 502
    code = "ConnectorError"


class OutboundBlocked(ConnectorError):
    """The target is one the outbound policy (telltale.platform.netguard) refuses: the secret's or connector's
    setting is what must change, so a 4xx, keeping spec 000's ConnectorError code; details.category says
    "not allowed"."""

    status_code = 403


def pydantic_message(err: Mapping[str, Any]) -> str:
    """One pydantic error as a client should read it: a validator's own words without pydantic's
    "Value error, " / "Assertion failed, " prefix."""
    msg = str(err.get("msg") or "invalid value")
    if err.get("type") in ("value_error", "assertion_error"):
        cause = (err.get("ctx") or {}).get("error")
        return str(cause) if cause is not None and str(cause) else msg.split(", ", 1)[-1]
    return msg


def pydantic_errors(exc: Any) -> dict[str, list[str]]:
    """Field-level messages from a pydantic ValidationError, keyed by dotted field path: every error at
    once, not the first."""
    out: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        out.setdefault(loc, []).append(pydantic_message(err))
    return out


def uuid_or_404(value: str, message: str) -> str:
    """``value`` as a canonical UUID string, or NotFound(message): an id that cannot exist is a 404, not a
    database error from the ``CAST(:id AS uuid)`` that would follow."""
    import uuid

    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(message) from None
