"""Tenant-scoped access to the platform database: the one place that adds the tenant predicate.

Platform SQL names no tenant. It is written as if the database held one tenant's rows, and reaches the
database through a scope, which rewrites it (once per SQL text) so that every reference to a tenant table
sees only the scope's tenant (the idea of PostHog's HogQL printer, which adds ``team_id`` to every query)::

    scope = scoped.tenant(auth.tenant_id)
    scope.query("SELECT id, name FROM usage.spaces WHERE slug = :s", s=slug)
    rows, total = scope.page("SELECT ... FROM usage.connectors ORDER BY name", limit=20, offset=40)
    with db.transaction() as tx:
        scope.run(tx, "INSERT INTO usage.products (space_id, name) VALUES (:sp, :n) RETURNING id", ...)

The rewrite, for every tenant table (:data:`TENANT_TABLES`):

- a read reference anywhere (FROM, JOIN, a comma list, a subquery or CTE, UPDATE ... FROM,
  DELETE ... USING) ``usage.x [AS] a`` becomes ``(SELECT * FROM usage.x WHERE tenant_id = :tenant_id) AS a``.
  PostgreSQL pulls such a subquery up into the query around it, so the plan is the one the hand-written
  predicate had (tests/integration/test_platform_scoped_pg.py compares the plans);
- the target of an UPDATE or DELETE gets ``<target>.tenant_id = :tenant_id AND (<its condition>)``;
- an INSERT gets ``tenant_id`` in its column list and ``:tenant_id`` in each row (VALUES) or as the first
  column of its SELECT, and its ``ON CONFLICT ... DO UPDATE`` gets ``WHERE <target>.tenant_id = :tenant_id``:
  an upsert whose conflict key lacks tenant_id still never updates another tenant's row.

Every other mention of a tenant table is refused with :class:`UnscopedSQL` at first use, a programming error
the tests catch: a tenant table named where the rewriter does not understand the position (a column
reference ``usage.x.col``, COPY, TRUNCATE, DDL, ``FOR UPDATE OF``, a parenthesized join, an unqualified
name, a name inside a string literal), a table of a tenant schema that is not listed, and ``tenant_id``
itself: the scope owns that column and its parameter, so scoped SQL never names them.

Work that spans tenants says so: :func:`across_tenants` (the ingest worker's mixed batches, schedulers
fanning out over tenants, a worker loading the job it was handed by id), and
tests/unit/test_platform_scoped_bypass.py keeps the list of the places allowed to, and fails when a
platform query on a tenant table goes around both.

A small tokenizer over our own static SQL, not sqlglot: platform handlers' cold start is measured against
``import boto3, pydantic``, and the rewrite of a text is cached, so it costs once per statement per process.
It lexes as PostgreSQL does (standard_conforming_strings on): nested block comments, dollar quoting,
E'' strings, quoted identifiers; Unicode-escape (U&) forms are refused.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from telltale.platform import db

if TYPE_CHECKING:
    import pg8000.native

# The tables whose rows belong to a tenant (a tenant_id column). tests/integration/test_platform_scoped_pg.py
# compares this with the migrated database, so a new table cannot be forgotten.
TENANT_TABLES: frozenset[tuple[str, str]] = frozenset({
    ("platform", "apps"), ("platform", "secrets"), ("platform", "saved_queries"), ("platform", "query_executions"),
    ("platform", "api_keys"), ("platform", "api_requests"), ("platform", "api_request_rollups"),
    ("platform", "api_monitors"), ("platform", "api_monitor_results"),
    ("events", "events"), ("events", "event_ids"), ("events", "active_users"), ("events", "tenant_stores"),
    ("usage", "connectors"), ("usage", "spaces"), ("usage", "products"), ("usage", "product_tables"),
    ("usage", "bi_queries"), ("usage", "sync_jobs"), ("usage", "product_usage_stats"),
})
# Schemas holding tenant tables only: any other table named in them (a partition of events.events, a table
# added without listing it above) is refused rather than read unscoped. Their functions (usage.table_keys)
# are fine.
TENANT_SCHEMAS: frozenset[str] = frozenset({"usage", "events"})

TENANT_PARAM = "tenant_id"
_TABLE_NAMES = frozenset(t for _, t in TENANT_TABLES)
_SCHEMAS = frozenset(s for s, _ in TENANT_TABLES) | TENANT_SCHEMAS


class UnscopedSQL(ValueError):
    """SQL that names a tenant table where the rewriter cannot scope it (a programming error)."""


# ------------------------------------------------------------------------------------------------- lexing
class Token(NamedTuple):
    kind: str  # word (unquoted, lower-cased), qword (quoted identifier), str, num, param, op, punct
    start: int
    end: int
    value: str


_WS = frozenset(" \t\n\r\f\v")
_OP_CHARS = frozenset("+-*/<>=~!@#%^&|`?")
_PUNCT = frozenset("()[],;.")
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# PostgreSQL lowers ASCII letters only, and takes every byte above 0x7f as a letter of an identifier.
# The classes say "no ASCII character outside the set": spelled with the range \x80-\U0010ffff, each
# took `re` milliseconds to compile at every cold start (benchmarks/README.md, figures the code relies on).
_START = r"[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f]"  # A-Z, a-z, _ and every non-ASCII character
_PART = r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # ... and 0-9
_IDENT_START = re.compile(_START)
_IDENT = re.compile(_START + r"(?:" + _PART + r"|\$)*")
_DOLLAR_TAG = re.compile(r"\$(?:" + _START + _PART + r"*)?\$")
_NUMBER = re.compile(r"0[xXoObB][0-9A-Fa-f_]+|(?:[0-9][0-9_]*(?:\.(?:[0-9][0-9_]*)?)?|\.[0-9][0-9_]*)"
                     r"(?:[eE][+-]?[0-9]+)?")
_PARAM = re.compile(r":([A-Za-z0-9_]+)")
_POSITIONAL = re.compile(r"\$[0-9]+")


def _quoted(sql: str, i: int, quote: str) -> tuple[int, str]:
    """The end of the literal opened at ``i`` (a doubled quote stands for itself), and its content."""
    j, parts = i + 1, []
    while True:
        k = sql.find(quote, j)
        if k < 0:
            raise UnscopedSQL(f"unterminated {quote} at offset {i}")
        parts.append(sql[j:k])
        if sql.startswith(quote, k + 1):
            parts.append(quote)
            j = k + 2
            continue
        return k + 1, "".join(parts)


def _escape_string(sql: str, i: int) -> tuple[int, str]:
    """An E'...' literal opened at ``i`` (the quote): backslash escapes; code-point escapes are refused, so
    that what the content says is what it reads."""
    j, parts = i + 1, []
    while j < len(sql):
        c = sql[j]
        if c == "\\":
            nxt = sql[j + 1:j + 2]
            if not nxt or nxt in "xuU01234567":
                raise UnscopedSQL(f"an escape by code point in E'' at offset {j} is not supported")
            parts.append(nxt)
            j += 2
        elif c == "'":
            if sql.startswith("'", j + 1):
                parts.append("'")
                j += 2
            else:
                return j + 1, "".join(parts)
        else:
            parts.append(c)
            j += 1
    raise UnscopedSQL(f"unterminated E'' at offset {i}")


def tokenize(sql: str) -> list[Token]:
    """The significant tokens of ``sql`` (whitespace and comments dropped), lexed as PostgreSQL lexes."""
    out: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in _WS:
            i += 1
        elif sql.startswith("--", i):
            ends = [k for k in (sql.find("\n", i), sql.find("\r", i)) if k >= 0]
            i = min(ends) if ends else n
        elif sql.startswith("/*", i):
            depth, j = 1, i + 2
            while depth:
                opens, closes = sql.find("/*", j), sql.find("*/", j)
                if closes < 0:
                    raise UnscopedSQL(f"unterminated comment at offset {i}")
                if 0 <= opens < closes:
                    depth, j = depth + 1, opens + 2
                else:
                    depth, j = depth - 1, closes + 2
            i = j
        elif c == "'":
            j, value = _quoted(sql, i, "'")
            out.append(Token("str", i, j, value))
            i = j
        elif c == '"':
            j, value = _quoted(sql, i, '"')
            if not value:
                raise UnscopedSQL(f'a zero-length quoted identifier at offset {i}')
            out.append(Token("qword", i, j, value))
            i = j
        elif c == "$":
            if m := _POSITIONAL.match(sql, i):
                raise UnscopedSQL(f"positional parameter {m.group(0)}: use :name parameters")
            m = _DOLLAR_TAG.match(sql, i)
            if m is None:
                raise UnscopedSQL(f"a stray $ at offset {i}")
            close = sql.find(m.group(0), m.end())
            if close < 0:
                raise UnscopedSQL(f"unterminated dollar-quoted string at offset {i}")
            out.append(Token("str", i, close + len(m.group(0)), sql[m.end():close]))
            i = close + len(m.group(0))
        elif _IDENT_START.match(c):
            m = _IDENT.match(sql, i)
            assert m is not None
            j = m.end()
            word = m.group(0).translate(_LOWER)
            if sql.startswith("'", j) and word in ("e", "b", "x", "n"):
                j, value = _escape_string(sql, j) if word == "e" else _quoted(sql, j, "'")
                out.append(Token("str", i, j, value))
            elif word == "u" and sql.startswith("&", j):
                raise UnscopedSQL(f"Unicode-escape (U&) literals and identifiers are not supported (offset {i})")
            else:
                out.append(Token("word", i, j, word))
            i = j
        elif (c.isascii() and c.isdigit()) or (c == "." and sql[i + 1:i + 2].isascii() and sql[i + 1:i + 2].isdigit()):
            m = _NUMBER.match(sql, i)
            assert m is not None
            j = m.end()
            if j < n and (_IDENT_START.match(sql[j]) or sql[j].isdigit()):
                raise UnscopedSQL(f"trailing junk after a number at offset {i}")
            out.append(Token("num", i, j, sql[i:j]))
            i = j
        elif c == ":":
            if sql.startswith("::", i) or sql.startswith(":=", i):
                out.append(Token("op", i, i + 2, sql[i:i + 2]))
                i += 2
            elif m := _PARAM.match(sql, i):
                out.append(Token("param", i, m.end(), m.group(1)))
                i = m.end()
            else:
                out.append(Token("punct", i, i + 1, ":"))
                i += 1
        elif c in _PUNCT:
            out.append(Token("punct", i, i + 1, c))
            i += 1
        elif c in _OP_CHARS:
            j = i + 1
            while j < n and sql[j] in _OP_CHARS and not sql.startswith("--", j) and not sql.startswith("/*", j):
                j += 1
            out.append(Token("op", i, j, sql[i:j]))
            i = j
        else:
            raise UnscopedSQL(f"unexpected character {c!r} at offset {i}")
    return out


# ------------------------------------------------------------------------------------------------ rewriting
# Words that start a query (so a parenthesized group starting with one is a subquery).
_QUERY_START = frozenset({"select", "with", "values", "insert", "update", "delete", "table"})
# Words after a FROM item that are not its alias (PostgreSQL's reserved and join words).
_NOT_ALIAS = frozenset({
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case", "cast", "check",
    "collate", "column", "constraint", "create", "cross", "current_catalog", "current_date", "current_role",
    "current_time", "current_timestamp", "current_user", "default", "deferrable", "desc", "distinct", "do",
    "else", "end", "except", "false", "fetch", "for", "foreign", "from", "full", "grant", "group", "having",
    "ilike", "in", "initially", "inner", "intersect", "into", "is", "isnull", "join", "lateral", "leading", "left",
    "like", "limit", "localtime", "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only",
    "or", "order", "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
    "session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then", "to",
    "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when", "where", "window",
    "with", "set",
})
_CLAUSES = frozenset({"group", "having", "window", "order", "limit", "offset", "fetch", "for"})
_TENANT_IN_TEXT = re.compile(r"(?<![a-z0-9_$])(" + "|".join(sorted(_SCHEMAS)) + r")\.([a-z0-9_$]+)")


def _is(tok: Token | None, *words: str) -> bool:
    return tok is not None and tok.kind == "word" and tok.value in words


def _name(part: str) -> str:
    return part if re.fullmatch(r"[a-z_][a-z0-9_]*", part) else '"' + part.replace('"', '""') + '"'


class _Frame:
    """What the walk knows about one parenthesis level that holds a statement."""

    def __init__(self) -> None:
        self.stmt: str | None = None  # select, values, insert, update, delete
        self.clause: str | None = None
        self.expect_target = False
        self.target: str | None = None  # how a tenant-table target of INSERT/UPDATE/DELETE is referenced
        self.do_update = False
        self.where: int | None = None  # token of the statement's (or its DO UPDATE's) WHERE
        self.cond_end: int | None = None  # last token of that condition, when RETURNING follows it
        self.insert_cols = False
        self.insert_source: str | None = None


def _pairs(toks: list[Token]) -> dict[int, int]:
    """The matching close of every ( and [."""
    out: dict[int, int] = {}
    stack: list[int] = []
    closing = {")": "(", "]": "["}
    for k, t in enumerate(toks):
        if t.kind != "punct":
            continue
        if t.value in "([":
            stack.append(k)
        elif t.value in ")]":
            if not stack or toks[stack[-1]].value != closing[t.value]:
                raise UnscopedSQL(f"unbalanced {t.value} at offset {t.start}")
            out[stack.pop()] = k
    if stack:
        raise UnscopedSQL(f"unbalanced {toks[stack[-1]].value} at offset {toks[stack[-1]].start}")
    return out


class _Rewrite:
    """One walk over the tokens, level by level, collecting text edits."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.toks = tokenize(sql)
        self.match = _pairs(self.toks)
        self.edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the original text
        self.scoped = False

    def refuse(self, tok: Token, why: str) -> UnscopedSQL:
        line = self.sql.count("\n", 0, tok.start) + 1
        near = self.sql[tok.start:tok.start + 60].split("\n")[0]
        return UnscopedSQL(f"{why} (line {line}: {near!r})")

    def tok(self, k: int | None) -> Token | None:
        return self.toks[k] if k is not None and 0 <= k < len(self.toks) else None

    def is_open(self, k: int) -> bool:
        t = self.tok(k)
        return t is not None and t.kind == "punct" and t.value == "("

    def insert_after(self, k: int, text: str) -> None:
        pos = self.toks[k].end
        self.edits.append((pos, pos, text))

    def run(self) -> str:
        toks = self.toks
        semis = [k for k, t in enumerate(toks) if t.kind == "punct" and t.value == ";"]
        if semis and (len(semis) > 1 or semis[0] != len(toks) - 1):
            raise self.refuse(toks[semis[0]], "one statement only")
        end = semis[0] if semis else len(toks)
        if end:
            self.walk(0, end, query=_is(toks[0], *_QUERY_START) or self.is_open(0))
        out = self.sql
        for start, stop, text in sorted(self.edits, reverse=True):
            out = out[:start] + text + out[stop:]
        return out

    def chain_end(self, k: int, hi: int) -> int:
        """The index past the dotted name that starts at ``k``."""
        toks = self.toks
        j = k + 1
        while (j + 1 < hi and toks[j].kind == "punct" and toks[j].value == "."
               and (toks[j + 1].kind in ("word", "qword") or toks[j + 1].value == "*")):
            j += 2
        return j

    def walk(self, lo: int, hi: int, *, query: bool, arbiter: bool = False) -> None:
        """Tokens ``lo``..``hi`` of one level; ``query``: the level holds a statement (not a call's arguments,
        a column list, an expression)."""
        toks = self.toks
        f = _Frame()
        prev: int | None = None  # the last token of this level (a group counts as its closing token)
        k = lo
        while k < hi:
            t = toks[k]
            if t.kind == "punct" and t.value in "([":
                close = self.match[k]
                sub = t.value == "(" and close > k + 1 and (_is(toks[k + 1], *_QUERY_START) or self.is_open(k + 1))
                columns_of_arbiter = False
                if query:
                    self.open_group(f, k, prev, sub)
                    # ON CONFLICT (tenant_id, ...): the arbiter index's columns, which may include tenant_id.
                    columns_of_arbiter = (f.clause == "conflict" and f.target is not None
                                          and _is(self.tok(prev), "conflict"))
                self.walk(k + 1, close, query=sub, arbiter=columns_of_arbiter)
                prev, k = close, close + 1
                continue
            if t.kind == "str":
                self.check_text(t)
            elif t.kind == "param" and t.value == TENANT_PARAM:
                raise self.refuse(t, f":{TENANT_PARAM} is the scope's parameter; scoped SQL does not bind it")
            elif t.kind in ("word", "qword"):
                j = self.chain_end(k, hi)
                if not (query and j == k + 1 and t.kind == "word" and self.keyword(f, k, prev)):
                    # The position of a name after ONLY is the position of the ONLY.
                    at = prev - 1 if _is(self.tok(prev), "only") and prev is not None and prev > lo else prev
                    if not (arbiter and j == k + 1 and t.value == TENANT_PARAM):
                        self.name(f, k, j, hi, at, query=query)
                prev, k = j - 1, j
                continue
            prev, k = k, k + 1
        if query:
            self.close(f, lo, hi, prev)

    def check_text(self, t: Token) -> None:
        text = re.sub(r"\s*\.\s*", ".", t.value.translate(_LOWER).replace('"', ""))
        for m in _TENANT_IN_TEXT.finditer(text):
            if (m.group(1), m.group(2)) in TENANT_TABLES or m.group(1) in TENANT_SCHEMAS:
                raise self.refuse(t, f"a string literal names {m.group(1)}.{m.group(2)}")

    def keyword(self, f: _Frame, k: int, prev: int | None) -> bool:
        """Follow the statement and clause of this level; True for the words that steer the walk."""
        w = self.toks[k].value
        p = self.tok(prev)
        guarded_insert = f.stmt == "insert" and f.target is not None
        if w == "with":
            if f.stmt is None or (guarded_insert and f.insert_cols and f.insert_source is None):
                f.clause = "with"
            return True
        if w in ("select", "values"):
            if f.stmt is None:
                f.stmt = w
            elif guarded_insert and f.clause not in ("conflict", "conflict_where", "conflict_do", "do_update",
                                                     "do_update_set", "do_update_where", "returning"):
                self.insert_source(f, k, w)
            f.clause = w
            return True
        if w in ("insert", "delete") and f.stmt is None:
            f.stmt = w
            return True
        if w == "update":
            if f.stmt is None:
                f.stmt, f.expect_target = "update", True
            elif _is(p, "do") and f.clause == "conflict_do":
                f.clause, f.do_update = "do_update", True
            return True
        if w == "into":
            if f.stmt == "insert" and _is(p, "insert"):
                f.expect_target = True
            else:
                f.clause = "into"  # SELECT ... INTO: what follows is no table to read
            return True
        if w == "from":
            if _is(p, "distinct"):
                return True  # IS [NOT] DISTINCT FROM
            if f.stmt == "delete" and _is(p, "delete"):
                f.expect_target = True
            else:
                f.clause = "from"
            return True
        if w == "using":
            if f.stmt == "delete" and f.clause == "target":
                f.clause = "using"
            return True
        if w == "do":
            if f.clause in ("conflict", "conflict_where"):
                f.clause = "conflict_do"
            return True
        if w in ("join", "only", "lateral", "as", "distinct", "all"):
            return True
        if w == "on":
            if _is(self.tok(k + 1), "conflict"):
                if f.stmt != "insert":
                    raise self.refuse(self.toks[k], "ON CONFLICT outside an INSERT")
                f.clause = "conflict"
            return True
        if w == "conflict":
            return _is(p, "on")
        if w == "set":
            if f.stmt == "update" and f.clause == "target":
                f.clause = "set"
            elif f.clause == "do_update":
                f.clause = "do_update_set"
            return True
        if w == "where":
            if f.clause == "conflict":
                f.clause = "conflict_where"
                return True
            if f.clause == "do_update_set" or (f.stmt in ("update", "delete") and f.where is None):
                if _is(self.tok(k + 1), "current"):
                    raise self.refuse(self.toks[k], "WHERE CURRENT OF")
                f.where = k
            f.clause = "do_update_where" if f.clause == "do_update_set" else "where"
            return True
        if w == "returning":
            if f.clause in ("where", "do_update_where"):
                f.cond_end = prev
            f.clause = "returning"
            return True
        if w in ("union", "intersect", "except"):
            if guarded_insert:
                raise self.refuse(self.toks[k], f"{w.upper()} in an INSERT into a tenant table")
            f.clause = None
            return True
        if w in _CLAUSES:
            f.clause = w
            return True
        return False

    def insert_source(self, f: _Frame, k: int, w: str) -> None:
        """The SELECT or VALUES of an INSERT into a tenant table: its SELECT starts with :tenant_id (VALUES
        rows get theirs in :meth:`open_group`)."""
        if f.insert_source is not None or not f.insert_cols:
            raise self.refuse(self.toks[k], "an INSERT into a tenant table lists its columns, then one SELECT"
                                            " or VALUES")
        f.insert_source = w
        if w == "select":
            nxt = self.tok(k + 1)
            if _is(nxt, "distinct") and _is(self.tok(k + 2), "on"):
                raise self.refuse(self.toks[k], "SELECT DISTINCT ON into a tenant table")
            self.insert_after(k + 1 if _is(nxt, "distinct", "all") else k, f" :{TENANT_PARAM},")

    def open_group(self, f: _Frame, k: int, prev: int | None, sub: bool) -> None:
        """A parenthesis at this level: the column list of an INSERT into a tenant table, or a VALUES row."""
        if f.stmt != "insert" or f.target is None:
            return
        empty = self.match[k] == k + 1
        p = self.tok(prev)
        if f.clause == "target" and not f.insert_cols:
            if sub or empty:
                raise self.refuse(self.toks[k], "an INSERT into a tenant table lists its columns")
            f.insert_cols = True
            f.clause = "columns"
            self.insert_after(k, f"{TENANT_PARAM}, ")
        elif f.clause == "values" and (_is(p, "values") or (p is not None and p.value == ",")):
            if sub or empty:
                raise self.refuse(self.toks[k], "a VALUES row must be a list of values")
            self.insert_after(k, f":{TENANT_PARAM}, ")

    def name(self, f: _Frame, k: int, j: int, hi: int, prev: int | None, *, query: bool) -> None:
        """A (dotted) name: scope it, guard it as a target, let it be, or refuse it."""
        toks = self.toks
        parts = [toks[x].value for x in range(k, j, 2)]
        if TENANT_PARAM in parts:
            raise self.refuse(toks[k], f"{TENANT_PARAM} is the scope's column; scoped SQL does not name it")
        # After an INSERT's target a parenthesis is its column list, not a call.
        called = self.is_open(j) and j < hi and not (f.expect_target and f.stmt == "insert")
        pairs = [(parts[x], parts[x + 1]) for x in range(len(parts) - 1)]
        tenant = len(parts) == 2 and not called and pairs[0] in TENANT_TABLES
        function = len(parts) == 2 and called and pairs[0] not in TENANT_TABLES
        named = [p for p in pairs if p in TENANT_TABLES or p[0] in TENANT_SCHEMAS]
        if named and not tenant and not function:
            raise self.refuse(toks[k], f"{'.'.join(named[0])} named where it cannot be scoped")
        if not query:
            if tenant:
                raise self.refuse(toks[k], f"{'.'.join(parts)} named where it cannot be scoped")
            return
        if f.expect_target:
            f.expect_target = False
            f.clause = "target"
            if tenant:
                f.target = self.target_ref(j, hi, parts, insert=f.stmt == "insert")
            return
        p = self.tok(prev)
        read = ((_is(p, "from", "join") and f.clause in ("from", "using"))
                or (p is not None and p.kind == "punct" and p.value == "," and f.clause in ("from", "using"))
                or (_is(p, "using") and f.clause == "using"))
        if read and len(parts) == 1 and not called and parts[0] in _TABLE_NAMES:
            raise self.refuse(toks[k], f"an unqualified {parts[0]}: name tenant tables with their schema")
        if not tenant:
            return
        if not read:
            raise self.refuse(toks[k], f"{'.'.join(parts)} named where it cannot be scoped")
        self.scope_read(k, j, hi, parts)

    def target_ref(self, j: int, hi: int, parts: list[str], *, insert: bool) -> str:
        """How the statement refers to its target: the alias, else (ON CONFLICT) the table's bare name or
        (UPDATE, DELETE) its qualified name."""
        self.scoped = True
        nxt = self.tok(j) if j < hi else None
        if nxt is not None and nxt.value == "*":
            raise self.refuse(nxt, "table inheritance (*) on a tenant table")
        after = self.tok(j + 1) if j + 1 < hi else None
        if _is(nxt, "as") and after is not None and after.kind in ("word", "qword"):
            return _name(after.value)
        if not insert and nxt is not None and (nxt.kind == "qword" or (nxt.kind == "word" and
                                                                       nxt.value not in _NOT_ALIAS)):
            return _name(nxt.value)
        return _name(parts[1]) if insert else ".".join(_name(p) for p in parts)

    def scope_read(self, k: int, j: int, hi: int, parts: list[str]) -> None:
        """``usage.x [AS] a`` -> ``(SELECT * FROM usage.x WHERE tenant_id = :tenant_id) [AS] a``."""
        toks = self.toks
        self.scoped = True
        only = _is(self.tok(k - 1), "only")
        nxt = self.tok(j) if j < hi else None
        if nxt is not None and nxt.value == "*":
            raise self.refuse(nxt, "table inheritance (*) on a tenant table")
        name = ".".join(_name(p) for p in parts)
        text = f"(SELECT * FROM {'ONLY ' if only else ''}{name} WHERE {TENANT_PARAM} = :{TENANT_PARAM})"
        aliased = nxt is not None and (_is(nxt, "as") or nxt.kind == "qword"
                                       or (nxt.kind == "word" and nxt.value not in _NOT_ALIAS))
        if not aliased:
            text += f" AS {_name(parts[1])}"
        self.edits.append((toks[k - 1 if only else k].start, toks[j - 1].end, text))

    def close(self, f: _Frame, lo: int, hi: int, prev: int | None) -> None:
        """The end of a level: guard its INSERT/UPDATE/DELETE on a tenant table."""
        if f.target is None:
            return
        if f.stmt == "insert":
            if not f.insert_cols or f.insert_source is None:
                raise self.refuse(self.toks[lo], "an INSERT into a tenant table lists its columns, then one SELECT"
                                                 " or VALUES")
            if not f.do_update:
                return
        pred = f"{f.target}.{TENANT_PARAM} = :{TENANT_PARAM}"
        assert prev is not None
        if f.where is not None:
            self.insert_after(f.where, f" {pred} AND (")
            self.insert_after(f.cond_end if f.cond_end is not None else prev, ")")
            return
        returning = next((x for x in self.level(lo, hi) if _is(self.toks[x], "returning")), None)
        self.insert_after(returning - 1 if returning is not None else prev, f" WHERE {pred}")

    def level(self, lo: int, hi: int) -> list[int]:
        """The token indexes of one level (groups skipped)."""
        out, k = [], lo
        while k < hi:
            out.append(k)
            t = self.toks[k]
            k = self.match[k] + 1 if t.kind == "punct" and t.value in "([" else k + 1
        return out


@lru_cache(maxsize=2048)
def _rewrite(sql: str) -> tuple[str, bool]:
    r = _Rewrite(sql)
    out = r.run()
    return out, r.scoped


def rewrite(sql: str) -> str:
    """``sql`` as the database receives it from a scope (its tenant as the parameter ``:tenant_id``)."""
    return _rewrite(sql)[0]


# --------------------------------------------------------------------------------------------------- paging
@lru_cache(maxsize=512)
def _paged(sql: str) -> tuple[str, str]:
    """(the page statement, the count statement) of a listing ``SELECT ... ORDER BY ...`` without LIMIT."""
    r = _Rewrite(sql)
    toks = r.toks
    words = [(k, toks[k].value) for k in r.level(0, len(toks)) if toks[k].kind == "word"]
    select = next((k for k, w in words if w == "select"), None)
    if select is None:
        raise UnscopedSQL("a page is a SELECT")
    bad = [w for k, w in words if w in ("limit", "offset", "fetch", "union", "intersect", "except")
           or (w == "distinct" and k == select + 1)]
    if any(t.kind == "punct" and t.value == ";" for t in toks):
        bad.append(";")
    if bad:
        raise UnscopedSQL(f"a page query has no {bad[0].upper()} of its own (the page adds LIMIT and OFFSET)")
    frm = next((k for k, w in words if w == "from" and k > select and not _is(toks[k - 1], "distinct")), None)
    if frm is None:
        raise UnscopedSQL("a page query reads FROM a table")
    before, last = toks[frm - 1].end, toks[-1].end
    page = (sql[:before] + ", count(*) OVER () AS _total" + sql[before:last]
            + " LIMIT :page_limit OFFSET :page_offset" + sql[last:])
    # The same rows counted, for a page past the end (which has no row to carry the total).
    count = "SELECT count(*) AS _total FROM (" + sql + "\n) AS _counted"
    return page, count


# ---------------------------------------------------------------------------------------------------- scopes
class Scope:
    """One tenant's view of the platform database."""

    __slots__ = ("tenant_id",)

    def __init__(self, tenant_id: str) -> None:
        if not isinstance(tenant_id, str) or not tenant_id:
            raise ValueError("a scope needs a tenant id")
        self.tenant_id = tenant_id

    def _bind(self, sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if TENANT_PARAM in params:
            raise UnscopedSQL(f"{TENANT_PARAM} is the scope's parameter; do not pass it")
        text, scoped = _rewrite(sql)
        return text, ({**params, TENANT_PARAM: self.tenant_id} if scoped else params)

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        text, bound = self._bind(sql, params)
        return db.query(text, **bound)

    def query_one(self, sql: str, **params: Any) -> dict[str, Any] | None:
        rows = self.query(sql, **params)
        return rows[0] if rows else None

    def run(self, tx: pg8000.native.Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
        """The statement inside ``db.transaction()``; rows as dicts (``tx.row_count`` as usual)."""
        text, bound = self._bind(sql, params)
        return db._rows(tx, tx.run(text, **bound))

    def page(self, sql: str, *, limit: int, offset: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
        """One page of a listing and the listing's total: ``SELECT ... ORDER BY ...`` without LIMIT.

        The total is the number of rows the listing has, on every page: also on a page past the end, where
        it takes a second, counting statement (spec 000's ``total`` is the listing's size, not the page's).
        """
        if "page_limit" in params or "page_offset" in params:
            raise UnscopedSQL("page_limit and page_offset are the page's parameters")
        page, count = _paged(sql)
        rows = self.query(page, **params, page_limit=limit, page_offset=offset)
        if rows:
            total = int(rows[0]["_total"])
            for r in rows:
                del r["_total"]
            return rows, total
        if offset <= 0:
            return rows, 0
        row = self.query_one(count, **params)
        return rows, int(row["_total"]) if row else 0


def tenant(tenant_id: str) -> Scope:
    """The platform database as ``tenant_id`` sees it."""
    return Scope(tenant_id)


class AcrossTenants:
    """Statements that span tenants, run as written; each place that needs one is named in
    tests/unit/test_platform_scoped_bypass.py's allow-list, with the reason given here."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        if not reason.strip():
            raise ValueError("say why the statement spans tenants")
        self.reason = reason

    def query(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        return db.query(sql, **params)

    def query_one(self, sql: str, **params: Any) -> dict[str, Any] | None:
        return db.query_one(sql, **params)

    def run(self, tx: pg8000.native.Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
        return db._rows(tx, tx.run(sql, **params))

    def run_raw(self, tx: pg8000.native.Connection, sql: str, **params: Any) -> Any:
        """``tx.run`` as pg8000 answers it (rows as lists; what a COPY takes ``stream=`` for)."""
        return tx.run(sql, **params)


def across_tenants(reason: str) -> AcrossTenants:
    """The platform database across tenants, for work that is about several of them by nature."""
    return AcrossTenants(reason)
