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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

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


def _pattern_from_tokens(sql: str, tokens: list[Any]) -> str:
    cats, T = _token_categories()
    dot, lparen = T.DOT, T.L_PAREN
    spaced = _spaced_before_paren()
    out: list[str] = []
    append = out.append
    skip = False
    prev_tt = None
    last = len(tokens) - 1
    for i, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        tt = tok.token_type
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
    # IN (?, ?, ?) and VALUES (?, ?) lists of any length are the same pattern.
    return _VALUE_LIST.sub("(?)", text)


# Fallback when even the tokenizer gives up (an unterminated quote, bytes sqlglot cannot read).
_QUOTED = re.compile(r"'(?:[^'\\]|\\.|'')*'?|\$([A-Za-z_]*)\$.*?(?:\$\1\$|$)", re.S)
_NUMBER = re.compile(r"(?<![\w$.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)", re.S)
_SPACE = re.compile(r"\s+")
_FROM_JOIN = re.compile(r"\b(?:from|join)\s+((?:[A-Za-z_][\w$]*|\"[^\"]+\"|`[^`]+`)"
                        r"(?:\.(?:[A-Za-z_][\w$]*|\"[^\"]+\"|`[^`]+`)){0,2})", re.I)


_NOT_TABLES = {"select", "lateral", "unnest", "where", "group", "order", "limit", "on", "join", "from", "as"}


def regex_anonymize(sql: str) -> str:
    sql = _COMMENT.sub(" ", sql)
    sql = _QUOTED.sub("?", sql)
    sql = _NUMBER.sub("?", sql)
    return _SPACE.sub(" ", sql).strip()


def _hash(pattern: str) -> str:
    return hashlib.md5(pattern.encode(), usedforsecurity=False).hexdigest()


def _table_name(table: Any) -> str | None:
    if not isinstance(table.this, _exp().Identifier):
        return None  # a table function (UNNEST, generate_series, TABLE(...)) reads no stored table
    parts = [p for p in (table.catalog, table.db, table.name) if p]
    return ".".join(parts)


def analyze(sql: str, dialect: str | None = None, *, default_schema: str | None = None) -> Analysis:
    """Anonymize ``sql`` and extract its tables and columns. Never raises on bad SQL."""
    dialect = dialect_name(dialect) if dialect and dialect not in DIALECT_ALIASES.values() else dialect
    sql = strip_templates(sql[:MAX_SQL_CHARS])
    tokenizer, parser = _tools(dialect)
    try:
        tokens = tokenizer.tokenize(sql)
    except Exception:  # noqa: BLE001 - sqlglot raises several types (and Rust panics); all mean "unreadable"
        pattern = regex_anonymize(sql)
        return Analysis(pattern, _hash(pattern), _regex_tables(sql), [], parse_failed=True)
    pattern = _pattern_from_tokens(sql, tokens)
    try:
        trees = [t for t in parser.parse(tokens, sql) if t is not None]
    except Exception:  # noqa: BLE001 - a parse failure is recorded, never fatal
        return Analysis(pattern, _hash(pattern), _regex_tables(sql), [], parse_failed=True)
    tables, columns, failed = _extract(trees, default_schema)
    return Analysis(pattern, _hash(pattern), tables, columns, parse_failed=failed)


def _extract(trees: list[Any], default_schema: str | None) -> tuple[list[str], list[str], bool]:
    exp = _exp()
    table_cls, column_cls, cte_cls = exp.Table, exp.Column, exp.CTE
    ctes: set[str] = set()
    table_nodes: list[Any] = []
    columns: dict[str, None] = {}
    failed = False
    for tree in trees:
        if isinstance(tree, exp.Command):
            failed = True  # sqlglot's "could not really parse this" node
        for node in tree.find_all(table_cls, column_cls, cte_cls, bfs=False):
            cls = node.__class__
            if cls is column_cls:
                ident = node.this
                name = ident.name if ident is not None else ""
                if name and name != "*":
                    columns[name if ident.args.get("quoted") else name.lower()] = None
            elif cls is cte_cls:
                ctes.add(node.alias_or_name.lower())
            elif isinstance(node, table_cls):
                table_nodes.append(node)
    tables: dict[str, None] = {}
    for t in table_nodes:
        found = _table_name(t)
        if not found:
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
    return list(tables), list(columns), failed


def _regex_tables(sql: str) -> list[str]:
    """Best-effort table names for SQL that does not parse (so usage is not lost entirely)."""
    seen: dict[str, None] = {}
    for m in _FROM_JOIN.finditer(_COMMENT.sub(" ", sql)):
        name = m.group(1).replace('"', "").replace("`", "")
        if name.lower().split(".")[0] not in SYSTEM_SCHEMAS and name.lower() not in _NOT_TABLES:
            seen[name] = None
    return list(seen)
