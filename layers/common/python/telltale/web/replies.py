"""Reply bodies and the API Gateway HTTP API (payload 2.0) event, without a router.

``telltale.web.http`` builds its Powertools resolver on these. A function that serves a single route can
use :func:`single_route` instead and skip the resolver altogether: API Gateway has matched the route and
put the path parameters in the event, and Powertools' event-handler package is a large share of a
cold start's imports (``execute_query``, the latency-sensitive one, does this; the figure is in
benchmarks/README.md, "Figures the code relies on").
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from telltale.platform.errors import NotFound, TelltaleError, ValidationError
from telltale.platform.log import logger

JSON = "application/json"


def to_json(value: Any) -> Any:
    """JSON for the types our rows hold: ISO 8601 times (UTC as "Z"), exact decimals as numbers."""
    import datetime as dt
    import decimal
    import uuid

    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() == dt.timedelta(0):
            return value.replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def dumps(body: Any) -> str:
    return json.dumps(body, default=to_json)


def envelope(data: Any = None, *, message: str = "Data retrieved successfully", total: int | None = None,
             **extra: Any) -> dict[str, Any]:
    """The ``{status, message, data, total}`` envelope of spec 000 (and the platform's own APIs)."""
    body: dict[str, Any] = {"status": "success", "message": message}
    if data is not None:
        body["data"] = data
    if total is not None:
        body["total"] = total
    body.update(extra)
    return body


def log_error(exc: TelltaleError) -> None:
    """One log line per error reply: server faults as errors, client mistakes as info (no values)."""
    if exc.status_code >= 500:
        logger.error("request failed", extra={"code": exc.code, "error": exc.message})
    else:
        logger.info("request rejected", extra={"code": exc.code, "status": exc.status_code})


# The bounds of every JSON request body (the API description's info says them too; describe.py). 5 MiB keeps
# an event with its headers under Lambda's 6 MB synchronous payload, and holds a full ingest batch of
# ordinary events (telltale.events.models.MAX_BATCH); no request model nests past a handful of levels, and
# 64 keeps every walk of a body (ours, pydantic's, json.dumps when a value is stored) far from Python's
# recursion limit, which a body nested ~1,000 deep used to reach (a 500, or a 400, by the stack's depth).
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_BODY_DEPTH = 64
BODY_TOO_LARGE = f"must be at most {MAX_BODY_BYTES:,} bytes (5 MiB) of JSON"
BODY_TOO_DEEP = f"must not nest arrays and objects more than {MAX_BODY_DEPTH} levels deep"


def parse_json_body(raw: str | bytes | None, *, refuse_unstorable: bool = True,
                    max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The request body as JSON; None when there is none; a 400 that says why when it is not JSON, not
    UTF-8, larger than :data:`MAX_BODY_BYTES`, nested deeper than :data:`MAX_BODY_DEPTH`, or when a string
    in it holds the NUL character (PostgreSQL's text and jsonb cannot store it: every route would
    otherwise answer 500 when it writes the value; ``refuse_unstorable=False`` for a reader that drops such
    a value itself). ``max_bytes``: a route that takes more than the others (the api-analytics clients'
    minute of requests)."""
    if not raw:
        return None
    if _utf8_size(raw, max_bytes) > max_bytes:
        if max_bytes == MAX_BODY_BYTES:
            raise ValidationError(f"the body is larger than {MAX_BODY_BYTES:,} bytes (5 MiB), the most a request may"
                                  " send", errors={"body": [BODY_TOO_LARGE]})
        raise ValidationError(f"the body is larger than {max_bytes:,} bytes, the most this route takes",
                              errors={"body": [f"must be at most {max_bytes:,} bytes of JSON"]})
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = raw.decode()
        except UnicodeDecodeError as exc:
            raise ValidationError(f"the body is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                                  "send JSON encoded as UTF-8", errors={"body": ["must be UTF-8 text"]}) from None
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # json's C parser stops at the interpreter's recursion limit, ~1,000 levels
        body = _TOO_DEEP
    if body is _TOO_DEEP or _deeper_than(body, MAX_BODY_DEPTH, text):
        raise ValidationError(f"the body nests arrays and objects more than {MAX_BODY_DEPTH} levels deep, "
                              "the most a request may", errors={"body": [BODY_TOO_DEEP]})
    # JSON can carry NUL only as its \\u0000 escape, and a lone UTF-16 surrogate (not Unicode: no UTF-8 text,
    # so no database or queue, can hold it) only as an unpaired \\ud800-\\udfff one: most bodies skip the walk.
    if refuse_unstorable and ("\\u0000" in text or _SURROGATE_ESCAPE.search(text)):
        found = _unstorable_path(body, "")
        if found is not None:
            where, nul = found
            if nul:
                raise ValidationError("the body holds a NUL character (\\u0000), which cannot be stored",
                                      errors={where or "body": ["must not contain the NUL character (\\u0000)"]})
            raise ValidationError("the body holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape outside a pair), "
                                  "which is not Unicode and cannot be stored",
                                  errors={where or "body": ["must not contain a lone surrogate (\\ud800-\\udfff)"]})
    return body


_TOO_DEEP = object()


def _utf8_size(raw: str | bytes, limit: int = MAX_BODY_BYTES) -> int:
    """The body's size in UTF-8 bytes, without encoding a text that is surely small enough (<= 4 bytes a
    character) or surely too large (>= 1 byte a character)."""
    if isinstance(raw, bytes) or len(raw) > limit or 4 * len(raw) <= limit:
        return len(raw)
    return len(raw.encode("utf-8", "surrogatepass"))


def _deeper_than(body: Any, limit: int, text: str) -> bool:
    """Whether the parsed ``body`` nests arrays and objects more than ``limit`` levels, walked one level at
    a time (no recursion). A text with no more than ``limit`` brackets cannot be that deep: most bodies
    skip the walk. Measured against the alternative, a scan of the text's brackets outside strings before
    json.loads: benchmarks/web_json_bounds.py."""
    if text.count("[") + text.count("{") <= limit:
        return False
    level = [body]
    for _ in range(limit):
        inner: list[Any] = []
        for value in level:
            for item in value.values() if type(value) is dict else value if type(value) is list else ():
                if type(item) is dict or type(item) is list:
                    inner.append(item)
        if not inner:
            return False
        level = inner
    return True


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _unstorable(text: str) -> bool | None:
    """True for a NUL in ``text``, False for a lone surrogate, None when it can be stored."""
    if "\x00" in text:
        return True
    if text.isascii():
        return None
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return None


def _unstorable_path(value: Any, path: str) -> tuple[str, bool] | None:
    """The dotted path (``config.name``, ``tables.2``) of the first string or key that holds a NUL or a lone
    surrogate, and whether it is a NUL. Recursive: the body is at most MAX_BODY_DEPTH deep by now."""
    if isinstance(value, str):
        kind = _unstorable(value)
        return None if kind is None else (path, kind)
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key).replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode()
            inner = f"{path}.{name}" if path else name
            kind = _unstorable(str(key))
            if kind is not None:
                return inner, kind
            found = _unstorable_path(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _unstorable_path(item, f"{path}.{i}" if path else str(i))
            if found is not None:
                return found
    return None


def event_json_body(event: dict[str, Any]) -> Any:
    raw = event.get("body")
    if raw and event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw)
        except ValueError:
            raise ValidationError("the body is not valid base64") from None
    return parse_json_body(raw)


def lambda_reply(status: int, body: Any) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) reply with a JSON body."""
    return {"statusCode": status, "headers": {"Content-Type": JSON}, "body": dumps(body),
            "isBase64Encoded": False}


Route = Callable[[dict[str, Any], dict[str, str]], tuple[int, Any]]


def single_route(route: Route) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda handler for a function behind exactly one API Gateway route.

    ``route(event, path_parameters)`` returns ``(status, body)`` and raises :class:`TelltaleError` for
    anything the client should hear about, mapped exactly as the Powertools resolver maps it. Anything
    else propagates, so Lambda reports the invocation as failed and API Gateway answers 500.
    """

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        path_parameters = event.get("pathParameters") or {}
        try:
            if not isinstance(path_parameters, dict):
                raise NotFound("no such route")
            status, body = route(event, path_parameters)
        except TelltaleError as exc:
            log_error(exc)
            return lambda_reply(exc.status_code, exc.to_body())
        return lambda_reply(status, body)

    return handler
