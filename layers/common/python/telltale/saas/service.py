"""The SaaS analysis operations (spec 003). See the package docstring for which events feed each."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from telltale.events import dsl
from telltale.events.service import execute
from telltale.events.stores import store_for
from telltale.platform import dates, scoped
from telltale.platform.errors import ValidationError

METRIC_EVENTS = {"create_tenant": "tenant.created", "create_saas_user": "saas_user.created",
                 "create_tenant_user": "tenant_user.created"}
PAGE_VIEW = "page.viewed"
USERINFO_CALL = "userinfo.called"
USER_BEHAVIOR = "user.behavior"
MAX_DAYS = 366
MAX_MONTHS = 120
# A day (YYYY-MM-DD) or a month (YYYY-MM) in the years the platform's dates take (telltale.platform.dates).
DAY_PATTERN = r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$"
PERIOD_PATTERN = r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])(-(0[1-9]|1[0-9]|2[0-8]))?$"


def _uuid(value: str, name: str) -> str:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise ValueError(f"{name} must be a UUID, e.g. 69e732d6-8ecc-45c4-c2eb-8438f7ffe775") from None
    return value


class BehaviorHistory(BaseModel):
    """One UserBehaviorHistory item: what the user did, optionally where and when."""

    model_config = ConfigDict(extra="forbid")
    action: str = Field(min_length=1, max_length=128)
    page: str | None = Field(default=None, max_length=2048)
    timestamp: int | None = Field(default=None, ge=0, le=7_258_118_400)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=40)


class UserBehavior(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timestamp: int = Field(ge=0, le=7_258_118_400)
    user_id: str = Field(max_length=64, json_schema_extra={"format": "uuid"})
    histories: list[BehaviorHistory] = Field(max_length=1000)

    @field_validator("user_id")
    @classmethod
    def _user(cls, v: str) -> str:
        return _uuid(v, "user_id")


class ActiveUsersUpsert(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["daily", "monthly"]
    # Stated for the API description; upsert_active_users checks it, with its own message.
    date: str = Field(json_schema_extra={"pattern": PERIOD_PATTERN},
                      description=f"{dates.DAY_FORM} (daily) or {dates.MONTH_FORM} (monthly)")
    tenant_id: str = Field(max_length=64, json_schema_extra={"format": "uuid"})
    env_id: int = Field(ge=0, le=2**31 - 1)
    active_users: int = Field(ge=0, le=2**31 - 1)

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, v: str) -> str:
        return _uuid(v, "tenant_id")


# ------------------------------------------------------------------------------------------------- helpers
def parse_ids(raw: str | None, name: str) -> list[str]:
    """A list parameter: repeated (API Gateway joins them with commas) or comma-separated."""
    if not raw:
        return []
    ids = [p.strip() for p in raw.split(",") if p.strip()]
    if len(ids) > 100:
        raise ValidationError(f"{name} takes at most 100 ids", errors={name: ["at most 100 ids"]})
    for i in ids:
        try:
            _uuid(i, name)
        except ValueError as exc:
            raise ValidationError(str(exc), errors={name: [str(exc)]}) from None
    return ids


def _range(start: date, end: date, name_from: str, name_to: str, max_days: int = MAX_DAYS) -> None:
    if end < start:
        raise ValidationError(f"{name_to} must not be before {name_from}", errors={name_to: [f"is before {name_from}"]})
    if (end - start).days >= max_days:
        raise ValidationError(f"the range {name_from}..{name_to} spans more than {max_days} days",
                              errors={name_to: [f"at most {max_days} days after {name_from}"]})


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _months(start: date, end: date) -> list[date]:
    out, cur = [], start
    while cur <= end:
        out.append(cur)
        cur = date(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
    return out


def _time_range(start: date, end_inclusive: date) -> dict[str, str]:
    return {"from": f"{start.isoformat()}T00:00:00Z", "to": f"{end_inclusive.isoformat()}T23:59:59.999Z"}


def _filters(tenant_ids: list[str] | None = None, env_id: int | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if tenant_ids:
        out.append({"field": "attributes.tenant_id", "op": "IN", "value": tenant_ids})
    if env_id is not None:
        out.append({"field": "attributes.env_id", "op": "EQ", "value": str(env_id)})
    return out


def _run(tenant: str, body: dict[str, Any], event_types: list[str] | None = None) -> list[list[Any]]:
    q = dsl.Query.model_validate({"eventType": body.pop("eventType", "any.event"), **body})
    result = execute(q, tenant_id=tenant, event_types=event_types)
    return [r["values"] for r in result["rows"]]


# ---------------------------------------------------------------------------------------------- operations
def record_behavior(tenant: str, body: UserBehavior) -> dict[str, Any]:
    """Each history item becomes a ``user.behavior`` event, queued like any ingested event."""
    from telltale.events.service import accept

    events = []
    for h in body.histories:
        ts = datetime.fromtimestamp(h.timestamp if h.timestamp is not None else body.timestamp, UTC)
        attrs = {**h.attributes, "action": h.action}
        if h.page is not None:
            attrs["page"] = h.page
        events.append({"eventType": USER_BEHAVIOR, "tenantId": tenant, "occurredAt": ts.isoformat(),
                       "actorType": "CONTACT", "actorId": body.user_id, "attributes": attrs})
    if events:
        accept(events, token_tenant=tenant)
    return {"user_id": body.user_id, "timestamp": body.timestamp, "histories": len(events)}


def user_history(tenant: str, user_id: str) -> dict[str, Any]:
    since = datetime.now(UTC) - timedelta(days=30)
    rows = store_for(tenant).recent_events(tenant, user_id, since, 1000)
    out = []
    for r in rows:
        attrs = r["attributes"]
        if isinstance(attrs, str):
            attrs = json.loads(attrs)
        occurred = r["occurred_at"]
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
        out.append({"event_id": r["event_id"], "event_type": r["event_type"], "timestamp": int(occurred.timestamp()),
                    "occurred_at": occurred.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "action": attrs.get("action"), "page": attrs.get("page"),
                    "entity_type": r.get("entity_type"), "entity_id": r.get("entity_id"), "attributes": dict(attrs)})
    return {"user_id": user_id, "histories": out}


def active_users(tenant: str, *, type_: str | None, date_from: str | None, date_to: str | None,
                 tenant_id: str | None, env_id: str | None) -> dict[str, Any]:
    if type_ not in ("daily", "monthly"):
        raise ValidationError("type must be 'daily' or 'monthly'", errors={"type": ["must be daily or monthly"]})
    env: int | None = None
    if env_id not in (None, ""):
        try:
            env = int(str(env_id))
        except ValueError:
            raise ValidationError("env_id must be an integer", errors={"env_id": ["must be an integer"]}) from None
        if not tenant_id:
            raise ValidationError("env_id requires tenant_id", errors={"env_id": ["requires tenant_id"]})
    if tenant_id:
        try:
            _uuid(tenant_id, "tenant_id")
        except ValueError as exc:
            raise ValidationError(str(exc), errors={"tenant_id": [str(exc)]}) from None
    if type_ == "daily":
        start = dates.day_param(date_from, "date_from")
        end = dates.day_param(date_to, "date_to", required=False) or start
        assert start is not None and end is not None
        _range(start, end, "date_from", "date_to")
        periods = [d.isoformat() for d in _days(start, end)]
        last_day = end
    else:
        start = dates.month_param(date_from, "date_from")
        end = dates.month_param(date_to, "date_to", required=False) or start
        assert start is not None and end is not None
        if end < start:
            raise ValidationError("date_to must not be before date_from", errors={"date_to": ["is before date_from"]})
        months = _months(start, end)
        if len(months) > MAX_MONTHS:
            raise ValidationError(f"at most {MAX_MONTHS} months per request", errors={"date_to": ["range too long"]})
        periods = [m.strftime("%Y-%m") for m in months]
        last_day = date(end.year + (end.month == 12), end.month % 12 + 1, 1) - timedelta(days=1)
    rows = _run(tenant, {
        "timeRange": _time_range(start, last_day), "granularity": "DAY" if type_ == "daily" else "MONTH",
        "filters": [{"field": "actorType", "op": "NEQ", "value": "SYSTEM"}, *_filters(
            [tenant_id] if tenant_id else None, env)],
        "aggregations": [{"function": "COUNT_DISTINCT", "field": "actorId", "alias": "active_users"}],
        "limit": 10_000,
    }, event_types=[])
    computed = {str(r[0])[: 10 if type_ == "daily" else 7]: int(r[1]) for r in rows}
    manual_rows = scoped.tenant(tenant).query(
        "SELECT period, sum(active_users) AS n FROM events.active_users WHERE period_type = :ty"
        " AND period >= :a AND period <= :b AND (CAST(:st AS text) IS NULL OR saas_tenant_id = :st)"
        " AND (CAST(:env AS integer) IS NULL OR env_id = :env) GROUP BY period",
        ty=type_, a=periods[0], b=periods[-1], st=tenant_id or None, env=env,
    )
    manual = {r["period"]: int(r["n"]) for r in manual_rows}
    data = []
    for p in periods:
        row: dict[str, Any] = {"date": p, "active_users": manual.get(p, computed.get(p, 0)),
                               "source": "manual" if p in manual else "events"}
        if tenant_id:
            row["tenant_id"] = tenant_id
        if env is not None:
            row["env_id"] = env
        data.append(row)
    return {"data": data}


def rolling_active_users(tenant: str, *, date_from: str | None, date_to: str | None,
                         tenant_id: str | None) -> dict[str, Any]:
    """Per day DAU, WAU, MAU28, MAU30 and DAU/MAU from the events (issue 14; docs/product-analytics.md).
    Active means what it means for ``active_users``: an event of any type with an actorId, whose actorType
    is set and is not SYSTEM; ``tenant_id`` narrows to one SaaS tenant (``attributes.tenant_id``)."""
    from telltale.events import product
    from telltale.events.service import run_rolling_active_users

    problems: list[ValidationError] = []
    start = end = None
    with dsl._collecting(problems):
        start = dates.day_param(date_from, "date_from")
    with dsl._collecting(problems):
        end = dates.day_param(date_to, "date_to")
    if tenant_id:
        try:
            _uuid(tenant_id, "tenant_id")
        except ValueError as exc:
            problems.append(ValidationError(str(exc), errors={"tenant_id": [str(exc)]}))
    if start is not None and end is not None:
        with dsl._collecting(problems):
            _range(start, end, "date_from", "date_to", max_days=product.MAX_DAYS)
    if problems:
        raise dsl._combined(problems)
    assert start is not None and end is not None
    filters = [dsl.Filter.model_validate(f) for f in [{"field": "actorType", "op": "NEQ", "value": "SYSTEM"},
                                                       *_filters([tenant_id] if tenant_id else None)]]
    return run_rolling_active_users(tenant, start, end, filters)


def upsert_active_users(tenant: str, body: ActiveUsersUpsert) -> dict[str, Any]:
    if body.type == "daily":
        dates.day_param(body.date, "date")
    else:
        dates.month_param(body.date, "date")
    scoped.tenant(tenant).query(
        "INSERT INTO events.active_users (saas_tenant_id, env_id, period_type, period, active_users)"
        " VALUES (:st, :env, :ty, :p, :n) ON CONFLICT (tenant_id, saas_tenant_id, env_id, period_type, period)"
        " DO UPDATE SET active_users = excluded.active_users, updated_at = now()",
        st=body.tenant_id, env=body.env_id, ty=body.type, p=body.date, n=body.active_users,
    )
    return body.model_dump()


def _daily_counts(tenant: str, event_type: str, start_date: str | None, end_date: str | None,
                  tenant_ids_raw: str | None) -> dict[str, Any]:
    start = dates.day_param(start_date, "start_date")
    end = dates.day_param(end_date, "end_date")
    assert start is not None and end is not None
    _range(start, end, "start_date", "end_date")
    tenant_ids = parse_ids(tenant_ids_raw, "tenant_ids")
    body: dict[str, Any] = {
        "eventType": event_type, "timeRange": _time_range(start, end), "granularity": "DAY",
        "filters": _filters(tenant_ids), "aggregations": [{"function": "COUNT", "alias": "count"}], "limit": 10_000,
    }
    if tenant_ids:
        body["groupBy"] = [{"field": "attributes.tenant_id"}]
    rows = _run(tenant, body)
    metrics: list[dict[str, Any]] = []
    if tenant_ids:
        counts = {(str(r[0])[:10], r[1]): int(r[2]) for r in rows}
        for d in _days(start, end):
            for t in tenant_ids:
                metrics.append({"date": d.isoformat(), "tenant_id": t, "count": counts.get((d.isoformat(), t), 0)})
    else:
        by_day = {str(r[0])[:10]: int(r[1]) for r in rows}
        metrics = [{"date": d.isoformat(), "count": by_day.get(d.isoformat(), 0)} for d in _days(start, end)]
    return {"metrics": metrics}


def metrics(tenant: str, *, metrics_type: str | None, start_date: str | None, end_date: str | None,
            tenant_ids: str | None) -> dict[str, Any]:
    if metrics_type not in METRIC_EVENTS:
        raise ValidationError(f"metrics_type must be one of {', '.join(METRIC_EVENTS)}",
                              errors={"metrics_type": [f"one of {', '.join(METRIC_EVENTS)}"]})
    out = _daily_counts(tenant, METRIC_EVENTS[metrics_type], start_date, end_date, tenant_ids)
    return {"metrics_type": metrics_type, **out}


def userinfo_calls(tenant: str, *, start_date: str | None, end_date: str | None,
                   tenant_ids: str | None) -> dict[str, Any]:
    return _daily_counts(tenant, USERINFO_CALL, start_date, end_date, tenant_ids)


def _unix(value: str | None, name: str) -> int:
    if value is None or value == "":
        raise ValidationError(f"{name} is required (a UNIX timestamp)", errors={name: ["is required"]})
    try:
        n = int(value)
    except ValueError:
        raise ValidationError(f"{name} must be an integer UNIX timestamp", errors={name: ["must be an integer"]}) \
            from None
    if not 0 <= n <= 7_258_118_400:
        raise ValidationError(f"{name} is out of range", errors={name: ["must be between 0 and 7258118400"]})
    return n


def page_statistics(tenant: str, *, start_timestamp: str | None, end_timestamp: str | None) -> dict[str, Any]:
    start = _unix(start_timestamp, "start_timestamp")
    end = _unix(end_timestamp, "end_timestamp")
    if end < start:
        raise ValidationError("end_timestamp must not be before start_timestamp",
                              errors={"end_timestamp": ["is before start_timestamp"]})
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    time_range = {"from": datetime.fromtimestamp(start, UTC).strftime(fmt),
                  "to": datetime.fromtimestamp(end, UTC).strftime(fmt)}
    totals = _run(tenant, {"eventType": PAGE_VIEW, "timeRange": time_range, "aggregations": [
        {"function": "COUNT", "alias": "views"}, {"function": "COUNT_DISTINCT", "field": "actorId", "alias": "users"}]})
    pages = _run(tenant, {"eventType": PAGE_VIEW, "timeRange": time_range, "groupBy": [{"field": "attributes.page"}],
                          "aggregations": [{"function": "COUNT", "alias": "views"},
                                           {"function": "COUNT_DISTINCT", "field": "actorId", "alias": "users"}],
                          "sort": [{"field": "views", "ascending": False}], "limit": 10_000})
    return {
        "start_date": start, "end_date": end,
        "total_page_views": int(totals[0][0]) if totals else 0,
        "total_unique_users": int(totals[0][1]) if totals else 0,
        "page_statistics": [{"page": p[0], "page_views": int(p[1]), "unique_users": int(p[2])} for p in pages],
    }
