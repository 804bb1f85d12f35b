"""SQL anonymization and table/column extraction with sqlglot.

The anonymized text is built from sqlglot's token stream (tokenized once, then parsed from the same tokens)
instead of regenerating SQL from the tree: it costs almost nothing on top of the parse, keeps the query
recognisable, and never re-emits a literal. Every string, numeric and bind-parameter token becomes ``?``,
keywords are upper-cased, unquoted identifiers lower-cased, comments and spacing dropped and lists made only
of values (``IN (?, ?, …)``) collapsed to ``(?)``, so the same query with other values yields the same pattern.

Tables and columns come from the parsed tree. CTE names are not tables; table functions are not tables.
A query sqlglot cannot parse is still anonymized (from its tokens, or with a regex if even tokenizing
fails) and flagged ``parse_failed``; it is never stored raw.
"""

from __future__ import annotations

import hashlib
import re
import threading
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from telltale.platform.log import quiet_sqlglot

# BI and query-log SQL holds customers' values (and at times passwords): sqlglot must not log it.
quiet_sqlglot()

# BI tools' and warehouses' names for sqlglot dialects.
DIALECT_ALIASES = {
    "postgresql": "postgres", "postgres": "postgres", "redshift": "redshift", "snowflake": "snowflake",
    "bigquery": "bigquery", "bigquery-cloud-sdk": "bigquery", "mysql": "mysql", "mariadb": "mysql",
    "mssql": "tsql", "sqlserver": "tsql", "tsql": "tsql", "clickhouse": "clickhouse", "clickhousedb": "clickhouse",
    "trino": "trino", "presto": "presto", "athena": "athena", "awsathena": "athena", "databricks": "databricks",
    "spark": "spark", "hive": "hive", "duckdb": "duckdb", "sqlite": "sqlite", "oracle": "oracle",
    "teradata": "teradata",
}

# Schemas whose tables are the database's own catalog, not data anyone owns.
SYSTEM_SCHEMAS = {"information_schema", "pg_catalog"}

MAX_SQL_CHARS = 200_000


def dialect_name(name: str | None) -> str | None:
    """The sqlglot dialect for a tool's database name (``postgresql`` -> ``postgres``); None = generic."""
    if not name:
        return None
    return DIALECT_ALIASES.get(name.strip().lower())


_TEMPLATE_VAR = re.compile(r"\{\{.*?\}\}", re.S)
_TEMPLATE_BLOCK = re.compile(r"\{%.*?%\}", re.S)
_TABLEAU_PARAM = re.compile(r"<\[Parameters\]\.\[[^\]]*\]>")


def strip_templates(sql: str) -> str:
    """BI templating is not SQL: variables (Jinja/Metabase ``{{x}}``, Tableau ``<[Parameters].[x]>``) become a
    literal (then ``?``), Jinja blocks vanish and Metabase's optional-clause brackets ``[[ … ]]`` are opened."""
    sql = _TEMPLATE_VAR.sub("1", sql)
    sql = _TEMPLATE_BLOCK.sub(" ", sql)
    sql = _TABLEAU_PARAM.sub("1", sql)
    if "[[" in sql:
        sql = sql.replace("[[", " ").replace("]]", " ")
    return sql


@dataclass
class Analysis:
    sql_text: str
    pattern_hash: str
    tables: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    # "<schema>.<table>|<column>" for each column whose table the query makes certain (split_table's
    # lower-cased last two parts, schema '' when unqualified), so usage can credit a column to its own table.
    column_keys: list[str] = field(default_factory=list)
    parse_failed: bool = False


@lru_cache(maxsize=32)
def _dialect(name: str | None) -> Any:
    from sqlglot.dialects.dialect import Dialect

    return Dialect.get_or_raise(name or "")


_workers = threading.local()


def _tools(dialect: str | None) -> tuple[Any, Any]:
    """This thread's tokenizer and parser for a dialect: both reset themselves on each call, and building
    them anew for every query costs a noticeable share of a small query's time."""
    cache = getattr(_workers, "tools", None)
    if cache is None:
        cache = _workers.tools = {}
    tools = cache.get(dialect)
    if tools is None:
        from sqlglot import ErrorLevel

        d = _dialect(dialect)
        tools = cache[dialect] = (d.tokenizer(), d.parser(error_level=ErrorLevel.IMMEDIATE))
    return tools


@lru_cache(maxsize=1)
def _exp() -> Any:
    from sqlglot import exp

    return exp


@lru_cache(maxsize=1)
def _token_categories() -> tuple[dict[Any, int], Any]:
    """Token type -> 0 literal, 1 bind parameter, 2 quoted identifier, 3 name (lower-cased); others are
    keywords and punctuation (upper-cased)."""
    from sqlglot.tokens import TokenType as T

    literals = (T.STRING, T.NUMBER, T.NATIONAL_STRING, T.BIT_STRING, T.HEX_STRING, T.BYTE_STRING, T.RAW_STRING,
                T.HEREDOC_STRING, T.UNICODE_STRING, T.PLACEHOLDER)
    cats: dict[Any, int] = dict.fromkeys(literals, 0)
    cats[T.PARAMETER] = 1
    cats[T.IDENTIFIER] = 2
    cats[T.VAR] = 3
    return cats, T


_VALUE_LIST = re.compile(r"\(\?(?:, \?)+\)")
_VALUE_ROWS = re.compile(r"\(\?\)(?:, \(\?\))+")


@lru_cache(maxsize=1)
def _spaced_before_paren() -> frozenset[Any]:
    """Keywords after which "(" opens a list or a subquery and stays spaced; after any other word it is a
    call and sticks to it: f(x)."""
    from sqlglot.tokens import TokenType as T

    names = ("IN", "ALIAS", "FROM", "JOIN", "ON", "AND", "OR", "NOT", "WHERE", "SELECT", "VALUES", "EXISTS", "WITH",
             "UNION", "ALL", "ANY", "SOME", "USING", "OVER", "INTERSECT", "EXCEPT", "HAVING", "THEN", "ELSE", "WHEN",
             "INTO", "LATERAL", "IS", "LIKE", "ILIKE", "BETWEEN", "ROLLUP", "CUBE", "FILTER", "WITHIN_GROUP",
             "GROUP_BY", "TABLE", "LIMIT", "QUALIFY", "WINDOW", "CASE", "RETURNING", "SET", "DISTINCT", "COMMA",
             "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "PLUS", "DASH", "STAR", "SLASH", "L_PAREN", "SEMICOLON",
             "ORDER_BY", "PARTITION_BY", "GROUPING_SETS", "RECURSIVE", "SAMPLE", "TABLE_SAMPLE", "MOD", "PIPE",
             "DPIPE", "AMP", "CARET", "COLON", "FARROW", "ARROW", "DARROW", "HASH_ARROW", "DHASH_ARROW")
    return frozenset(getattr(T, n) for n in names if hasattr(T, n))


def _pattern_from_tokens(sql: str, tokens: list[Any], hidden: _Hidden | None = None) -> str:
    """``hidden``: spans of the text that may hold a literal whatever the tokens say (no dialect); a token
    inside one becomes ``?``, once per span."""
    cats, T = _token_categories()
    dot, lparen, dash, colon, number = T.DOT, T.L_PAREN, T.DASH, T.COLON, T.NUMBER
    spaced = _spaced_before_paren()
    out: list[str] = []
    append = out.append
    skip = False
    prev_tt = None
    last = len(tokens) - 1
    last_span = -1
    for i, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        if hidden is not None:
            span = hidden.find(tok.start, tok.end + 1)
            if span >= 0:
                if span != last_span:
                    append("?")
                last_span, prev_tt = span, T.PLACEHOLDER
                continue
            last_span = -1
        tt = tok.token_type
        if tt is dash or tt is colon:
            nxt = tokens[i + 1] if i < last else None
            if tt is dash and nxt is not None and nxt.token_type is number and (prev_tt is None
                                                                               or prev_tt in spaced):
                continue  # a negative number is a value like any other: x = -5 is the pattern of x = 5
            if (tt is colon and nxt is not None and nxt.start == tok.end + 1
                    and (nxt.text[:1].isalnum() or nxt.text[:1] == "_")
                    and (prev_tt is None or prev_tt in spaced or tokens[i - 1].end + 1 < tok.start)):
                # A :name or :1 bind parameter (not Snowflake's v:field path, which hugs the name before it).
                append("?")
                skip = True
                prev_tt = T.PLACEHOLDER
                continue
        if tt is lparen and out and prev_tt not in spaced:
            out[-1] += "("  # a call: f(x)
            prev_tt = tt
            continue
        c = cats.get(tt, 4)
        if c == 0:
            append("?")
        elif c == 1:
            append("?")
            # A bind parameter ($1, :name, @p) is one value: its marker and its number or name together.
            if i < last and tokens[i + 1].start == tok.end + 1 and tokens[i + 1].token_type in (T.NUMBER, T.VAR):
                skip = True
        elif c == 2:
            append(sql[tok.start:tok.end + 1])
        elif c == 3 or prev_tt is dot or (i < last and tokens[i + 1].token_type is dot):
            append(tok.text.lower())  # a name, even when it is spelled like a keyword (r.name)
        else:
            append(tok.text.upper())
        prev_tt = tt
    text = " ".join(out)
    text = (text.replace(" ,", ",").replace("( ", "(").replace(" )", ")").replace(" . ", ".")
            .replace("[ ", "[").replace(" ]", "]").replace(" ;", ";"))
    # IN (?, ?, ?) and VALUES (?, ?), (?, ?) lists of any length (and row count) are the same pattern.
    return _VALUE_ROWS.sub("(?)", _VALUE_LIST.sub("(?)", text))


_NUMBER = re.compile(r"(?<![\w$.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_SPACE = re.compile(r"\s+")
_FROM_JOIN = re.compile(r"\b(?:from|join)\s+((?:[A-Za-z_][\w$]*|\"[^\"]+\"|`[^`]+`)"
                        r"(?:\.(?:[A-Za-z_][\w$]*|\"[^\"]+\"|`[^`]+`)){0,2})", re.I)


_NOT_TABLES = {"select", "lateral", "unnest", "where", "group", "order", "limit", "on", "join", "from", "as"}


@dataclass(frozen=True)
class _Quoting:
    """How a dialect quotes, read from sqlglot's own tokenizer for it: string openers (with their closer and
    whether a backslash escapes inside them), identifier openers, dollar quoting and comment markers."""

    strings: tuple[tuple[str, str, bool], ...]
    identifiers: tuple[tuple[str, str], ...]
    dollar: bool
    comments: tuple[tuple[str, str | None], ...]
    firsts: frozenset[str]  # the characters any of those can start with


@lru_cache(maxsize=64)
def _quoting(dialect: str | None, backslash: bool | None = None) -> _Quoting:
    """``backslash`` None: as the dialect says; True/False: forced (for the no-dialect, hide-both reading)."""
    tok = _dialect(dialect).tokenizer_class
    escapes = "\\" in tok._STRING_ESCAPES if backslash is None else backslash
    strings: dict[str, tuple[str, bool]] = {q: (end, escapes) for q, end in tok._QUOTES.items()}
    dollar = False
    for opener, (end, _kind) in tok._FORMAT_STRINGS.items():
        if opener.startswith("$"):
            dollar = True  # $$ ... $$ or $tag$ ... $tag$
        elif opener[-1] in "'\"":
            prefix = opener.rstrip("'\"").lower()
            # E'..' is PostgreSQL's escape string. (In BigQuery's raw r'..' a backslash is kept, but a quote
            # after it still does not end the string, as in Python.)
            strings[opener.lower()] = (end, escapes or prefix == "e")
    # A character that opens both a string and an identifier (MySQL's and T-SQL's "): taken as a string.
    ident_map = dict(tok._IDENTIFIERS)
    comment_map = dict(tok._COMMENTS)
    if dialect is None:
        # No dialect: any quoting some database uses counts (all of it is hidden then).
        dollar = True
        ident_map.update({"`": "`", "[": "]"})
        comment_map.update({"#": None, "//": None})
    idents = tuple((q, end) for q, end in ident_map.items() if q not in strings)
    comments = tuple((c, end) for c, end in comment_map.items() if not c.startswith("{"))

    def longest_first(item: tuple[Any, ...]) -> int:
        return -len(item[0])  # a triple quote before a single one, E' before '

    openers = [*strings, *(q for q, _ in idents), *(c for c, _ in comments), *(["$"] if dollar else [])]
    return _Quoting(tuple(sorted(((q, e, b) for q, (e, b) in strings.items()), key=longest_first)),
                    tuple(sorted(idents, key=longest_first)), dollar, tuple(sorted(comments, key=longest_first)),
                    frozenset(c for o in openers for c in (o[0].lower(), o[0].upper())))


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_]\w*)?\$")


def _quoted_spans(sql: str, q: _Quoting) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every string ("s"), quoted identifier ("i") and comment ("c") in ``sql``. An
    unterminated quote or comment runs to the end of the text."""
    spans: list[tuple[int, int, str]] = []
    n, i = len(sql), 0
    lower = sql.lower()
    while i < n:
        if sql[i] not in q.firsts:
            i += 1
            continue
        stop, kind = _span_at(sql, lower, i, q)
        if stop is None:
            i += 1
            continue
        spans.append((i, stop, kind))
        i = stop
    return spans


def _span_at(sql: str, lower: str, i: int, q: _Quoting) -> tuple[int | None, str]:
    for marker, end in q.comments:
        if sql.startswith(marker, i):
            stop = sql.find(end or "\n", i + len(marker))
            return (len(sql) if stop < 0 else stop + len(end or "\n")), "c"
    if i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_") and sql[i] not in "'\"`[":
        return None, ""  # the last letters of a word that happen to look like a prefix (name'x')
    for opener, close, backslash in q.strings:
        if lower.startswith(opener, i):
            return _close(sql, i + len(opener), close, backslash), "s"
    if q.dollar and sql[i] == "$":
        m = _DOLLAR_TAG.match(sql, i)
        if m:
            stop = sql.find(m.group(0), m.end())
            return (len(sql) if stop < 0 else stop + len(m.group(0))), "s"
    for opener, close in q.identifiers:
        if sql[i] == opener:
            return _close(sql, i + 1, close, False), "i"
    return None, ""


def _close(sql: str, i: int, close: str, backslash: bool) -> int:
    """The index just past the quote that closes a span whose text starts at ``i`` (a doubled quote stands
    for one quote character); the end of the text when nothing closes it."""
    n = len(sql)
    while i < n:
        if backslash and sql[i] == "\\":
            i += 2
            continue
        if sql.startswith(close, i):
            if len(close) == 1 and sql.startswith(close, i + 1):
                i += 2
                continue
            return i + len(close)
        i += 1
    return n


def regex_anonymize(sql: str, dialect: str | None = None) -> str:
    """Anonymization that needs no tokenizer: for text sqlglot cannot read (an unterminated quote, SQL cut
    at MAX_SQL_CHARS, bytes it rejects).

    Strings are found with the dialect's own quoting rules (sqlglot's tables of them). Without a dialect
    nothing is certain, so every quoted span of any kind is hidden, under both readings of a backslash
    (an escape, or a plain character): a literal is hidden whichever reading the database uses. Numbers are
    hidden everywhere, comments dropped, and an unterminated quote hides the rest of the text.
    """
    if dialect is None:
        spans = _quoted_spans(sql, _quoting(None, True)) + _quoted_spans(sql, _quoting(None, False))
        hidden = _merge(spans, hide_names=True)
    else:
        hidden = _merge(_quoted_spans(sql, _quoting(dialect)), hide_names=False)
    out: list[str] = []
    pos = 0
    for start, end, text in hidden:
        out.append(_NUMBER.sub("?", sql[pos:start]))
        out.append(sql[start:end] if text is None else text)
        pos = end
    out.append(_NUMBER.sub("?", sql[pos:]))
    return _SPACE.sub(" ", "".join(out)).strip()


def _merge(spans: list[tuple[int, int, str]], *, hide_names: bool) -> list[tuple[int, int, str | None]]:
    """Overlapping spans joined; each is replaced by "?" (it holds a literal), " " (only a comment) or kept
    as it is (None: a quoted name)."""
    merged: list[list[Any]] = []
    for start, end, kind in sorted(spans):
        hide = kind == "s" or (kind == "i" and hide_names)
        if merged and start < merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], end)
            last[2] = last[2] or hide
            last[3] = last[3] and kind == "c"
        else:
            merged.append([start, end, hide, kind == "c"])
    return [(s, e, "?" if hide else (" " if comment else None)) for s, e, hide, comment in merged]


def _hash(pattern: str) -> str:
    return hashlib.md5(pattern.encode(), usedforsecurity=False).hexdigest()


def _table_name(table: Any) -> str | None:
    if not isinstance(table.this, _exp().Identifier):
        return None  # a table function (UNNEST, generate_series, TABLE(...)) reads no stored table
    parts = [p for p in (table.catalog, table.db, table.name) if p]
    return ".".join(parts)


class _Hidden:
    """Sorted, disjoint [start, end) spans of a query's text that are hidden whatever the tokens say."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [m[0] for m in merged]
        self.ends = [m[1] for m in merged]

    def find(self, start: int, end: int) -> int:
        """The index of the span that [start, end) overlaps; -1 for none."""
        i = bisect_right(self.starts, end - 1) - 1
        return i if i >= 0 and self.ends[i] > start else -1

    def covers(self, node: Any) -> bool:
        """Whether a parsed identifier came from hidden text (sqlglot records its token's offsets)."""
        meta = getattr(node, "meta", None) or {}
        start, end = meta.get("start"), meta.get("end")
        return start is not None and end is not None and self.find(start, end + 1) >= 0


# Where a quoted identifier in the tree can only be a name: a table's parts and aliases, an alias, and a
# column's qualifiers (or the column itself once qualified: "t"."c" is no string in any dialect).
def _is_name_position(ident: Any) -> bool:
    exp = _exp()
    parent, key = ident.parent, ident.arg_key
    if isinstance(parent, exp.Column):
        return key != "this" or bool(parent.args.get("table"))
    return isinstance(parent, exp.Table | exp.TableAlias | exp.Alias)


@lru_cache(maxsize=1)
def _double_quoted_strings() -> _Quoting:
    """MySQL's (and BigQuery's, Spark's) reading: "..." is a string, and a backslash escapes in it. Its
    '...' strings and comments are read too, so that a quote inside them does not start one."""
    return _Quoting(strings=(('"', '"', True), ("'", "'", True)), identifiers=(), dollar=False,
                    comments=(("/*", "*/"), ("--", None)), firsts=frozenset("\"'/-"))


def _unsure_spans(sql: str, tokens: list[Any], trees: list[Any] | None) -> _Hidden:
    """With no dialect, what the generic tokenizer reads is one guess among several. Hidden: every string
    under both readings of a backslash (an escape or a plain character) and every double-quoted token
    that does not stand where only a name can (``"John Smith"`` is a string in MySQL and BigQuery, an
    identifier elsewhere); when the query did not parse, every double-quoted token."""
    spans = [(s, e) for reading in (_quoting(None, True), _quoting(None, False))
             for s, e, kind in _quoted_spans(sql, reading) if kind == "s"]
    names: set[int] = set()
    if trees:
        ident_cls = _exp().Identifier
        for tree in trees:
            for ident in tree.find_all(ident_cls):
                if ident.args.get("quoted") and _is_name_position(ident) and ident.meta.get("start") is not None:
                    names.add(ident.meta["start"])
    quoted_names = {tok.start: tok.end + 1 for tok in tokens
                    if sql[tok.start:tok.start + 1] == '"' and tok.start in names}
    for s, e, kind in _quoted_spans(sql, _double_quoted_strings()):
        if kind == "s" and sql[s] == '"' and quoted_names.get(s) != e:
            spans.append((s, e))  # a name's exact span stays; any other "..." (or a misaligned one) hides
    return _Hidden(spans)


def analyze(sql: str, dialect: str | None = None, *, default_schema: str | None = None) -> Analysis:
    """Anonymize ``sql`` and extract its tables and columns. Never raises on bad SQL.

    Without a dialect (a BI tool that does not say which database it queries) quoting is ambiguous, so
    whatever could be a literal under any common reading is hidden (see :func:`_unsure_spans`), and a
    column or table read from such text is not reported.
    """
    dialect = dialect_name(dialect) if dialect and dialect not in DIALECT_ALIASES.values() else dialect
    # PostgreSQL refuses NUL in text and jsonb; it is never part of a query's meaning.
    sql = strip_templates(sql[:MAX_SQL_CHARS].replace("\x00", ""))
    tokenizer, parser = _tools(dialect)
    try:
        tokens = tokenizer.tokenize(sql)
    except Exception:  # noqa: BLE001 - sqlglot raises several types (and Rust panics); all mean "unreadable"
        pattern = regex_anonymize(sql, dialect)
        return Analysis(pattern, _hash(pattern), _regex_tables(pattern), [], parse_failed=True)
    trees: list[Any] | None
    try:
        trees = [t for t in parser.parse(tokens, sql) if t is not None]
    except Exception:  # noqa: BLE001 - a parse failure is recorded, never fatal
        trees = None
    hidden = _unsure_spans(sql, tokens, trees) if dialect is None else None
    pattern = _pattern_from_tokens(sql, tokens, hidden)
    if trees is None:
        return Analysis(pattern, _hash(pattern), _regex_tables(pattern), [], parse_failed=True)
    tables, columns, column_keys, failed = _extract(trees, default_schema, hidden)
    return Analysis(pattern, _hash(pattern), tables, columns, column_keys, parse_failed=failed)


def split_table(name: str) -> tuple[str, str]:
    """(schema, table), lower-cased, for matching: 'Sales.Orders' -> ('sales', 'orders'); 'x' -> ('', 'x');
    'db.sales.orders' -> ('sales', 'orders')."""
    parts = name.strip().lower().split(".")
    return (parts[-2] if len(parts) > 1 else ""), parts[-1]


def _extract(trees: list[Any], default_schema: str | None,
             hidden: _Hidden | None = None) -> tuple[list[str], list[str], list[str], bool]:
    exp = _exp()
    table_cls, column_cls, cte_cls = exp.Table, exp.Column, exp.CTE
    ctes: set[str] = set()
    table_nodes: list[Any] = []
    columns: dict[str, None] = {}
    qualified: list[tuple[str, str]] = []  # (column, its qualifier, lower-cased; '' when none)
    failed = False
    for tree in trees:
        if isinstance(tree, exp.Command):
            failed = True  # sqlglot's "could not really parse this" node
        for node in tree.find_all(table_cls, column_cls, cte_cls, bfs=False):
            cls = node.__class__
            if cls is column_cls:
                ident = node.this
                name = ident.name if ident is not None else ""
                if hidden is not None and hidden.covers(ident):
                    continue  # read from text that may be a literal: a value, not a column
                if name and name != "*":
                    col = name if ident.args.get("quoted") else name.lower()
                    columns[col] = None
                    qualified.append((col, node.table.lower()))
            elif cls is cte_cls:
                ctes.add(node.alias_or_name.lower())
            elif isinstance(node, table_cls):
                table_nodes.append(node)
    tables: dict[str, None] = {}
    # Alias (or bare name) -> table key; None when two tables share it somewhere in the query.
    aliases: dict[str, str | None] = {}
    for t in table_nodes:
        found = _table_name(t)
        if not found or (hidden is not None and any(hidden.covers(p) for p in t.parts)):
            continue
        name = found
        db = t.db
        if not db and name.lower() in ctes:
            continue
        if db and db.lower() in SYSTEM_SCHEMAS:
            continue
        if not db and default_schema:
            name = f"{default_schema}.{name}"
        tables[name] = None
        key = ".".join(split_table(name))
        for alias in {t.alias_or_name.lower(), t.name.lower()}:
            aliases[alias] = key if aliases.get(alias, key) == key else None
    return list(tables), list(columns), _column_keys(qualified, aliases, ctes), failed


def _column_keys(qualified: list[tuple[str, str]], aliases: dict[str, str | None], ctes: set[str]) -> list[str]:
    """Which table each column belongs to, where the query says so: a qualifier naming one table, or any
    column of a query that reads a single table and no CTE. Others (a subquery's alias, a join's bare
    column) stay unattributed."""
    only = next(iter(aliases.values())) if len(set(aliases.values())) == 1 and not ctes else None
    keys: dict[str, None] = {}
    for col, qualifier in qualified:
        key = aliases.get(qualifier) if qualifier else only
        if key:
            keys[f"{key}|{col}"] = None
    return list(keys)


def _regex_tables(pattern: str) -> list[str]:
    """Best-effort table names for SQL that does not parse (so usage is not lost entirely), read from its
    anonymized pattern: a name inside a literal ('... from secret_table') is no table and must not leak."""
    seen: dict[str, None] = {}
    for m in _FROM_JOIN.finditer(pattern):
        name = m.group(1).replace('"', "").replace("`", "")
        if name.lower().split(".")[0] not in SYSTEM_SCHEMAS and name.lower() not in _NOT_TABLES:
            seen[name] = None
    return list(seen)
