"""SQL anonymization and table/column extraction with sqlglot.

The anonymized text is built from sqlglot's token stream (tokenized once, then parsed from the same tokens)
instead of regenerating SQL from the tree: it costs almost nothing on top of the parse, keeps the query
recognisable, and never re-emits a literal. Every string, numeric and bind-parameter token becomes ``?``,
keywords are upper-cased, unquoted identifiers lower-cased, comments and spacing dropped and ``IN (?, ?, …)``
collapsed to ``IN (?)``, so the same query with other values yields the same pattern.

Tables and columns come from the parsed tree. CTE names are not tables; table functions are not tables.
A query sqlglot cannot parse is still anonymized (from its tokens, or with a regex if even tokenizing
fails) and flagged ``parse_failed``; it is never stored raw.
"""

from __future__ import annotations

import hashlib
import re
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


@lru_cache(maxsize=1)
def _token_classes() -> tuple[frozenset[Any], frozenset[Any], frozenset[Any], frozenset[Any], Any]:
    from sqlglot.tokens import TokenType as T

    # Keywords after which "(" opens a list or subquery (spaced); after anything else it is a call: f(x).
    spaced_before_paren = frozenset({T.IN, T.ALIAS, T.FROM, T.JOIN, T.ON, T.AND, T.OR, T.NOT, T.WHERE, T.SELECT,
                                      T.VALUES, T.EXISTS, T.WITH, T.UNION, T.ALL, T.ANY, T.COMMA, T.USING,
                                      T.OVER, T.EQ, T.NEQ, T.GT, T.LT, T.GTE, T.LTE, T.PLUS, T.DASH, T.STAR,
                                      T.SLASH, T.INTERSECT, T.EXCEPT, T.HAVING, T.THEN, T.ELSE, T.WHEN,
                                      T.INSERT, T.INTO, T.LATERAL, T.IS, T.LIKE, T.ILIKE, T.BETWEEN})

    literals = frozenset({T.STRING, T.NUMBER, T.NATIONAL_STRING, T.BIT_STRING, T.HEX_STRING, T.BYTE_STRING,
                          T.RAW_STRING, T.HEREDOC_STRING, T.UNICODE_STRING, T.PLACEHOLDER})
    # Token types whose text is a name as the user typed it (kept, lower-cased unless quoted).
    names = frozenset({T.VAR, T.IDENTIFIER})
    no_space_before = frozenset({T.COMMA, T.R_PAREN, T.DOT, T.R_BRACKET, T.SEMICOLON})
    return literals, names, no_space_before, spaced_before_paren, T


def _pattern_from_tokens(sql: str, tokens: list[Any]) -> str:
    literals, names, no_space_before, spaced_before_paren, T = _token_classes()
    out: list[str] = []
    prev_type: Any = None
    list_run = False  # inside "(?, ?, ..." opened right after a parenthesis
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        tt = tok.token_type
        literal = tt in literals or tt == T.PARAMETER
        if literal:
            piece = "?"
            # Bind parameters ($1, :name, @p) stand for values: one '?' for the marker and its name/number.
            if tt == T.PARAMETER and i + 1 < n and tokens[i + 1].start == tok.end + 1 \
                    and tokens[i + 1].token_type in (T.NUMBER, T.VAR):
                i += 1
        elif tt == T.IDENTIFIER:
            piece = sql[tok.start:tok.end + 1]
        elif tt in names or prev_type == T.DOT or (i + 1 < n and tokens[i + 1].token_type == T.DOT):
            piece = tok.text.lower()  # a name, even when it is spelled like a keyword (r.name)
        else:
            piece = tok.text.upper()
        # IN (?, ?, ?) and VALUES (?, ?) lists of any length are the same pattern.
        if literal and list_run and len(out) >= 2 and out[-1] == "," and out[-2] == "?":
            out.pop()
            i += 1
            continue
        if literal:
            list_run = prev_type == T.L_PAREN
        elif tt != T.COMMA:
            list_run = False
        if out and tt not in no_space_before and prev_type not in (T.L_PAREN, T.DOT, T.L_BRACKET) \
                and not (tt == T.L_PAREN and prev_type not in spaced_before_paren):
            out.append(" ")
        out.append(piece)
        prev_type = tt
        i += 1
    return "".join(out)


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
    from sqlglot import exp

    if not isinstance(table.this, exp.Identifier):
        return None  # a table function (UNNEST, generate_series, TABLE(...)) reads no stored table
    parts = [p for p in (table.catalog, table.db, table.name) if p]
    return ".".join(parts)


def analyze(sql: str, dialect: str | None = None, *, default_schema: str | None = None) -> Analysis:
    """Anonymize ``sql`` and extract its tables and columns. Never raises on bad SQL."""
    dialect = dialect_name(dialect) if dialect and dialect not in DIALECT_ALIASES.values() else dialect
    sql = strip_templates(sql[:MAX_SQL_CHARS])
    d = _dialect(dialect)
    try:
        tokens = d.tokenize(sql)
    except Exception:  # noqa: BLE001 - sqlglot raises several types (and Rust panics); all mean "unreadable"
        pattern = regex_anonymize(sql)
        return Analysis(pattern, _hash(pattern), _regex_tables(sql), [], parse_failed=True)
    pattern = _pattern_from_tokens(sql, tokens)
    try:
        from sqlglot import ErrorLevel

        trees = [t for t in d.parser(error_level=ErrorLevel.IMMEDIATE).parse(tokens, sql) if t is not None]
    except Exception:  # noqa: BLE001 - a parse failure is recorded, never fatal
        return Analysis(pattern, _hash(pattern), _regex_tables(sql), [], parse_failed=True)
    tables, columns, failed = _extract(trees, default_schema)
    return Analysis(pattern, _hash(pattern), tables, columns, parse_failed=failed)


def _extract(trees: list[Any], default_schema: str | None) -> tuple[list[str], list[str], bool]:
    from sqlglot import exp

    ctes: set[str] = set()
    table_nodes: list[Any] = []
    columns: dict[str, None] = {}
    failed = False
    for tree in trees:
        if isinstance(tree, exp.Command):
            failed = True  # sqlglot's "could not really parse this" node
        for node in tree.walk():
            if isinstance(node, exp.Table):
                table_nodes.append(node)
            elif isinstance(node, exp.Column):
                name = node.name
                if name and name != "*":
                    columns[name.lower() if not node.this.quoted else name] = None
            elif isinstance(node, exp.CTE):
                ctes.add(node.alias_or_name.lower())
    tables: dict[str, None] = {}
    for t in table_nodes:
        found = _table_name(t)
        if not found:
            continue
        name = found
        if not t.db and name.lower() in ctes:
            continue
        if t.db and t.db.lower() in SYSTEM_SCHEMAS:
            continue
        if not t.db and default_schema:
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
