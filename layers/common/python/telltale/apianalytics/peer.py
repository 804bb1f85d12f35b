"""The ingestion protocol of tom-draper/api-analytics, whose framework clients (FastAPI, Flask, Django,
Tornado, Express, Gin, Actix, Rails, Laravel, ASP.NET Core, ...) POST to ``/api/log-request``.

Read off the peer's logger (``server/logger/main.go``): the body is ``{api_key, framework, privacy_level,
requests: [{path, hostname, ip_address, user_agent, method, status, response_time, user_id,
created_at}]}``, the key is in the body (no header, no JWT), and the reply is ``{"status": <code>,
"message": ...}``: 201 "API requests logged successfully.", or 400 for a body that is not that shape, no
key, no requests, or no row that could be stored. Like the peer, strings are cut at 255 characters and a
row it cannot store is skipped, not the batch refused. Unlike the peer:

- every row is stored, whatever the batch's size (the peer inserts the first 2,000 and drops the rest), in
  chunks of :data:`ingest.MAX_BATCH` in one transaction;
- a row whose field has the wrong type (``"status": "200"``) or an out-of-range number costs only that row
  (in the peer one such row fails the JSON binding of the whole batch), and is counted in the reply;
- a value that is not an IP address costs only the IP (the peer's ``cidr`` column refuses the batch);
- empty hostnames, user agents and user ids are kept as none, and text is not filtered for SQL words
  (the peer drops those rows; every statement here binds its values);
- any HTTP method token and any framework name are accepted (newer clients send frameworks the peer's
  table lacks: Starlette, Sanic, Falcon, aiohttp);
- a missing or unknown key is a 401, as for every route without its credentials (the peer answers a
  missing key with a 400, and its insert fails on an unknown one with a 400);
- the key may come in ``X-AUTH-TOKEN`` instead, as for Telltale's own routes.

Privacy levels are the peer's, enforced here whatever the client did: below 2 the country is inferred
from the IP; above 0 the IP is discarded before anything is written. A level outside 0-2 is read as the
nearest one, as the peer's comparisons read it: the client's level can only make less be stored.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from telltale.apianalytics import ingest
from telltale.apianalytics.keys import ApiKey
from telltale.platform import dates
from telltale.platform.errors import Unauthorized, ValidationError, pydantic_errors

# The peer cuts path, hostname, user agent and user id to 255 before storing (its columns' size).
STRING_LIMIT = 255
FRAMEWORK_LIMIT = 50
# How many skipped rows the reply names (the count is always whole).
REPORTED_ERRORS = 20
SUCCESS = "API requests logged successfully."
# Control characters other than tab and line breaks: the peer skips rows with them (and PostgreSQL text
# cannot hold NUL at all).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class PeerRequest(BaseModel):
    """One logged request, as the peer's clients send it (for the API description)."""

    path: str
    hostname: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    method: str
    status: int
    response_time: int = Field(description="milliseconds")
    user_id: str | None = None
    created_at: str = Field(description="ISO 8601, with or without an offset (without one: UTC)")


class PeerPayload(BaseModel):
    """The body the peer's clients POST to /api/log-request (for the API description)."""

    api_key: str | None = Field(default=None, description="the API key (or send it in X-AUTH-TOKEN)")
    framework: str
    privacy_level: int = 0
    requests: list[PeerRequest]


@dataclass
class Batch:
    api_key: str
    framework: str
    privacy_level: int
    records: list[ingest.RequestRecord] = field(default_factory=list)
    total: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)
    n_skipped: int = 0

    def skip(self, index: int, reason: str) -> None:
        self.n_skipped += 1
        if len(self.skipped) < REPORTED_ERRORS:
            self.skipped[f"requests.{index}"] = [reason]


def _invalid(message: str) -> ValidationError:
    return ValidationError(f"Invalid request data. {message}")


def _header_key(headers: dict[str, str] | None) -> str:
    for k, v in (headers or {}).items():
        if k.lower() == "x-auth-token":
            return (v or "").strip()
    return ""


# The peer's Python client posts a whole minute of requests at once: this route takes what Lambda does
# (6 MB, 6,291,456 bytes, for the whole synchronous invocation, less 40 KB for the rest of the event),
# not the platform's 5 MiB: about 20,000 requests from the Python client.
MAX_BODY_BYTES = 6_250_000


def body_of(event: dict[str, Any]) -> Any:
    """The JSON body of an API Gateway event, within the platform's bounds (size, depth, UTF-8). Unlike the
    platform's reader, a NUL in a string is not a 400 for the whole body here: it costs only the row it is
    in (see :func:`read`)."""
    from telltale.web.replies import parse_json_body

    raw = event.get("body")
    if raw in (None, "", b""):
        return None
    try:
        if event.get("isBase64Encoded"):
            raw = base64.b64decode(raw)
        return parse_json_body(raw, refuse_unstorable=False, max_bytes=MAX_BODY_BYTES)
    except ValueError as exc:  # base64
        raise _invalid(f"The body is not valid JSON: {exc}") from None
    except ValidationError as exc:
        raise _invalid(exc.message[:1].upper() + exc.message[1:]) from None


def api_key_of(body: Any, headers: dict[str, str] | None, unreadable: ValidationError | None = None) -> str:
    """The key a batch is sent with: checked first, so that nothing else of a body is judged (or told)
    without it. A 401 when there is none, even when the body could not be read (``unreadable``): a
    caller without a key learns nothing about what the route accepts."""
    api_key = body.get("api_key") if isinstance(body, dict) else None
    if api_key is not None and not isinstance(api_key, str):
        raise Unauthorized("API key required: api_key must be a string")
    # The peer strips quotes from the key (a key pasted with its quotes still works).
    api_key = (api_key or "").replace('"', "").strip() or _header_key(headers)
    if not api_key and unreadable is not None:
        raise Unauthorized("API key required: the body is not readable JSON, so send the key in the "
                           "X-AUTH-TOKEN header (or as api_key in a JSON body)")
    if not api_key:
        raise Unauthorized("API key required: send it as api_key in the body (or in the X-AUTH-TOKEN header)")
    return api_key


def read(body: Any, headers: dict[str, str] | None) -> Batch:
    """The batch, its rows validated one by one: what cannot be stored is skipped and counted. A 400 for
    what the peer refuses whole (no body, no requests, no framework); a 401 without a key."""
    api_key = api_key_of(body, headers)
    if body is None:
        raise _invalid("A JSON body is required: {api_key, framework, privacy_level, requests: [...]}")
    if not isinstance(body, dict):
        raise _invalid("The body must be a JSON object: {api_key, framework, privacy_level, requests: [...]}")
    level = body.get("privacy_level", 0)
    if level is None:
        level = 0
    if isinstance(level, bool) or not isinstance(level, int):
        raise _invalid("privacy_level must be 0, 1 or 2")
    framework = body.get("framework")
    if not isinstance(framework, str) or not framework.strip() or _CONTROL.search(framework):
        raise ValidationError("Unsupported API framework: framework must name the client's framework, e.g. Flask")
    requests = body.get("requests")
    if requests is not None and not isinstance(requests, list):
        raise _invalid("requests must be an array of logged requests")
    if not requests:
        raise ValidationError("Payload contains no logged requests.")
    batch = Batch(api_key=api_key, framework=framework.strip()[:FRAMEWORK_LIMIT],
                  privacy_level=min(max(level, 0), 2), total=len(requests))
    for i, raw in enumerate(requests):
        record = _record(raw)
        if isinstance(record, str):
            batch.skip(i, record)
        else:
            batch.records.append(record)
    return batch


def _number(v: Any) -> int | None:
    """An integer from a JSON number (200 or 200.0; a response time of 12.7 ms rounds), else None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v == v and abs(v) < 1e12:
        return round(v)
    return None


def _record(raw: Any) -> ingest.RequestRecord | str:
    """The row as a record, or why it cannot be stored."""
    if not isinstance(raw, dict):
        return "must be an object: {path, method, status, response_time, created_at, ...}"
    values: dict[str, Any] = {}
    for name in ("path", "hostname", "user_agent", "user_id"):
        v = raw.get(name)
        if name == "user_id" and isinstance(v, int) and not isinstance(v, bool):
            v = str(v)  # a mapper returning a numeric id
        if v is None or v == "":
            continue
        if not isinstance(v, str):
            return f"{name} must be a string"
        if _CONTROL.search(v):
            return f"{name} must not contain control characters"
        values[name] = v[:STRING_LIMIT]
    if "path" not in values:
        return "path is required"
    ip = raw.get("ip_address")
    # Not an address (or not a string): the record is kept without one, as /api/requests does.
    values["ip_address"] = ip[:4096] if isinstance(ip, str) else None
    method = raw.get("method")
    if not isinstance(method, str):
        return "method must be a string such as GET"
    values["method"] = method
    for name in ("status", "response_time"):
        n = _number(raw.get(name))
        if n is None:
            return f"{name} must be a number"
        values[name] = n
    created = raw.get("created_at")
    try:
        values["created_at"] = _time(created)
    except ValueError as exc:
        return f"created_at {exc}"
    try:
        return ingest.RequestRecord.model_validate(values)
    except PydanticValidationError as exc:
        return "; ".join(f"{k} {' '.join(v)}" for k, v in pydantic_errors(exc).items())


def _time(raw: Any) -> datetime:
    """``created_at`` as the peer's database reads it: ISO 8601 with an offset, or without one in the
    server's zone (UTC)."""
    if not isinstance(raw, str):
        raise ValueError("must be an ISO 8601 timestamp string")
    return dates.timestamp(raw.strip())


def store(key: ApiKey, batch: Batch) -> int:
    return ingest.store_records(key, batch.records, batch.privacy_level, batch.framework)


def reply(status: int, message: str, **extra: Any) -> dict[str, Any]:
    """The peer's reply body: ``{"status": <HTTP status>, "message": ...}`` (plus what Telltale adds)."""
    return {"status": status, "message": message, **{k: v for k, v in extra.items() if v is not None}}


def success_reply(batch: Batch, stored: int) -> dict[str, Any]:
    return reply(201, SUCCESS, stored=stored, skipped=batch.n_skipped, errors=batch.skipped or None)


def nothing_stored(batch: Batch) -> ValidationError:
    return ValidationError(f"Invalid request data. None of the {batch.total} logged requests could be stored;"
                           " see errors", errors=batch.skipped)
