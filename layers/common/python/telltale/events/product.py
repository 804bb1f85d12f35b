"""Product analytics over the events (issue 14): rolling active users and stickiness.

Both are compiled through sqlglot to PostgreSQL and ClickHouse from the same expression builders as the
query DSL (:mod:`telltale.events.dsl`): the same WHERE (tenant first, bind parameters, the DSL's filter
grammar), the same table read (FINAL on ClickHouse), so that both stores return identical results. The
definitions are in docs/product-analytics.md.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from telltale.events import dsl
from telltale.events.models import EVENT_TYPE_RE
from telltale.platform.errors import ValidationError

MAX_DAYS = 366  # rolling active users: days per request
MAX_PERIODS = 366  # stickiness: periods per request
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2149, 6, 6)  # ClickHouse's Date
WINDOWS = {"dau": 1, "wau": 7, "mau28": 28, "mau30": 30}


# ------------------------------------------------------------------------------------------------ helpers
def _day(dialect: dsl.Dialect) -> Any:
    """The UTC calendar day of an event, as a date."""
    from sqlglot import exp

    ts = exp.column("occurred_at")
    if dialect == "postgres":
        return exp.Cast(this=exp.AtTimeZone(this=ts, zone=exp.Literal.string("UTC")), to=exp.DataType.build("date"))
    return exp.Anonymous(this="toDate", expressions=[ts, exp.Literal.string("UTC")])


def _count(expr: Any, dialect: dsl.Dialect, *, distinct: bool) -> Any:
    from sqlglot import exp

    agg: Any = exp.Count(this=exp.Distinct(expressions=[expr]) if distinct else expr)
    if dialect == "clickhouse":
        agg = exp.Cast(this=agg, to=exp.DataType.build("Int64", dialect="clickhouse"))
    return agg


def _raise_all(errors: dict[str, list[str]], problems: list[ValidationError]) -> None:
    """One 400 naming every problem: the model's (``errors``) and the compiler's (``problems``)."""
    for p in problems:
        for key, msgs in (p.errors or {}).items():
            if not any(k == key or k.startswith(key + ".") or key.startswith(k + ".") for k in errors):
                errors[key] = list(msgs)
    if not errors:
        return
    missing = sorted(k for k, msgs in errors.items() if "Field required" in msgs)
    messages = [f"missing required field(s): {', '.join(missing)}"] if missing else []
    messages += [f"{k}: {', '.join(v)}" for k, v in errors.items() if k not in missing]
    raise ValidationError("; ".join(messages) + "; see errors for each field", errors=errors)


# ---------------------------------------------------------------------------------- rolling active users
def compile_rolling(tenant_id: str, start: date, end: date, *, dialect: dsl.Dialect, table: str,
                    filters: list[dsl.Filter]) -> dsl.Compiled:
    """Per UTC day of ``start``..``end``: distinct actorId active that day, in the 7, 28 and 30 days ending
    that day (inclusive). Each (actor, day) pair is fanned out to the 30 days whose windows hold it
    (offset 0..29), then counted per target day under each window's offset bound."""
    import sqlglot
    from sqlglot import exp

    b = dsl._Builder(dialect)
    problems: list[ValidationError] = []
    # Both stores read the days ClickHouse's Date holds; later days of a range count no one (rolling_rows).
    start, end = min(max(start, FIRST_DAY), LAST_DAY), min(max(end, FIRST_DAY), LAST_DAY)
    lookback = max(start - timedelta(days=max(WINDOWS.values()) - 1), FIRST_DAY)
    since = datetime(lookback.year, lookback.month, lookback.day, tzinfo=UTC)
    until = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1, milliseconds=-1)
    conds = dsl.conditions(b, tenant_id, [], since, until, filters, problems)
    if problems:
        raise dsl._combined(problems)
    conds.append(exp.Not(this=exp.Is(this=exp.column("actor_id"), expression=exp.Null())))
    inner = exp.Select(expressions=[exp.alias_(exp.column("actor_id"), "actor"), exp.alias_(_day(dialect), "day")]) \
        .distinct().from_(dsl.source(table, dialect)).where(exp.and_(*conds))
    offsets = max(WINDOWS.values())
    if dialect == "postgres":
        join = sqlglot.parse_one(f"SELECT 1 FROM a CROSS JOIN generate_series(0, {offsets - 1}) AS o(k)",
                                 dialect=dialect).args["joins"][0]
        k: Any = exp.column("k", table="o")
        target: Any = exp.Add(this=exp.column("day", table="a"), expression=k)
    else:
        join = sqlglot.parse_one(f"SELECT 1 FROM a ARRAY JOIN range({offsets}) AS k", dialect=dialect).args["joins"][0]
        k = exp.column("k")
        target = exp.Anonymous(this="addDays", expressions=[exp.column("day", table="a"), k])
    selects: list[Any] = [exp.alias_(target, "day_", quoted=True)]
    for name, days in WINDOWS.items():
        if days == offsets:
            counted: Any = exp.column("actor", table="a")
        else:
            within = exp.EQ(this=k.copy(), expression=exp.Literal.number(0)) if days == 1 else \
                exp.LT(this=k.copy(), expression=exp.Literal.number(days))
            counted = exp.Case(ifs=[exp.If(this=within, true=exp.column("actor", table="a"))])
        selects.append(exp.alias_(_count(counted, dialect, distinct=True), name, quoted=True))
    in_range = exp.and_(exp.GTE(this=target.copy(), expression=b.param(start, "DATE")),
                        exp.LTE(this=target.copy(), expression=b.param(end, "DATE")))
    select = exp.Select(expressions=selects).from_(exp.Subquery(this=inner, alias=exp.TableAlias(
        this=exp.to_identifier("a"))))
    select.append("joins", join)
    select = select.where(in_range).group_by(target.copy()).order_by(target.copy())
    columns = [dsl.Column("date", "Date", "TIMESTAMP", "TIME")]
    columns += [dsl.Column(n, n.upper(), "NUMBER", "METRIC", primary=n == "dau") for n in WINDOWS]
    return dsl.Compiled(sql=select.sql(dialect=dialect), params=b.params, columns=columns,
                        kinds=["string", "int", "int", "int", "int"])


def rolling_rows(raw: list[list[Any]], start: date, end: date) -> list[dict[str, Any]]:
    """Every day of the range (0 where no one was active), with DAU/MAU (DAU / MAU30; 0 when MAU30 is 0)."""
    by_day = {str(r[0])[:10]: r[1:] for r in raw}
    out = []
    for i in range((end - start).days + 1):
        day = start + timedelta(days=i)
        dau, wau, mau28, mau30 = (int(v) for v in by_day.get(day.isoformat(), (0, 0, 0, 0)))
        # 0 and 1 as integers, as the DSL writes whole numbers.
        ratio: float = 0 if not dau else 1 if dau == mau30 else dau / mau30
        out.append({"values": [f"{day.isoformat()}T00:00:00Z", dau, wau, mau28, mau30, ratio]})
    return out


ROLLING_RATIO = dsl.Column("dau_mau", "DAU/MAU", "NUMBER", "METRIC")


# ------------------------------------------------------------------------------------------------- stickiness
Period = Literal["DAY", "WEEK"]


class Stickiness(BaseModel):
    model_config = ConfigDict(extra="forbid")
    eventType: str = Field(min_length=1, max_length=200, description="the event type counted, e.g. note.created")
    timeRange: dsl.TimeRange
    period: Period
    filters: list[dsl.Filter] = Field(default_factory=list, max_length=50)
    actorField: Literal["actorId", "entityId"] = "actorId"

    @field_validator("eventType")
    @classmethod
    def _type(cls, v: str) -> str:
        if not EVENT_TYPE_RE.match(v):
            raise ValueError("must be an event type such as note.created (2 to 8 dot-separated parts of "
                             "letters, digits, _ and -)")
        return v


def period_count(start: datetime, end: datetime, period: str) -> int:
    """How many UTC days (DAY) or ISO weeks, Monday to Sunday (WEEK), the range touches."""
    a, b = start.date(), end.date()
    if period == "WEEK":
        a, b = a - timedelta(days=a.weekday()), b - timedelta(days=b.weekday())
        return (b - a).days // 7 + 1
    return (b - a).days + 1


def parse_stickiness(body: Any) -> Stickiness:
    """The body as a Stickiness request, or one 400 naming every bad field (the model's, each filter's as
    the DSL compiles it, a range of more than MAX_PERIODS periods)."""
    from pydantic import ValidationError as PydanticError

    from telltale.platform.errors import pydantic_errors

    if not isinstance(body, dict):
        raise ValidationError("the body must be a JSON object", errors={"body": ["must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    parsed: Stickiness | None = None
    try:
        parsed = Stickiness.model_validate(body)
    except PydanticError as exc:
        errors = {re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", k): v for k, v in pydantic_errors(exc).items()}
    problems: list[ValidationError] = []
    items = body.get("filters")
    b = dsl._Builder("postgres")
    for i, item in enumerate(items if isinstance(items, list) else []):
        f = dsl._or_none(dsl.Filter, item)
        if f is not None:
            with dsl._collecting(problems):
                dsl._filter_expr(b, f, i)
    time_range = dsl._or_none(dsl.TimeRange, body.get("timeRange"))
    period = body.get("period")
    if isinstance(time_range, dsl.TimeRange) and period in ("DAY", "WEEK"):
        n = period_count(*time_range.bounds(), period)
        if n > MAX_PERIODS:
            problems.append(ValidationError("timeRange is too long", errors={"timeRange": [
                f"spans {n} periods of {period}; at most {MAX_PERIODS}"]}))
    _raise_all(errors, problems)
    assert parsed is not None
    return parsed


def compile_stickiness(s: Stickiness, tenant_id: str, *, dialect: dsl.Dialect, table: str) -> dsl.Compiled:
    """Per actor, the distinct periods (UTC day, or ISO week from Monday) with at least one matching event in
    the range; then how many actors have each such count."""
    from sqlglot import exp

    b = dsl._Builder(dialect)
    problems: list[ValidationError] = []
    start, end = s.timeRange.bounds()
    conds = dsl.conditions(b, tenant_id, [s.eventType], start, end, list(s.filters), problems)
    if problems:
        raise dsl._combined(problems)
    actor = exp.column(dsl.FIELDS[s.actorField].column)
    conds.append(exp.Not(this=exp.Is(this=actor.copy(), expression=exp.Null())))
    bucket = b.time_bucket(s.period)
    inner = exp.Select(expressions=[exp.alias_(actor.copy(), "actor"),
                                    exp.alias_(_count(bucket, dialect, distinct=True), "n")]) \
        .from_(dsl.source(table, dialect)).where(exp.and_(*conds)).group_by(actor.copy())
    n = exp.column("n", table="a")
    select = exp.Select(expressions=[exp.alias_(n, "periods", quoted=True),
                                     exp.alias_(_count(exp.Star(), dialect, distinct=False), "actors", quoted=True)]) \
        .from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier("a")))) \
        .group_by(n.copy()).order_by(n.copy())
    noun = "Days" if s.period == "DAY" else "Weeks"
    columns = [dsl.Column("periods", f"{noun} Active", "NUMBER", "DIMENSION"),
               dsl.Column("actors", "Actors", "NUMBER", "METRIC", primary=True)]
    return dsl.Compiled(sql=select.sql(dialect=dialect), params=b.params, columns=columns, kinds=["int", "int"])


def stickiness_rows(raw: list[list[Any]], total: int) -> list[dict[str, Any]]:
    """One row for each n in 1..total (0 actors where none)."""
    counts = {int(r[0]): int(r[1]) for r in raw}
    return [{"values": [n, counts.get(n, 0)]} for n in range(1, total + 1)]
