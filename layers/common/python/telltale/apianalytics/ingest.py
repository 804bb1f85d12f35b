"""Request-batch ingestion: validate, apply the privacy level, enrich, and store in one statement.

Direct write, not a queue: the middleware already is the buffer (it batches, retries with backoff and
drops oldest when it must), enrichment is in-process and fast, and writing before answering lets the
reply say truthfully what was stored. It also means that at privacy level 1 the raw IP is only ever in
memory: it is turned into a country and dropped before anything is persisted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, field_validator

from telltale.apianalytics import enrich
from telltale.apianalytics.keys import ApiKey
from telltale.platform.errors import ValidationError

MAX_BATCH = 5000
# Any HTTP method token (WebDAV's PROPFIND, custom verbs), not just the common nine.
METHOD_RE = re.compile(r"^[A-Z][A-Z-]{0,19}$")


class RequestRecord(BaseModel):
    path: str = Field(min_length=1, max_length=2048)
    method: str = Field(json_schema_extra={"pattern": METHOD_RE.pattern})
    status: int = Field(ge=100, le=599)
    response_time: int = Field(ge=0, le=86_400_000, description="milliseconds")
    created_at: datetime = Field(description="within the past year (366 days) and at most a day ahead")
    hostname: str | None = Field(default=None, max_length=255)
    # The whole X-Forwarded-For list may come (the spec's mapper returns it); only its first entry is kept.
    ip_address: str | None = Field(default=None, max_length=4096)
    # Parsed into browser and OS, then dropped: spec 002 records those, not the raw string.
    user_agent: str | None = Field(default=None, max_length=1024)
    user_id: str | None = Field(default=None, max_length=255)

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        m = v.strip().upper()
        if not METHOD_RE.match(m):
            raise ValueError("must be an HTTP method such as GET or POST")
        return m

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, v: str | None) -> str | None:
        # A mapper's value (X-Forwarded-For: "unknown", say) that is not an address costs only this
        # field: the record is stored without an IP (and so without a country) rather than the whole
        # batch being refused, which the client could only drop.
        if not v:
            return None
        # An X-Forwarded-For list, as the spec's own mapper example returns: the client is first.
        return enrich.normal_ip(v.split(",", 1)[0])

    @field_validator("created_at")
    @classmethod
    def _time(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        now = datetime.now(UTC)
        if v > now + timedelta(days=1):
            raise ValueError("is in the future")
        if v < now - timedelta(days=366):
            raise ValueError("is more than a year old")
        return v


class RequestBatch(BaseModel):
    framework: str = Field(default="", max_length=50)
    privacy_level: int = Field(default=0, ge=0, le=2)
    requests: list[RequestRecord] = Field(max_length=MAX_BATCH)


def rows_for(batch: RequestBatch) -> list[dict[str, Any]]:
    """The rows to store, with the privacy level applied (the server enforces it too, whatever the
    client did: level 1 stores no IP, level 2 neither uses nor stores it)."""
    return rows_of(batch.requests, batch.privacy_level, batch.framework)


def rows_of(records: list[RequestRecord], privacy_level: int, framework: str) -> list[dict[str, Any]]:
    out = []
    for r in records:
        ip = r.ip_address if privacy_level < 2 else None
        location = enrich.country(ip) if ip else None
        browser, os_name = enrich.browser_and_os(r.user_agent)
        out.append({
            "created_at": r.created_at.astimezone(UTC),
            # An empty hostname is no hostname: the rollups key by it, and keep one spelling of "none".
            "hostname": r.hostname or None,
            "ip_address": ip if privacy_level == 0 else None,
            "path": r.path,
            "method": r.method,
            "status": r.status,
            "response_time": r.response_time,
            "browser": browser,
            "os": os_name,
            "location": location,
            "user_id": r.user_id,
            "framework": framework or None,
        })
    return out


def store(key: ApiKey, batch: RequestBatch) -> int:
    return store_records(key, batch.requests, batch.privacy_level, batch.framework)


def store_records(key: ApiKey, records: list[RequestRecord], privacy_level: int, framework: str) -> int:
    """Store ``records`` in the tenant's request-log store, whole or (on a database error) not at all."""
    if not records:
        return 0
    from telltale.apianalytics import stores

    rows = rows_of(records, privacy_level, framework)
    if stores.moving(key.tenant_id):
        return _store_while_moving(key, rows)
    return stores.store_for(key.tenant_id).insert(key, rows)


def _store_while_moving(key: ApiKey, rows: list[dict[str, Any]]) -> int:
    """During a move: PostgreSQL (still the one read) first, then ClickHouse with PostgreSQL's ids, so the
    move's copy knows these rows are there. A ClickHouse failure here costs nothing: the copy brings what
    ClickHouse lacks, by id."""
    from telltale.apianalytics.stores.clickhouse import ClickHouseRequestStore
    from telltale.apianalytics.stores.postgres import PostgresRequestStore
    from telltale.platform.log import logger

    ids = PostgresRequestStore().insert_returning_ids(key, rows)
    try:
        ClickHouseRequestStore().insert(key, rows, ids=ids)
    except Exception as exc:  # noqa: BLE001 - see above
        logger.warning("request log: the move's second write failed; the copy will bring the rows",
                       extra={"tenant": key.tenant_id, "error": str(exc)[:300]})
    return len(rows)


def _rows_to_requests(body: dict[str, Any]) -> dict[str, Any]:
    """The columnar form ``{fields: [...], rows: [[...], ...]}`` (what telltale-client sends: names once,
    not once per request) as the ``requests`` form."""
    fields, rows = body.get("fields"), body.get("rows")
    known = set(RequestRecord.model_fields)
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f in known for f in fields) \
            or len(set(fields)) != len(fields):
        raise ValidationError("the request batch is invalid; see errors for each field",
                              errors={"fields": [f"must list distinct field names from: {', '.join(sorted(known))}"]})
    if not isinstance(rows, list):
        raise ValidationError("the request batch is invalid; see errors for each field",
                              errors={"rows": ["must be an array of arrays"]})
    bad = {f"rows.{i}": [f"must be an array of {len(fields)} values, one per field"]
           for i, row in enumerate(rows) if not isinstance(row, list) or len(row) != len(fields)}
    if bad:
        raise ValidationError("the request batch is invalid; see errors for each field", errors=bad)
    rest = {k: v for k, v in body.items() if k not in ("fields", "rows")}
    return {**rest, "requests": [dict(zip(fields, row, strict=True)) for row in rows]}


def parse_batch(body: Any) -> RequestBatch:
    from pydantic import ValidationError as PydanticValidationError

    from telltale.platform.errors import pydantic_errors

    if body is None:
        raise ValidationError("a JSON body is required: {framework, privacy_level, requests: [...]}")
    if isinstance(body, list):  # a bare list of records is accepted too
        body = {"requests": body}
    columnar = isinstance(body, dict) and "rows" in body
    if columnar:
        body = _rows_to_requests(body)
    try:
        return RequestBatch.model_validate(body)
    except PydanticValidationError as exc:
        errors = pydantic_errors(exc)
        if columnar:  # name the row the client sent, not the record it became
            errors = {("rows" + k[len("requests"):]) if k.startswith("requests") else k: v
                      for k, v in errors.items()}
        raise ValidationError("the request batch is invalid; see errors for each field", errors=errors) from None
