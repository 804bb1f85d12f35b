"""Saved queries: CRUD, save-time validation, and secure execution with a record of every run.

Execution, in order (each step assumes the one before it failed): resolve the driver from the secret's
type (or the internal driver), render the template in the sandbox with parameters escaped for where they
land, check the result with the guard for the driver's dialect (no connection is opened before this), then
run it through the connector in a read-only session with timeouts and a row cap.
"""

from __future__ import annotations

import re
import secrets as _random
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from telltale import sources
from telltale.connectors.base import Limits, Prepared, Result, redact
from telltale.platform import db, outbox, scoped
from telltale.platform.errors import NotFound, QueryValidationError, SecretResolutionError, TelltaleError
from telltale.platform.tenancy import get_app, schema_for
from telltale.queries import es_guard, guard, render
from telltale.sources import Source
from telltale.web.auth import AuthContext

if TYPE_CHECKING:  # the CRUD's request models; execution (execute_query's cold start) does without pydantic
    from telltale.queries.models import QueryCreate, QueryUpdate
    from telltale.secrets.lookup import ResolvedSecret

_COLUMNS = ("id, name, slug, description, connection_type, secret_key, query_text, tags, created_at, updated_at")
_SLUG_MAX = 80


def slugify(name: str) -> str:
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:_SLUG_MAX].strip("-")
    return slug or "query"


def _row(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["id"] = str(row["id"])
    row["tags"] = list(row.get("tags") or [])
    return row


def _connection_secret(auth: AuthContext, app_slug: str, secret_key: str) -> ResolvedSecret:
    """The query's own secret, resolved as every secret is (telltale.secrets.lookup); its errors name the
    ``secret_key`` field, the same when the query is saved and when it runs."""
    from telltale.secrets.lookup import resolve

    try:
        return resolve(auth.tenant_id, app_slug, secret_key)
    except SecretResolutionError as exc:
        exc.errors = exc.errors or {"secret_key": [exc.message]}
        raise


def _check_connection(connection_type: str, secret_key: str | None) -> None:
    if connection_type == "external" and not secret_key:
        raise QueryValidationError("secret_key is required for external queries",
                                   errors={"secret_key": ["required when connection_type is external"]})
    if connection_type == "internal" and secret_key:
        raise QueryValidationError("secret_key must be null or omitted for internal queries",
                                   errors={"secret_key": ["must be null or omitted when connection_type is internal"]})


def _source(auth: AuthContext, app_slug: str, connection_type: str, secret_key: str | None) -> Source:
    if connection_type == "internal":
        return sources.get(sources.INTERNAL)
    return sources.by_secret_type(_connection_secret(auth, app_slug, str(secret_key)).type_slug)


def validate_template(auth: AuthContext, app_slug: str, text: str, source: Source) -> None:
    """Save-time checks: the template's own rules, then the guard on it rendered with probe values (every
    variable and secret stands in as "1", so where a secret is used is checked now, not at the first run)."""
    internal = source.slug == sources.INTERNAL
    rendered = render.render(text, {}, language=source.language, user_profile=auth.user_profile(),
                             resolve_secret=None if internal else (lambda key: {}), probe=True)
    _statement(auth, app_slug, source, rendered, {}, "*")


def _statement(auth: AuthContext, app_slug: str, source: Source, rendered: render.Rendered, config: dict[str, Any],
               index: str) -> Prepared:
    """What the connector runs: the checked search body, or the SQL generated from the checked tree."""
    if source.sql is None:
        body = es_guard.check(render.to_json_text(rendered), index)
        return Prepared(text="", config=config, body=render.place_json_secrets(body, rendered))
    internal = source.slug == sources.INTERNAL
    scope = guard.Internal(schema_for(auth.tenant_id), app_slug) if internal else None
    statement = guard.prepare(rendered, source.sql, internal=scope)
    return Prepared(text=statement.sql, config=config, params=statement.params,
                    tenant_schema=scope.schema if scope else None, tenant_id=auth.tenant_id if scope else None,
                    app_slug=app_slug if scope else None)


def _unique_slug(auth: AuthContext, app_slug: str, name: str, *, exclude_id: str | None = None) -> str:
    base = slugify(name)
    taken = {r["slug"] for r in scoped.tenant(auth.tenant_id).query(
        "SELECT slug FROM platform.saved_queries WHERE app_slug = :a"
        " AND (slug = :s OR slug LIKE :p) AND (CAST(:x AS uuid) IS NULL OR id <> CAST(:x AS uuid))",
        a=app_slug, s=base, p=base + "-%", x=exclude_id)}
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


# ---------------------------------------------------------------------------------------------------- CRUD
def create(auth: AuthContext, app_slug: str, body: QueryCreate) -> dict[str, Any]:
    get_app(auth.tenant_id, app_slug)
    _check_connection(body.connection_type, body.secret_key)
    validate_template(auth, app_slug, body.query_text,
                      _source(auth, app_slug, body.connection_type, body.secret_key))
    for _attempt in range(5):
        slug = _unique_slug(auth, app_slug, body.name)
        rows = scoped.tenant(auth.tenant_id).query(
            f"INSERT INTO platform.saved_queries (id, app_slug, slug, name, description, connection_type, secret_key,"
            f" query_text, tags, created_by) VALUES (CAST(:id AS uuid), :a, :s, :n, :d, :c, :k, :q,"
            f" CAST(:tags AS text[]), :u) ON CONFLICT (tenant_id, app_slug, slug) DO NOTHING RETURNING {_COLUMNS}",
            id=str(uuid.uuid4()), a=app_slug, s=slug, n=body.name, d=body.description,
            c=body.connection_type, k=body.secret_key, q=body.query_text, tags=body.tags, u=auth.user_id,
        )
        if rows:  # else a concurrent create took the slug: derive the next one
            outbox.publish(auth.tenant_id, "saved_query.created", actor_id=auth.user_id,
                           entity_type="SAVED_QUERY", entity_id=slug, attributes={"app": app_slug})
            return _row(rows[0])
    raise QueryValidationError("could not derive a unique slug for this name; choose another name",
                               errors={"name": ["too many queries with a similar name"]})


def list_queries(auth: AuthContext, app_slug: str, *, limit: int, offset: int,
                 tag: str | None = None, search: str | None = None) -> tuple[list[dict[str, Any]], int]:
    get_app(auth.tenant_id, app_slug)
    rows, total = scoped.tenant(auth.tenant_id).page(
        f"SELECT {_COLUMNS} FROM platform.saved_queries"
        " WHERE app_slug = :a AND (CAST(:tag AS text) IS NULL OR :tag = ANY(tags))"
        " AND (CAST(:q AS text) IS NULL OR name ILIKE '%' || :q || '%' OR slug ILIKE '%' || :q || '%')"
        " ORDER BY created_at, slug",
        limit=limit, offset=offset, a=app_slug, tag=tag, q=search,
    )
    return [_row(r) for r in rows], total


def get(auth: AuthContext, app_slug: str, slug: str) -> dict[str, Any]:
    row = scoped.tenant(auth.tenant_id).query_one(
        f"SELECT {_COLUMNS} FROM platform.saved_queries WHERE app_slug = :a AND slug = :s", a=app_slug, s=slug,
    )
    if row is None:
        raise NotFound(f"query '{slug}' not found in app '{app_slug}'")
    return _row(row)


def update(auth: AuthContext, app_slug: str, slug: str, body: QueryUpdate) -> dict[str, Any]:
    current = get(auth, app_slug, slug)
    given = body.model_fields_set
    merged = {k: (getattr(body, k) if k in given else current[k])
              for k in ("name", "description", "connection_type", "secret_key", "query_text", "tags")}
    for k in ("name", "query_text", "connection_type", "description", "tags"):
        if merged[k] is None:
            raise QueryValidationError(f"{k} cannot be null", errors={k: ["cannot be null"]})
    if merged["connection_type"] == "internal" and "secret_key" not in given and "connection_type" in given:
        merged["secret_key"] = None  # switching to internal drops the key the external query needed
    if not str(merged["name"]).strip():
        raise QueryValidationError("name must not be blank", errors={"name": ["must not be blank"]})
    _check_connection(merged["connection_type"], merged["secret_key"])
    validate_template(auth, app_slug, merged["query_text"],
                      _source(auth, app_slug, merged["connection_type"], merged["secret_key"]))
    # The slug stays what it was at creation even when the name changes: clients address the query by it.
    new_slug = slug
    rows = scoped.tenant(auth.tenant_id).query(
        f"UPDATE platform.saved_queries SET name = :n, slug = :ns, description = :d, connection_type = :c,"
        f" secret_key = :k, query_text = :q, tags = CAST(:tags AS text[]), updated_at = now()"
        f" WHERE app_slug = :a AND slug = :s RETURNING {_COLUMNS}",
        n=str(merged["name"]).strip(), ns=new_slug, d=merged["description"], c=merged["connection_type"],
        k=merged["secret_key"], q=merged["query_text"], tags=list(merged["tags"]), a=app_slug, s=slug,
    )
    if not rows:
        raise NotFound(f"query '{slug}' not found in app '{app_slug}'")
    outbox.publish(auth.tenant_id, "saved_query.updated", actor_id=auth.user_id, entity_type="SAVED_QUERY",
                   entity_id=new_slug, attributes={"app": app_slug})
    return _row(rows[0])


def delete(auth: AuthContext, app_slug: str, slug: str) -> None:
    rows = scoped.tenant(auth.tenant_id).query(
        "DELETE FROM platform.saved_queries WHERE app_slug = :a AND slug = :s RETURNING slug", a=app_slug, s=slug,
    )
    if not rows:
        raise NotFound(f"query '{slug}' not found in app '{app_slug}'")
    outbox.publish(auth.tenant_id, "saved_query.deleted", actor_id=auth.user_id, entity_type="SAVED_QUERY",
                   entity_id=slug, attributes={"app": app_slug})


# ------------------------------------------------------------------------------------------------ execute
def prepare(auth: AuthContext, app_slug: str, query: dict[str, Any], params: dict[str, Any]
            ) -> tuple[Source, Prepared, list[str]]:
    """(source, what the connector runs, strings to redact): resolve, render, guard. No connection yet."""
    from telltale.secrets.lookup import resolve

    params = render.check_params(params)
    resolver = None
    config: dict[str, Any] = {}
    if query["connection_type"] == "internal":
        source = sources.get(sources.INTERNAL)
    else:
        secret = _connection_secret(auth, app_slug, str(query["secret_key"]))
        source = sources.by_secret_type(secret.type_slug)
        config = secret.value

        def resolver(key: str) -> dict[str, Any]:
            return resolve(auth.tenant_id, app_slug, key).value

    hide = source.secret_strings(config)
    try:
        rendered = render.render(query["query_text"], params, language=source.language,
                                 user_profile=auth.user_profile(), resolve_secret=resolver)
        hide += rendered.secret_strings
        prepared = _statement(auth, app_slug, source, rendered, config, str(config.get("index") or ""))
    except TelltaleError as exc:
        raise _redacted(exc, hide) from None
    return source, prepared, hide


def _redacted(exc: TelltaleError, hide: list[str]) -> TelltaleError:
    if not hide:
        return exc
    exc.message = redact(exc.message, hide)
    if exc.errors:
        exc.errors = {k: [redact(m, hide) for m in v] for k, v in exc.errors.items()}
    if exc.details:
        exc.details = {k: redact(str(v), hide) for k, v in exc.details.items()}
    exc.args = (exc.message,)
    return exc


def scrub(reply: dict[str, Any], hide: list[str]) -> dict[str, Any]:
    """The reply with every secret value of the run replaced by ``***`` wherever it appears (a row of a
    table that stores it, a column name, an aggregation); the guard keeps secrets out of the select list,
    this keeps them out of the reply whatever the data holds."""
    import json

    needles = sorted({s for s in hide if s and len(s) >= 4}, key=len, reverse=True)
    if not needles:
        return reply
    blob = json.dumps(reply, default=str, ensure_ascii=False)
    if not any(json.dumps(n, ensure_ascii=False)[1:-1] in blob for n in needles):
        return reply

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for needle in needles:
                value = value.replace(needle, "***")
            return value
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return clean(str(value)) if any(n in str(value) for n in needles) else value

    return {k: clean(v) for k, v in reply.items()}


def params_from_body(body: Any) -> dict[str, Any]:
    """The ``params`` of an execute request's body ``{"params": {...}}`` (no body: no params)."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise QueryValidationError('the request body must be a JSON object: {"params": {...}}',
                                   errors={"body": ["must be an object"]})
    errors = {name: ["unknown field; the body holds only params"] for name in body if name != "params"}
    params = body.get("params", {})
    if not isinstance(params, dict):
        errors["params"] = ["must be an object of the template's variables"]
    if errors:
        raise QueryValidationError('the request body is invalid; send {"params": {...}}', errors=errors)
    return params


def execute(auth: AuthContext, app_slug: str, slug: str, params: dict[str, Any]) -> dict[str, Any]:
    query = get(auth, app_slug, slug)
    key = "exec_" + _random.token_hex(10)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    driver: str | None = None
    result: Result | None = None
    error: TelltaleError | None = None
    try:
        source, prepared, hide = prepare(auth, app_slug, query, params)
        driver = source.slug
        try:
            result = sources.connector(source).execute(prepared, Limits())
        except TelltaleError as exc:
            raise _redacted(exc, hide) from None
        reply = {"data": result.rows, "total": len(result.rows), "execution_key": key, "columns": result.columns,
                 "truncated": result.truncated, **result.extra}
        if result.truncated:
            reply["truncated_reason"] = result.truncated_reason or "the row limit was reached"
        return scrub(reply, hide)
    except TelltaleError as exc:
        error = exc
        # The failed run is recorded too; its key lets the caller find the record.
        exc.details = {**(exc.details or {}), "execution_key": key}
        raise
    finally:
        duration_ms = (time.perf_counter() - t0) * 1000
        _record(auth, app_slug, query, key, driver, started, duration_ms, result, error)


def _record(auth: AuthContext, app_slug: str, query: dict[str, Any], key: str, driver: str | None,
            started: datetime, duration_ms: float, result: Result | None, error: TelltaleError | None) -> None:
    from telltale.platform.log import logger

    try:
        scoped.tenant(auth.tenant_id).query(
            "INSERT INTO platform.query_executions (execution_key, app_slug, query_slug, query_id, driver,"
            " executed_by, started_at, duration_ms, row_count, truncated, outcome, error_code, error_message)"
            " VALUES (:k, :a, :s, CAST(:qid AS uuid), :d, :u, :st, :ms, :n, :tr, :o, :ec, :em)",
            k=key, a=app_slug, s=query["slug"], qid=query["id"], d=driver, u=auth.user_id,
            st=started, ms=duration_ms, n=len(result.rows) if result else 0, tr=bool(result and result.truncated),
            o="error" if error else "success", ec=error.code if error else None,
            em=error.message[:500] if error else None,
        )
    except Exception:  # noqa: BLE001 - the reply matters more than its record; the log line keeps the facts
        db.reset()
    logger.info("query executed", extra={"tenant": auth.tenant_id, "app": app_slug, "query": query["slug"],
                                         "execution_key": key, "driver": driver, "duration_ms": round(duration_ms, 2),
                                         "rows": len(result.rows) if result else 0,
                                         "outcome": error.code if error else "success"})
    outbox.publish(auth.tenant_id, "saved_query.executed", actor_id=auth.user_id, entity_type="SAVED_QUERY",
                   entity_id=query["slug"], attributes={"app": app_slug, "execution_key": key,
                                                        "outcome": "error" if error else "success"})


def get_execution(auth: AuthContext, app_slug: str, slug: str, key: str) -> dict[str, Any]:
    row = scoped.tenant(auth.tenant_id).query_one(
        "SELECT execution_key, query_slug, driver, executed_by, started_at, duration_ms, row_count, truncated,"
        " outcome, error_code, error_message FROM platform.query_executions"
        " WHERE app_slug = :a AND query_slug = :s AND execution_key = :k",
        a=app_slug, s=slug, k=key,
    )
    if row is None:
        raise NotFound(f"execution '{key}' not found for query '{slug}'")
    return row


def list_executions(auth: AuthContext, app_slug: str, slug: str, *, limit: int, offset: int
                    ) -> tuple[list[dict[str, Any]], int]:
    return scoped.tenant(auth.tenant_id).page(
        "SELECT execution_key, query_slug, driver, executed_by, started_at, duration_ms, row_count, truncated,"
        " outcome, error_code, error_message FROM platform.query_executions"
        " WHERE app_slug = :a AND query_slug = :s ORDER BY started_at DESC",
        limit=limit, offset=offset, a=app_slug, s=slug,
    )
