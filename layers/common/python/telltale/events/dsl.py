"""The analytics query DSL of spec 004, compiled to SQL through sqlglot expressions.

Client values never enter the SQL text: every value becomes a bind parameter (``:p3`` for PostgreSQL,
``{p3:String}`` for ClickHouse), and every identifier comes from the fixed field catalogue below, so a
query can only read its own tenant's events. Both dialects are generated from the same expression
builders so that the two stores return identical results (same NULL ordering, byte-wise string
ordering, millisecond timestamps, float averages).

Semantics (documented in docs/events.md):
- ``COUNT`` without a field counts events; ``COUNT`` with a field counts events where the field is set;
  ``COUNT`` with ``"distinct": true`` (or the function ``COUNT_DISTINCT``) counts distinct values.
- ``SUM``/``AVG`` take a numeric field: ``schemaVersion`` or ``attributes.<key>`` (values that are not
  numbers are ignored). ``MIN``/``MAX`` take any field and keep its type.
- ``EQ``/``NEQ``/``IN``/``NOT_IN`` work on every field; ``GT``/``GTE``/``LT``/``LTE`` on numbers,
  timestamps and on ``attributes.<key>`` with a numeric value (compared as numbers).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from telltale.platform import dates
from telltale.platform.errors import ValidationError

Granularity = Literal["NONE", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH"]
Operator = Literal["EQ", "NEQ", "GT", "GTE", "LT", "LTE", "IN", "NOT_IN"]
Function = Literal["COUNT", "SUM", "AVG", "MIN", "MAX", "COUNT_DISTINCT"]
Dialect = Literal["postgres", "clickhouse"]
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1_000
MAX_IN_VALUES = 1_000
ALIAS_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
ATTR_RE = re.compile(r"^attributes\.([A-Za-z0-9_.:-]{1,128})$")


@dataclass(frozen=True)
class FieldDef:
    column: str
    type: Literal["STRING", "NUMBER", "TIMESTAMP"]
    label: str


# The queryable fields of an event: DSL name -> (column, type, label).
FIELDS: dict[str, FieldDef] = {
    "eventId": FieldDef("event_id", "STRING", "Event"),
    "eventType": FieldDef("event_type", "STRING", "Event Type"),
    "occurredAt": FieldDef("occurred_at", "TIMESTAMP", "Occurred At"),
    "receivedAt": FieldDef("received_at", "TIMESTAMP", "Received At"),
    "actorType": FieldDef("actor_type", "STRING", "Actor Type"),
    "actorId": FieldDef("actor_id", "STRING", "Actor"),
    "entityType": FieldDef("entity_type", "STRING", "Entity Type"),
    "entityId": FieldDef("entity_id", "STRING", "Entity"),
    "schemaVersion": FieldDef("schema_version", "NUMBER", "Schema Version"),
    "source": FieldDef("source", "STRING", "Source"),
}
TIME_LABELS = {"MINUTE": "Minute", "HOUR": "Hour", "DAY": "Date", "WEEK": "Week", "MONTH": "Month"}


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_: str = Field(alias="from")
    to: str

    @model_validator(mode="after")
    def _order(self) -> TimeRange:
        try:
            start = dates.timestamp(self.from_)
        except ValueError as exc:
            raise ValueError(f"from: {exc}") from None
        try:
            end = dates.timestamp(self.to)
        except ValueError as exc:
            raise ValueError(f"to: {exc}") from None
        if end < start:
            raise ValueError("to must not be before from")
        return self

    def bounds(self) -> tuple[datetime, datetime]:
        return dates.timestamp(self.from_), dates.timestamp(self.to)


class Filter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    op: Operator
    value: Any = None


class GroupBy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str


class Aggregation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    function: Function
    field: str | None = None
    alias: str | None = None
    distinct: bool = False


class Sort(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    ascending: bool = True


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")
    eventType: str = Field(min_length=1, max_length=200)
    timeRange: TimeRange
    granularity: Granularity = "NONE"
    filters: list[Filter] = Field(default_factory=list, max_length=50)
    groupBy: list[GroupBy] = Field(default_factory=list, max_length=10)
    aggregations: list[Aggregation] = Field(min_length=1, max_length=20)
    sort: list[Sort] = Field(default_factory=list, max_length=10)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    @field_validator("granularity", mode="before")
    @classmethod
    def _none_is_none(cls, v: Any) -> Any:
        return "NONE" if v is None else v


@dataclass
class Column:
    name: str
    label: str
    type: str
    role: str
    primary: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "type": self.type, "role": self.role}
        if self.primary:
            out["primary"] = True
        return out


@dataclass
class Compiled:
    sql: str
    params: dict[str, Any]
    columns: list[Column]
    # Per column: how to turn a raw value into JSON ("timestamp", "number", "int", "string").
    kinds: list[str] = field(default_factory=list)


def _label(name: str) -> str:
    return " ".join(w.capitalize() for w in re.split(r"[_.\s]+", name) if w) or name


class _Builder:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.params: dict[str, Any] = {}

    # --- values -------------------------------------------------------------------------------------------
    def param(self, value: Any, kind: str) -> Any:
        from sqlglot import exp

        name = f"p{len(self.params)}"
        if kind == "TIMESTAMP":
            ts: datetime = value
            self.params[name] = ts.strftime("%Y-%m-%d %H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
            ch_type = "DateTime64(3, 'UTC')"
        elif kind == "DATE":
            self.params[name] = value.isoformat()
            ch_type = "Date"
        elif kind == "NUMBER":
            self.params[name] = float(value)
            ch_type = "Float64"
        else:
            self.params[name] = str(value)
            ch_type = "String"
        if self.dialect == "postgres":
            cast = {"TIMESTAMP": "timestamptz", "NUMBER": "double precision", "DATE": "date"}.get(kind, "text")
            # pg8000 binds ":name"; the cast fixes the parameter's type whatever Python type it arrives as.
            return exp.Cast(this=exp.Var(this=f":{name}"), to=exp.DataType.build(cast))
        return exp.Placeholder(this=name, kind=exp.DataType.build(ch_type, dialect="clickhouse"))

    # --- fields -------------------------------------------------------------------------------------------
    def field(self, name: str, *, numeric: bool = False) -> tuple[Any, str]:
        """(expression, type) for a DSL field; ``numeric`` reads attributes as numbers."""
        from sqlglot import exp

        if name in FIELDS:
            f = FIELDS[name]
            col: Any = exp.column(f.column)
            if f.type == "NUMBER":
                col = exp.Cast(this=col, to=exp.DataType.build("double" if self.dialect == "postgres" else "Float64",
                                                                dialect=self.dialect))
            return col, f.type
        m = ATTR_RE.match(name)
        if not m:
            raise ValidationError(f"unknown field '{name}'", errors={"field": [
                f"'{name}' is not a field; use one of {', '.join(FIELDS)} or attributes.<key>"]})
        key = m.group(1)
        if self.dialect == "postgres":
            text: Any = exp.JSONExtractScalar(this=exp.column("attributes"), expression=exp.Literal.string(key))
            if numeric:
                valid = exp.Anonymous(this="pg_input_is_valid", expressions=[text.copy(),
                                                                             exp.Literal.string("double precision")])
                return exp.Case(ifs=[exp.If(this=valid, true=exp.Cast(this=text, to=exp.DataType.build("double")))]), \
                    "NUMBER"
            return text, "STRING"
        contains = exp.Anonymous(this="mapContains", expressions=[exp.column("attributes"), exp.Literal.string(key)])
        value = exp.Bracket(this=exp.column("attributes"), expressions=[exp.Literal.string(key)])
        if numeric:
            return exp.Anonymous(this="toFloat64OrNull", expressions=[value]), "NUMBER"
        return exp.If(this=contains, true=value, false=exp.Null()), "STRING"

    def sort_key(self, expr: Any, typ: str) -> Any:
        """Byte-wise ordering of strings on PostgreSQL too (ClickHouse compares bytes)."""
        from sqlglot import exp

        if self.dialect == "postgres" and typ == "STRING":
            return exp.Collate(this=exp.Paren(this=expr), expression=exp.Identifier(this="C", quoted=True))
        return expr

    def time_bucket(self, granularity: str) -> Any:
        from sqlglot import exp

        ts = exp.column("occurred_at")
        if self.dialect == "postgres":
            utc = exp.AtTimeZone(this=ts, zone=exp.Literal.string("UTC"))
            return exp.Anonymous(this="date_trunc", expressions=[exp.Literal.string(granularity.lower()), utc])
        fn = {"MINUTE": "toStartOfMinute", "HOUR": "toStartOfHour", "DAY": "toStartOfDay", "WEEK": "toMonday",
              "MONTH": "toStartOfMonth"}[granularity]
        return exp.Anonymous(this="toDateTime", expressions=[exp.Anonymous(this=fn, expressions=[ts]),
                                                             exp.Literal.string("UTC")])


def _filter_expr(b: _Builder, f: Filter, i: int) -> Any:
    from sqlglot import exp

    where = f"filters[{i}]"
    is_attr = f.field.startswith("attributes.")
    ordering = f.op in ("GT", "GTE", "LT", "LTE")
    lst = f.op in ("IN", "NOT_IN")
    values = f.value if lst else [f.value]
    if lst and (not isinstance(f.value, list) or not f.value or len(f.value) > MAX_IN_VALUES):
        raise ValidationError(f"{where}: {f.op} needs a non-empty array value (at most {MAX_IN_VALUES} items)",
                              errors={f"{where}.value": [f"{f.op} takes an array, e.g. [\"a\", \"b\"]"]})
    if not lst and isinstance(f.value, list):
        raise ValidationError(f"{where}: {f.op} takes a single value; use IN/NOT_IN for a list",
                              errors={f"{where}.value": ["must be a single value"]})
    if any(v is None or isinstance(v, dict | list) for v in values):
        raise ValidationError(f"{where}: value is required and must be a string, number or boolean",
                              errors={f"{where}.value": ["must be a string, number or boolean"]})
    numeric_values = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    try:
        expr, typ = b.field(f.field, numeric=is_attr and ordering)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc.message}", errors={f"{where}.field": exc.errors["field"]
                                                                 if exc.errors else [exc.message]}) from None
    if ordering and typ == "STRING":
        raise ValidationError(f"{where}: operator {f.op} is not valid for the STRING field '{f.field}'",
                              errors={f"{where}.op": [f"{f.op} compares numbers and timestamps; use EQ, NEQ, IN or "
                                                      "NOT_IN on this field"]})
    if is_attr and ordering and not numeric_values:
        raise ValidationError(f"{where}: {f.op} on '{f.field}' needs a numeric value",
                              errors={f"{where}.value": ["attributes compare as numbers with GT/GTE/LT/LTE"]})
    params = []
    for v in values:
        if typ == "TIMESTAMP":
            try:
                params.append(b.param(dates.timestamp(v), "TIMESTAMP"))
            except ValueError as exc:
                raise ValidationError(f"{where}: {exc}", errors={f"{where}.value": [str(exc)]}) from None
        elif typ == "NUMBER":
            if not numeric_values:
                raise ValidationError(f"{where}: '{f.field}' is a number; the value must be a number",
                                      errors={f"{where}.value": ["must be a number"]})
            params.append(b.param(v, "NUMBER"))
        else:
            # Strings compare as strings; a number or boolean given for a string field means its text.
            text = ("true" if v else "false") if isinstance(v, bool) else (
                str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
            params.append(b.param(text, "STRING"))
    if lst:
        node: Any = exp.In(this=expr, expressions=params)
        return exp.Not(this=node) if f.op == "NOT_IN" else node
    cls = {"EQ": exp.EQ, "NEQ": exp.NEQ, "GT": exp.GT, "GTE": exp.GTE, "LT": exp.LT, "LTE": exp.LTE}[f.op]
    return cls(this=expr, expression=params[0])


@contextmanager
def _collecting(problems: list[ValidationError]) -> Iterator[None]:
    """Record a refused item and go on to the next, so one reply names every problem of a query."""
    try:
        yield
    except ValidationError as exc:
        problems.append(exc)


def _combined(problems: list[ValidationError]) -> ValidationError:
    errors: dict[str, list[str]] = {}
    for p in problems:
        for key, msgs in (p.errors or {}).items():
            errors.setdefault(key, []).extend(m for m in msgs if m not in errors.get(key, []))
    if len(problems) == 1:
        return ValidationError(problems[0].message, errors=errors)
    return ValidationError(f"{len(problems)} problems: " + "; ".join(p.message for p in problems), errors=errors)


def conditions(b: _Builder, tenant_id: str, event_types: list[str], start: datetime, end: datetime,
               filters: Sequence[Filter | None], problems: list[ValidationError]) -> list[Any]:
    """The WHERE of every statement over the events: the tenant first, then the types (none: all types),
    the time range (inclusive) and the filters; a refused filter goes to ``problems``."""
    from sqlglot import exp

    conds: list[Any] = [exp.EQ(this=exp.column("tenant_id"), expression=b.param(tenant_id, "STRING"))]
    if event_types:
        conds.append(exp.In(this=exp.column("event_type"), expressions=[b.param(t, "STRING") for t in event_types]))
    conds.append(exp.GTE(this=exp.column("occurred_at"), expression=b.param(start, "TIMESTAMP")))
    conds.append(exp.LTE(this=exp.column("occurred_at"), expression=b.param(end, "TIMESTAMP")))
    for i, f in enumerate(filters):
        if f is not None:  # None: an item the request's own validation refused (parse_query)
            with _collecting(problems):
                conds.append(_filter_expr(b, f, i))
    return conds


def source(table: str, dialect: Dialect) -> Any:
    """The events table as a statement reads it."""
    from sqlglot import exp

    src: Any = exp.to_table(table)
    if dialect == "clickhouse":
        # ReplacingMergeTree keeps replays until a merge; FINAL reads each (tenant, eventId) once.
        src = exp.Final(this=src)
    return src


def compile_query(q: Query, tenant_id: str, *, dialect: Dialect, table: str,
                  event_types: list[str] | None = None, extra_where: list[Any] | None = None) -> Compiled:
    """Compile ``q`` for ``dialect`` over ``table`` (schema-qualified), scoped to ``tenant_id``.

    ``event_types`` (internal callers only) widens the query to several types (empty list: all types).
    """
    from sqlglot import exp

    b = _Builder(dialect)
    start, end = q.timeRange.bounds()
    problems: list[ValidationError] = []
    conds = conditions(b, tenant_id, [q.eventType] if event_types is None else event_types, start, end,
                       q.filters, problems)
    conds.extend(extra_where or [])

    selects: list[Any] = []
    group: list[Any] = []
    columns: list[Column] = []
    kinds: list[str] = []
    order_keys: dict[str, tuple[Any, str]] = {}
    if q.granularity != "NONE":
        bucket = b.time_bucket(q.granularity)
        selects.append(exp.alias_(bucket, "time_bucket", quoted=True))
        group.append(bucket)
        columns.append(Column("time_bucket", TIME_LABELS[q.granularity], "TIMESTAMP", "TIME"))
        kinds.append("timestamp")
        order_keys["time_bucket"] = (bucket, "TIMESTAMP")
    declared: set[str] = set()  # names the request gives its columns, valid or not
    for i, g in enumerate(q.groupBy):
        if g is None:
            continue
        declared.add(g.field)
        with _collecting(problems):
            if g.field in order_keys:
                raise ValidationError(f"groupBy[{i}]: '{g.field}' is listed twice",
                                      errors={f"groupBy[{i}].field": ["is a duplicate"]})
            try:
                expr, typ = b.field(g.field)
            except ValidationError as exc:
                raise ValidationError(f"groupBy[{i}]: {exc.message}",
                                      errors={f"groupBy[{i}].field": (exc.errors or {}).get("field", [])}) from None
            selects.append(exp.alias_(expr, g.field, quoted=True))
            group.append(expr)
            label = FIELDS[g.field].label if g.field in FIELDS else _label(g.field.split(".", 1)[1])
            columns.append(Column(g.field, label, typ, "DIMENSION"))
            kinds.append({"TIMESTAMP": "timestamp", "NUMBER": "number"}.get(typ, "string"))
            order_keys[g.field] = (expr, typ)
    for i, a in enumerate(q.aggregations):
        if a is None:
            continue
        if a.alias:
            declared.add(a.alias)
        with _collecting(problems):
            where = f"aggregations[{i}]"
            function = "COUNT" if a.function == "COUNT_DISTINCT" else a.function
            distinct = a.distinct or a.function == "COUNT_DISTINCT"
            if distinct and function != "COUNT":
                raise ValidationError(f"{where}: distinct applies to COUNT only",
                                      errors={f"{where}.distinct": ["only COUNT counts distinct values"]})
            if function != "COUNT" and not a.field:
                raise ValidationError(f"{where}: {function} needs a field",
                                      errors={f"{where}.field": [f"is required for {function}"]})
            if distinct and not a.field:
                raise ValidationError(f"{where}: a distinct count needs a field",
                                      errors={f"{where}.field": ["is required for a distinct count"]})
            alias = a.alias or (f"{function.lower()}_{'distinct_' if distinct else ''}"
                                f"{re.sub(r'[^A-Za-z0-9_]', '_', a.field)}" if a.field else "count")[:63]
            if not ALIAS_RE.match(alias):
                raise ValidationError(f"{where}: alias '{alias}' must be an identifier (letters, digits, _)",
                                      errors={f"{where}.alias": ["letters, digits and _, starting with a letter or _"]})
            if alias in order_keys:
                raise ValidationError(f"{where}: alias '{alias}' is already a column name",
                                      errors={f"{where}.alias": ["must be unique among the result's columns"]})
            if a.field:
                # Attributes are strings; aggregated with SUM/AVG/MIN/MAX they are read as numbers.
                numeric = function in ("SUM", "AVG") or a.field.startswith("attributes.")
                try:
                    expr, typ = b.field(a.field, numeric=numeric)
                except ValidationError as exc:
                    raise ValidationError(f"{where}: {exc.message}",
                                          errors={f"{where}.field": (exc.errors or {}).get("field", [])}) from None
                if numeric and typ != "NUMBER":
                    raise ValidationError(f"{where}: {function} needs a numeric field; '{a.field}' is {typ}",
                                          errors={f"{where}.field": ["use schemaVersion or attributes.<key>"]})
            if function == "COUNT":
                if not a.field:
                    agg: Any = exp.Count(this=exp.Star())
                elif distinct:
                    agg = exp.Count(this=exp.Distinct(expressions=[expr]))
                else:
                    agg = exp.Count(this=expr)
                if dialect == "clickhouse":
                    agg = exp.Cast(this=agg, to=exp.DataType.build("Int64", dialect="clickhouse"))
                out_type, kind = "NUMBER", "int"
            elif function in ("SUM", "AVG"):
                agg = (exp.Sum if function == "SUM" else exp.Avg)(this=expr)
                out_type, kind = "NUMBER", "number"
            else:
                agg = (exp.Min if function == "MIN" else exp.Max)(this=b.sort_key(expr, typ))
                out_type = typ
                kind = {"TIMESTAMP": "timestamp", "NUMBER": "number"}.get(typ, "string")
            selects.append(exp.alias_(agg, alias, quoted=True))
            columns.append(Column(alias, _label(alias), out_type, "METRIC", primary=i == 0))
            kinds.append(kind)
            order_keys[alias] = (agg, out_type)

    order: list[Any] = []
    used: set[str] = set()
    for i, s in enumerate(q.sort):
        if s is None or (s.field not in order_keys and s.field in declared):
            continue  # its column was refused already
        with _collecting(problems):
            if s.field not in order_keys:
                raise ValidationError(f"sort[{i}]: '{s.field}' is not a column of the result",
                                      errors={f"sort[{i}].field": [f"sort by one of: {', '.join(order_keys)}"]})
            if s.field in used:
                continue
            used.add(s.field)
            key, typ = order_keys[s.field]
            order.append(exp.Ordered(this=b.sort_key(key.copy(), typ), desc=not s.ascending, nulls_first=False))
    if problems:
        raise _combined(problems)
    # The remaining columns as tie-breakers, so that both stores return rows in the same order.
    for name, (key, typ) in order_keys.items():
        if name not in used:
            order.append(exp.Ordered(this=b.sort_key(key.copy(), typ), desc=False, nulls_first=False))

    select = exp.Select(expressions=selects).from_(source(table, dialect)).where(exp.and_(*conds))
    if group:
        select = select.group_by(*group)
    select = select.order_by(*order).limit(q.limit)
    return Compiled(sql=select.sql(dialect=dialect), params=b.params, columns=columns, kinds=kinds)


def parse_query(body: Any) -> Query:
    """The request body as a Query, with one 400 that names every bad field: what the model refuses and,
    for the items it accepts, what compiling them would refuse (a SUM of a text field beside a bad
    granularity), so a client fixes a query in one round."""
    from pydantic import ValidationError as PydanticError

    from telltale.platform.errors import pydantic_errors

    if not isinstance(body, dict):
        raise ValidationError("the body must be a query object", errors={"body": ["must be a JSON object"]})
    try:
        return Query.model_validate(body)
    except PydanticError as exc:
        # Item paths as the compiler names them (filters[0].op, not filters.0.op): one spelling per reply.
        errors = {re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", k): v for k, v in pydantic_errors(exc).items()}
    missing = sorted(k for k, msgs in errors.items() if "Field required" in msgs)
    messages = [f"missing required field(s): {', '.join(missing)}"] if missing else []
    messages += [f"{k}: {', '.join(v)}" for k, v in errors.items() if k not in missing]
    try:
        compile_query(_accepted_part(body), "-", dialect="postgres", table="events.events")
    except ValidationError as more:
        for key, msgs in (more.errors or {}).items():
            if not any(k == key or k.startswith(key + ".") or key.startswith(k + ".") for k in errors):
                errors[key] = msgs
                messages.append(f"{key}: {', '.join(msgs)}")
    raise ValidationError("; ".join(messages) + "; see errors for each field", errors=errors) from None


_LISTS: dict[str, type[BaseModel]] = {"filters": Filter, "groupBy": GroupBy, "aggregations": Aggregation,
                                      "sort": Sort}


def _accepted_part(body: dict[str, Any]) -> Query:
    """The query's items that pass the model on their own, each at its own index (None where refused),
    and harmless stand-ins for refused scalars: what compile_query can still check."""
    parts: dict[str, Any] = {"eventType": "-", "timeRange": TimeRange.model_validate({"from": "2000-01-01",
                                                                                      "to": "2000-01-01"}),
                             "granularity": "NONE", "limit": DEFAULT_LIMIT}
    for name, model in _LISTS.items():
        items = body.get(name)
        parts[name] = [_or_none(model, item) for item in items] if isinstance(items, list) else []
    granularity = body.get("granularity")
    if granularity in TIME_LABELS:
        parts["granularity"] = granularity
    return Query.model_construct(**parts)


def _or_none(model: type[BaseModel], item: Any) -> Any:
    from pydantic import ValidationError as PydanticError

    try:
        return model.model_validate(item)
    except PydanticError:
        return None
