"""The Elasticsearch guard: the rendered template must be one JSON ``_search`` body made only of what the
source's tables list (an allow-list walk that knows the Query DSL's grammar), running no script, overriding
none of the cluster's own safety limits, and reading no index beyond the secret's pattern.

The data, the top-level keys, every query clause, every aggregation, each with its allowed parameters and
their types and caps, and the reasons given for well-known refusals, is the Elasticsearch source's
allow-list and lives with it (``telltale/sources/_elasticsearch_grammar.py``); this module walks a parsed
body against those tables. Anything not listed is refused with its path and name
(``'aggs.by_day.scripted_metric' is not allowed: ...``). What the connector sends is the checked dict
(re-serialised by the client), never the template's text.

Spec language used by the tables (interpreted by ``_check``):

- a leaf name: ``"str"``, ``"bool"``, ``"num"`` (finite number), ``"value"`` (string, number or boolean:
  a term to match), ``"field"`` (a plain field path, see ``_FIELD``), ``"pattern"`` (a field path that may
  hold ``*``, for what is returned, not what is searched), ``"query"`` (one query clause), ``"aggs"`` (named
  aggregations), ``"index"`` (an index name inside the secret's pattern), and a few more in ``_LEAVES``;
- a name in ``NAMED`` (a spec given a name so it is written once);
- ``("int", lo, hi)``, ``("num", lo, hi)``: a number within bounds (no numbers as strings, no booleans);
- ``("enum", a, b, ...)``: one of these exact values;
- ``("obj", TABLE)``: an object whose keys are all in TABLE, each value checked with its spec;
- ``("list", spec, max)``: a list of at most max items;
- ``("either", spec, ...)``: the first spec that takes the value's JSON type;
- ``("map", keys, spec, max)``: an object of at most max entries whose keys are ``"field"``, ``"pattern"``,
  ``"name"`` or ``"index"`` names and whose values are spec;
- ``("required", spec, keys)``: spec, and an object holding every one of keys;
- ``("window", spec, cap)``: spec, and its ``from`` + ``size`` at most cap (top_hits, inner_hits);
- ``("mixed", TABLE, spec)``: TABLE's keys plus exactly one field-name key whose value is spec (``terms``,
  ``geo_distance``, decay functions, ``_geo_distance`` sort).
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from typing import Any

from telltale.platform.errors import QueryValidationError
from telltale.sources._elasticsearch_grammar import (  # the tables: the source's allow-list
    AGGS,
    BUCKET_AGGS,
    LONG_MIN,
    MAX_DEPTH,
    MAX_FIELDS,
    MAX_INT,
    MAX_NODES,
    MAX_RESULT_WINDOW,
    MAX_TIMEOUT_S,
    METADATA_FIELDS,
    MULTI_TERM_QUERIES,
    NAMED,
    QUERIES,
    REASONS,
    SORT_PARAMS,
    SPAN_QUERIES,
    TOP_LEVEL,
    ULONG_MAX,
)


# =========================================================================================== the walk
class _Refused(Exception):
    pass


def refuse(reason: str) -> QueryValidationError:
    # A refusal quotes the body's own keys: bounded, and with lone surrogates escaped so the reply can encode.
    reason = reason.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(reason) > 600:
        reason = reason[:600] + "..."
    return QueryValidationError(f"query refused: {reason}", errors={"query_text": [reason]})


_FIELD = re.compile(r"(?!_)[\w@][\w@-]*(?:\.[\w@-]+)*")           # a plain field path: status, address.city
_PATTERN = re.compile(r"(?!_)[\w@*][\w@*-]*(?:\.[\w@*-]+)*")          # a returned-fields pattern: address.*
_NAME = re.compile(r"[\w@][\w@.:-]{0,127}")                      # analyzer, aggregation, suggestion names
_INDEX = re.compile(r"[a-z0-9][a-z0-9._+-]{0,254}")               # an index name (the characters ES allows)
_TIME = re.compile(r"(\d{1,9})(nanos|micros|ms|s|m|h|d)")
_FLAGS = re.compile(r"[A-Z_]+(\|[A-Z_]+)*")                     # regexp / simple_query_string flags
_TIME_ZONE = re.compile(r"[A-Za-z_/+\-:0-9]{1,64}")
_MSM = re.compile(r"[0-9<>%\- ]{1,64}")
_FUZZINESS = re.compile(r"AUTO(:\d{1,3},\d{1,3})?|[012]")
_BUCKETS_PATH = re.compile(r"(_count|_key|_bucket_count|[\w-]+(>[\w-]+)*(\.[\w-]+|\[[\w .%-]+\])?"
                           r"(\._count|\._bucket_count)?)")
_AGG_ORDER_KEY = re.compile(r"_count|_key|[\w-]+(>[\w-]+)*(\.[\w-]+|\[[\w .%-]+\])?")
_CALENDAR = frozenset({"minute", "1m", "hour", "1h", "day", "1d", "week", "1w", "month", "1M", "quarter", "1q",
                       "year", "1y"})
_TIME_S = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}


class _Walk:
    def __init__(self, allowed_index: str | None) -> None:
        self.allowed_index = allowed_index
        self.nodes = 0

    # ---------------------------------------------------------------------------------- dispatch
    def check(self, spec: Any, value: Any, path: str, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Refused(f"the search body has more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _Refused(f"the search body is nested deeper than {MAX_DEPTH} levels (at '{path}')")
        if isinstance(spec, str):
            if spec in NAMED:
                return self.check(NAMED[spec], value, path, depth)
            return _LEAVES[spec](self, value, path, depth)
        op = spec[0]
        if op == "int":
            if type(value) is not int or not spec[1] <= value <= spec[2]:
                raise _Refused(f"'{path}' must be an integer from {spec[1]} to {spec[2]}")
        elif op == "num":
            if not _is_number(value) or not spec[1] <= value <= spec[2]:
                raise _Refused(f"'{path}' must be a number from {spec[1]} to {spec[2]}")
        elif op == "enum":
            if not any(type(value) is type(v) and value == v for v in spec[1:]):
                reason = REASONS.get(_last(path))
                raise _Refused(f"'{path}' is not allowed: {reason}" if reason else
                               f"'{path}' must be one of {', '.join(json.dumps(v) for v in spec[1:])}")
        elif op == "obj":
            self.obj(spec[1], value, path, depth)
        elif op == "list":
            if not isinstance(value, list):
                raise _Refused(f"'{path}' must be a list")
            if len(value) > spec[2]:
                raise _Refused(f"'{path}' has more than {spec[2]} items")
            for i, item in enumerate(value):
                self.check(spec[1], item, f"{path}[{i}]", depth + 1)
        elif op == "either":
            for option in spec[1:]:
                if _takes(option, value):
                    return self.check(option, value, path, depth)
            raise _Refused(f"'{path}' has the wrong type ({_json_type(value)})")
        elif op == "map":
            _, keys, inner, most = spec
            if not isinstance(value, dict) or not value:
                raise _Refused(f"'{path}' must be an object of {keys} names")
            if len(value) > most:
                raise _Refused(f"'{path}' takes at most {most} {keys} name{'s' if most > 1 else ''}")
            for key, item in value.items():
                where = _join(path, key)
                self.key(keys, key, where)
                self.check(inner, item, where, depth + 1)
        elif op == "required":
            self.check(spec[1], value, path, depth)
            missing = [k for k in spec[2] if k not in value]
            if missing:
                raise _Refused(f"'{path}' must name {' and '.join(missing)}")
        elif op == "window":
            self.check(spec[1], value, path, depth)
            if value.get("from", 0) + value.get("size", 3) > spec[2]:
                raise _Refused(f"'{path}': from + size must be at most {spec[2]} (index.max_inner_result_window)")
        elif op == "mixed":
            _, table, inner = spec
            if not isinstance(value, dict):
                raise _Refused(f"'{path}' must be an object")
            fields = [k for k in value if k not in table]
            if len(fields) != 1:
                raise _Refused(f"'{path}' must name exactly one field besides {', '.join(sorted(table))}")
            for key, item in value.items():
                where = _join(path, key)
                if key in table:
                    self.check(table[key], item, where, depth + 1)
                else:
                    self.key("field", key, where)
                    self.check(inner, item, where, depth + 1)
        else:  # pragma: no cover - a table typo
            raise AssertionError(f"unknown spec {spec!r}")
        return None

    def obj(self, table: dict[str, Any], value: Any, path: str, depth: int) -> None:
        if not isinstance(value, dict):
            raise _Refused(f"'{path}' must be an object")
        for key, item in value.items():
            where = _join(path, key)
            if key not in table:
                raise _Refused(_not_allowed(where, key, table))
            self.check(table[key], item, where, depth + 1)

    def key(self, kind: str, key: str, where: str) -> None:
        if kind == "field":
            _field(key, where)
        elif kind == "pattern":
            _pattern(key, where)
        elif kind == "index":
            self.index(key, where)
        elif not _NAME.fullmatch(key):
            raise _Refused(f"'{where}': the name '{key}' may hold only letters, digits and _ - . @ :")

    # ---------------------------------------------------------------------------------- grammar
    def query(self, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, dict) or len(value) != 1:
            raise _Refused(f"'{path}' must be an object naming exactly one query clause")
        ((kind, body),) = value.items()
        where = _join(path, kind)
        if kind not in QUERIES:
            raise _Refused(_not_allowed(where, kind, None, "not a known read-only query clause"))
        self.check(QUERIES[kind], body, where, depth + 1)

    def span(self, value: Any, path: str, depth: int, allowed: frozenset[str] = SPAN_QUERIES) -> None:
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)) not in allowed:
            kind = next(iter(value))
            raise _Refused(_not_allowed(_join(path, kind), kind, None,
                                        f"only {', '.join(sorted(allowed))} may appear here"))
        self.query(value, path, depth)

    def aggs(self, value: Any, path: str, depth: int) -> None:
        if not isinstance(value, dict):
            raise _Refused(f"'{path}' must be an object of named aggregations")
        for name, agg in value.items():
            where = _join(path, name)
            if not re.fullmatch(r"[\w@-][\w@ .-]{0,127}", name):
                raise _Refused(f"'{where}': an aggregation name may hold only letters, digits and _ - . @ space")
            if not isinstance(agg, dict):
                raise _Refused(f"'{where}' must be an object")
            kinds = [k for k in agg if k not in ("aggs", "aggregations", "meta")]
            for kind in kinds:
                if kind not in AGGS:
                    raise _Refused(_not_allowed(_join(where, kind), kind, None, "not a known aggregation"))
            if len(kinds) != 1:
                raise _Refused(f"'{where}' must name exactly one aggregation type")
            kind = kinds[0]
            self.check(AGGS[kind], agg[kind], _join(where, kind), depth + 2)
            subs = [k for k in ("aggs", "aggregations") if k in agg]
            if subs and kind not in BUCKET_AGGS:
                raise _Refused(f"'{_join(where, subs[0])}' is not allowed: only bucket aggregations have "
                               "sub-aggregations")
            if len(subs) > 1:
                raise _Refused(f"'{where}' has both aggs and aggregations")
            for sub in subs:
                self.aggs(agg[sub], _join(where, sub), depth + 2)
            if "meta" in agg:
                self.check(("map", "name", "value", 64), agg["meta"], _join(where, "meta"), depth + 2)

    def sort_item(self, value: Any, path: str, depth: int) -> None:
        if isinstance(value, str):
            return _field(value, path)
        if not isinstance(value, dict) or len(value) != 1:
            raise _Refused(f"'{path}' must be a field name or an object naming one field")
        ((key, item),) = value.items()
        where = _join(path, key)
        if key == "_geo_distance":
            return self.check("geo_distance_sort", item, where, depth + 1)
        if key in REASONS:
            raise _Refused(_not_allowed(where, key, None))
        _field(key, where)
        self.check(("either", ("enum", "asc", "desc"), ("obj", SORT_PARAMS)), item, where, depth + 1)
        return None

    def index(self, value: Any, where: str) -> None:
        if not isinstance(value, str) or self.allowed_index is None or not _index_allowed(value, self.allowed_index):
            raise _Refused(f"index '{value}' at '{where}' is outside the secret's index pattern")


# ---------------------------------------------------------------------------------------- leaves
def _string(value: Any, path: str, most: int = 100_000) -> str:
    if not isinstance(value, str):
        raise _Refused(f"'{path}' must be a string")
    if len(value) > most:
        raise _Refused(f"'{path}' is longer than {most} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(f"'{path}' holds a lone surrogate (not valid Unicode)") from None
    return value


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and not (type(value) is float and not math.isfinite(value))


def _field(value: Any, path: str) -> None:
    name = _string(value, path, 256)
    if name in METADATA_FIELDS:
        return
    if not _FIELD.fullmatch(name):
        raise _Refused(f"'{path}': '{name}' is not a plain field name (letters, digits, _ - @ and dots; "
                       f"no wildcards; no leading _ except {', '.join(sorted(METADATA_FIELDS))})")


def _pattern(value: Any, path: str) -> None:
    name = _string(value, path, 256)
    if name not in METADATA_FIELDS and name != "_none_" and not _PATTERN.fullmatch(name):
        raise _Refused(f"'{path}': '{name}' is not a field name or pattern")


def _leaf_regex(pattern: re.Pattern[str], what: str, most: int = 256) -> Any:
    def check(walk: _Walk, value: Any, path: str, depth: int) -> None:
        if not pattern.fullmatch(_string(value, path, most)):
            raise _Refused(f"'{path}' must be {what}")
    return check


def _leaf_value(walk: _Walk, value: Any, path: str, depth: int) -> None:
    if isinstance(value, str):
        _string(value, path)
    elif not (type(value) is bool or _is_number(value)):
        raise _Refused(f"'{path}' must be a string, number or boolean")


def _leaf_value_or_null(walk: _Walk, value: Any, path: str, depth: int) -> None:
    if value is not None:
        _leaf_value(walk, value, path, depth)


def _leaf_str(walk: _Walk, value: Any, path: str, depth: int) -> None:
    _string(value, path)


def _leaf_bool(walk: _Walk, value: Any, path: str, depth: int) -> None:
    if type(value) is not bool:
        raise _Refused(f"'{path}' must be true or false")


def _leaf_num(walk: _Walk, value: Any, path: str, depth: int) -> None:
    if not _is_number(value):
        raise _Refused(f"'{path}' must be a number")


def _leaf_msm(walk: _Walk, value: Any, path: str, depth: int) -> None:
    if type(value) is int and -MAX_INT <= value <= MAX_INT:
        return
    if not isinstance(value, str) or not _MSM.fullmatch(_string(value, path, 64)):
        raise _Refused(f"'{path}' must be an integer or a minimum_should_match expression like '75%'")


def _leaf_fuzziness(walk: _Walk, value: Any, path: str, depth: int) -> None:
    if type(value) is int and 0 <= value <= 2:
        return
    if not isinstance(value, str) or not _FUZZINESS.fullmatch(_string(value, path, 16)):
        raise _Refused(f"'{path}' must be 0, 1, 2, AUTO or AUTO:low,high")


def _leaf_timeout(walk: _Walk, value: Any, path: str, depth: int) -> None:
    match = _TIME.fullmatch(_string(value, path, 16))
    if not match or int(match[1]) * _TIME_S[match[2]] > MAX_TIMEOUT_S:
        raise _Refused(f"'{path}' must be a time like '5s', at most {MAX_TIMEOUT_S}s")


def _leaf_calendar(walk: _Walk, value: Any, path: str, depth: int) -> None:
    if _string(value, path, 16) not in _CALENDAR:
        raise _Refused(f"'{path}' must be one of {', '.join(sorted(_CALENDAR))}")


def _leaf_agg_order(walk: _Walk, value: Any, path: str, depth: int) -> None:
    items = value if isinstance(value, list) else [value]
    if not items or len(items) > 8:
        raise _Refused(f"'{path}' must be one to eight {{key: asc|desc}} objects")
    for i, item in enumerate(items):
        where = f"{path}[{i}]" if isinstance(value, list) else path
        if not isinstance(item, dict) or len(item) != 1:
            raise _Refused(f"'{where}' must be an object like {{\"_count\": \"desc\"}}")
        ((key, direction),) = item.items()
        if not _AGG_ORDER_KEY.fullmatch(_string(key, where, 256)) or direction not in ("asc", "desc"):
            raise _Refused(f"'{_join(where, key)}' must order by _count, _key or a sub-aggregation, asc or desc")


def _leaf_boosted_fields(walk: _Walk, value: Any, path: str, depth: int) -> None:
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_FIELDS:
        raise _Refused(f"'{path}' has more than {MAX_FIELDS} fields")
    for i, item in enumerate(items):
        where = f"{path}[{i}]" if isinstance(value, list) else path
        name, caret, boost = _string(item, where, 300).partition("^")
        _field(name, where)
        if caret and not re.fullmatch(r"\d{1,6}(\.\d{1,6})?", boost):
            raise _Refused(f"'{where}': the boost after ^ must be a number")


_LEAVES: dict[str, Any] = {
    "str": _leaf_str, "bool": _leaf_bool, "num": _leaf_num, "value": _leaf_value,
    "value_or_null": _leaf_value_or_null,
    "field": lambda w, v, p, d: _field(v, p), "pattern": lambda w, v, p, d: _pattern(v, p),
    "boosted_fields": _leaf_boosted_fields,
    "name": _leaf_regex(_NAME, "a name (letters, digits, _ - . @ :)", 128),
    "time": _leaf_regex(_TIME, "a time like 30s, 1h or 7d", 16),
    "flags": _leaf_regex(_FLAGS, "flags like AND|OR|PREFIX", 256),
    "time_zone": _leaf_regex(_TIME_ZONE, "a time zone like +01:00 or Europe/Paris", 64),
    "buckets_path": _leaf_regex(_BUCKETS_PATH, "a buckets path like 'sales_per_month>sales'", 256),
    "calendar_interval": _leaf_calendar, "timeout": _leaf_timeout, "msm": _leaf_msm,
    "fuzziness": _leaf_fuzziness, "agg_order": _leaf_agg_order,
    "query": lambda w, v, p, d: w.query(v, p, d),
    "span": lambda w, v, p, d: w.span(v, p, d),
    "multi_term_query": lambda w, v, p, d: w.span(v, p, d, MULTI_TERM_QUERIES),
    "aggs": lambda w, v, p, d: w.aggs(v, p, d),
    "sort_item": lambda w, v, p, d: w.sort_item(v, p, d),
    "index": lambda w, v, p, d: w.index(v, p),
}
_JSON_KIND: dict[str, tuple[type, ...]] = {
    "str": (str,), "bool": (bool,), "num": (int, float), "value": (str, int, float, bool),
    "value_or_null": (str, int, float, bool, type(None)), "field": (str,), "pattern": (str,),
    "boosted_fields": (str, list), "name": (str,), "time": (str,), "flags": (str,), "time_zone": (str,),
    "buckets_path": (str,),
    "calendar_interval": (str,), "timeout": (str,), "msm": (str, int), "fuzziness": (str, int),
    "agg_order": (dict, list), "query": (dict,), "span": (dict,), "multi_term_query": (dict,), "aggs": (dict,),
    "sort_item": (str, dict), "index": (str,),
}


def _takes(spec: Any, value: Any) -> bool:
    """Whether ``spec`` is the option of an ``either`` meant for the JSON type of ``value``."""
    if isinstance(spec, str):
        if spec in NAMED:
            return _takes(NAMED[spec], value)
        kinds = _JSON_KIND[spec]
    elif spec[0] == "int":
        kinds = (int,)
    elif spec[0] == "num":
        kinds = (int, float)
    elif spec[0] == "enum":
        kinds = tuple({type(v) for v in spec[1:]})
    elif spec[0] in ("obj", "map", "mixed", "window", "required"):
        kinds = (dict,)
    elif spec[0] == "list":
        kinds = (list,)
    else:
        return any(_takes(option, value) for option in spec[1:])
    if type(value) is bool:
        return bool in kinds
    return isinstance(value, kinds)


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "list", dict: "object",
            type(None): "null"}.get(type(value), type(value).__name__)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _last(path: str) -> str:
    return path.rsplit(".", 1)[-1].split("[", 1)[0]


def _not_allowed(where: str, key: str, table: dict[str, Any] | None, default: str = "") -> str:
    reason = REASONS.get(str(key).lower())
    if not reason:
        reason = default or f"not a parameter here; allowed: {', '.join(sorted(table or {}))}"
    return f"'{where}' is not allowed: {reason}"


# ---------------------------------------------------------------------------------------- indices
def _index_allowed(requested: str, allowed: str) -> bool:
    """Each comma-separated name is a plain index name within the secret's pattern and not excluded by it."""
    parts = [p.strip() for p in allowed.split(",") if p.strip()]
    patterns = [p for p in parts if not p.startswith("-")]
    excluded = [p[1:] for p in parts if p.startswith("-")]
    for part in requested.split(","):
        if part in patterns and part not in excluded:
            continue  # the secret's own pattern, as written
        # A narrower name is fine (logs-2024 within logs-*), a wider pattern, a remote cluster (a:b), date math
        # (<logs-{now}>), a path or an exclusion (-x) is not.
        if not _INDEX.fullmatch(part) or part in (".", ".."):
            return False
        if not any(fnmatch.fnmatchcase(part, p) for p in patterns):
            return False
        if any(fnmatch.fnmatchcase(part, p) for p in excluded):
            return False
    return True


# ---------------------------------------------------------------------------------------- parsing
def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # Python keeps the last of duplicate keys, Elasticsearch refuses or keeps the last depending on
            # the version: the guard must not check one and send another.
            raise _Refused(f"the key '{key}' appears twice in one object")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _int(text: str) -> int:
    value = int(text)
    if not LONG_MIN <= value <= ULONG_MAX:
        raise _Refused(f"the integer {text[:30]}{'...' if len(text) > 30 else ''} is out of range for "
                       "Elasticsearch")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:30]} is out of range")
    return value


def check(text: str, allowed_index: str | None) -> dict[str, Any]:
    """The search body as a dict, or a QueryValidationError naming the reason.

    ``allowed_index`` is the secret's index pattern (comma-separated, ``-`` exclusions); ``None`` allows no
    index reference at all."""
    try:
        body = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant, parse_int=_int,
                          parse_float=_float)
    except _Refused as exc:
        raise refuse(str(exc)) from None
    except RecursionError:
        raise refuse(f"the search body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise refuse(f"the Elasticsearch query is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(body, dict):
        raise refuse("the Elasticsearch query must be a JSON object (a _search body)")
    walk = _Walk(allowed_index)
    try:
        for key, value in body.items():
            if key not in TOP_LEVEL:
                raise _Refused(_not_allowed(key, key, None, "not allowed in a search body; allowed keys: "
                                            + ", ".join(sorted(TOP_LEVEL))))
            walk.check(TOP_LEVEL[key], value, key, 1)
        if "aggs" in body and "aggregations" in body:
            raise _Refused("the body has both aggs and aggregations")
        if body.get("from", 0) + body.get("size", 10) > MAX_RESULT_WINDOW:
            raise _Refused(f"from + size must be at most {MAX_RESULT_WINDOW} (index.max_result_window)")
    except _Refused as exc:
        raise refuse(str(exc)) from None
    return body

