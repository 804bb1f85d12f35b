"""The statement guard: parse the rendered query once, in the source's dialect, check the tree against
allow-lists, put each parameter into it as a literal, and hand the database the SQL that sqlglot
generates from the checked tree, never the client's text.

Why regenerate: a guard that reads text one way and a database that lexes it another can be told apart
(PostgreSQL's ``U&"..."`` identifiers and nested comments, MySQL's ``--`` followed by a no-break space,
ClickHouse's ``#`` comments). The generated SQL has no comments and quotes what needs quoting, so the
database reads exactly the tree that was checked; a second parse proves the text is a fixpoint.

What the tree may hold is an allow-list, not a deny-list:

* node types: :data:`STRUCTURE` (SELECT and its clauses, joins, set operations, CTEs, operators, literals)
  and the syntax-level function classes in :data:`CONSTRUCTS` (CAST, CASE, EXTRACT, the JSON operators);
* functions: the source's own list (:mod:`telltale.sources`), written in the database's vocabulary and
  mapped once per dialect to sqlglot's classes; a function that is not on it is refused with its name;
* types: :data:`DATA_TYPES` (no catalog lookups such as ``::regclass``, no user-defined types);
* relations: no catalog schemas; for ``internal`` queries nothing outside the tenant's schema, whose
  logical table names (``orders``) are rewritten to physical ones (``shop_orders``).

Parameters: the renderer puts a marker (``ttq<nonce>n<i>``) where each ``{{ ... }}`` stood. A marker
that stands as a value becomes one literal; inside a ``'...'`` string it becomes part of that string's
value (spec 000's ``'{{ date }}'``); anywhere else (a name, a keyword, part of an identifier) the query is
refused. Values therefore never become SQL, whatever Jinja did with them. Secret values are allowed only
as the operand of a comparison with a column in WHERE or JOIN ... ON, and are bound, not inlined, where
the driver binds server-side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from telltale.platform.errors import QueryValidationError
from telltale.platform.log import quiet_sqlglot
from telltale.sources.base import words

if TYPE_CHECKING:
    from telltale.queries.render import Rendered
    from telltale.sources import SqlRules

# Rendered SQL may hold secret values.
quiet_sqlglot()

MAX_TOKENS = 50_000
MAX_NESTING = 64  # parentheses, and depth of the tree below a query
MAX_SQL_CHARS = 1_000_000
MAX_INT = 10**38  # what NUMERIC/Decimal(38) and ClickHouse's Int128 hold

# Node types a read-only query is made of. Anything else (INSERT, SET, COPY, INTO, FOR UPDATE, hints,
# variables, placeholders a client wrote, ...) is refused.
STRUCTURE = words("""
Select Union Intersect Except Subquery With CTE From Join Where Group Having Qualify Order Ordered Limit Offset
Fetch LimitOptions Distinct Column Identifier Star Alias Aliases TableAlias Table Tuple Paren Literal Null Boolean
DataType DataTypeParam Interval IntervalSpan Var Window WindowSpec Lateral Values Filter WithinGroup Rollup Cube
GroupingSets TableSample Final Between In Like ILike SimilarTo Is Not Neg EQ NEQ GT GTE LT LTE NullSafeEQ
NullSafeNEQ Add Sub Mul Div IntDiv Mod DPipe BitwiseAnd BitwiseOr BitwiseXor BitwiseNot BitwiseLeftShift
BitwiseRightShift Escape Any All Dot Bracket Slice AtTimeZone JSONPath JSONPathKey JSONPathRoot JSONPathSubscript
JSONPathWildcard JSONPathSlice Lambda Kwarg PivotAlias ColumnDef Semicolon PreWhere JSONValue
JSONKeyValue JSONColumnDef JSONSchema
""")

# Function classes that SQL syntax produces (operators, CAST, CASE, keyword-argument forms): allowed in
# every dialect, since they are not calls of a named function.
CONSTRUCTS = words("""
And Or Xor Case If Cast TryCast Collate Exists Array Struct Extract StrPosition Substring Trim Overlay JSONExtract
JSONExtractScalar JSONBExtract JSONBExtractScalar JSONBContains JSONBContainsAnyTopKeys JSONBContainsAllTopKeys
JSONBDeleteAtPath ArrayContains ArrayContainsAll ArrayOverlaps RegexpLike RegexpILike CurrentDate CurrentTime
CurrentTimestamp Localtime Localtimestamp Unnest Explode Coalesce TsOrDsToDate TsOrDsToTimestamp TsOrDsToTime
TimeStrToTime TimeStrToDate DateStrToDate TsOrDsToDateStr
JSONBContainsTopKey JSONTable
""")

DATA_TYPES = words("""
ARRAY BIGDECIMAL BIGINT BINARY BIT BLOB BOOLEAN BPCHAR CHAR DATE DATE32 DATETIME DATETIME2 DATETIME64 DECIMAL
DECIMAL32 DECIMAL64 DECIMAL128 DECIMAL256 DOUBLE ENUM ENUM8 ENUM16 FIXEDSTRING FLOAT INET INT INT128 INT256 INTERVAL
IPADDRESS IPV4 IPV6 JSON JSONB LONGBLOB LONGTEXT LOWCARDINALITY MAP MEDIUMBLOB MEDIUMINT MEDIUMTEXT MONEY NAME NCHAR
NULL NULLABLE NVARCHAR SMALLINT STRUCT TEXT TIME TIMETZ TIMESTAMP TIMESTAMPTZ TIMESTAMPLTZ TIMESTAMPNTZ TIMESTAMP_S
TIMESTAMP_MS TIMESTAMP_NS TINYBLOB TINYINT TINYTEXT UBIGINT UINT UINT128 UINT256 UMEDIUMINT UDECIMAL USMALLINT
UTINYINT UUID VARBINARY VARCHAR YEAR TSRANGE TSTZRANGE DATERANGE INT4RANGE INT8RANGE NUMRANGE
""")

_COMPARISONS = frozenset({"EQ", "NEQ", "GT", "GTE", "LT", "LTE", "NullSafeEQ", "NullSafeNEQ"})
_BOOLEAN_CONNECTIVES = frozenset({"And", "Or", "Not", "Paren"})
_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


@dataclass(frozen=True)
class Internal:
    """What an internal query may reach: the tenant's schema, and the app whose tables it names."""

    schema: str
    app_slug: str


@dataclass
class Statement:
    """What a connector runs: the generated SQL and the values it binds by name."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)


def refuse(reason: str) -> QueryValidationError:
    return QueryValidationError(f"query refused: {reason}", errors={"query_text": [reason]})


# ------------------------------------------------------------------------------------------ dialects
@lru_cache(maxsize=1)
def _exp() -> Any:
    """sqlglot's expressions, imported on first use (a handler that never runs a query never loads it)."""
    from sqlglot import exp

    return exp


@lru_cache(maxsize=1)
def _structure() -> frozenset[type]:
    exp = _exp()
    return frozenset(getattr(exp, name) for name in STRUCTURE if isinstance(getattr(exp, name, None), type))


@lru_cache(maxsize=8)
def _dialect(name: str) -> Any:
    from sqlglot.dialects.dialect import Dialect

    dialect = Dialect.get_or_raise(name)
    if name == "mysql":
        # sqlglot writes "x REGEXP y" back as REGEXP_LIKE(x, y), which MariaDB does not have; the operator is
        # both servers'. (sqlglot's own generator class: the anonymizer's MySQL output reads the same.)
        exp = _exp()

        def regexp(self: Any, e: Any) -> str:
            return str(self.binary(e, "REGEXP")) if not e.args.get("flag") else str(self.function_fallback_sql(e))

        dialect.generator_class.TRANSFORMS[exp.RegexpLike] = regexp
    return dialect


def rules_for(dialect: str, *, internal: bool = False) -> SqlRules:
    from telltale import sources

    slug = "internal" if internal else dialect
    rules = sources.get(slug).sql
    if rules is None:
        raise refuse(f"'{slug}' is not a SQL source")
    return rules


# --------------------------------------------------------------------------------- function vocabulary
def _key(node: Any) -> str:
    """A call's key: sqlglot's class, or ``anon:<name>`` for a function sqlglot has no class for
    (ClickHouse's parameterized aggregates, quantiles(0.5)(x), count as such)."""
    exp = _exp()
    if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc | exp.ParameterizedAgg):
        return "anon:" + str(node.name).lower()
    return type(node).__name__


def _label(node: Any) -> str:
    """A call's name as a message shows it."""
    exp = _exp()
    if isinstance(node, exp.Anonymous | exp.AnonymousAggFunc | exp.ParameterizedAgg):
        return str(node.name)
    names = getattr(type(node), "_sql_names", None)
    return str(names[0]).lower() if names else type(node).__name__


_PROBES = ("{}(x)", "{}(x, y)", "{}()", "{}(x, y, z)", "{}(x FROM y)", "{}(x IN y)", "{}(x AS INT)",
           "{}(x USING utf8mb4)", "{}(x, INTERVAL 1 DAY)")


def _name_key(dialect: Any, name: str) -> str:
    """The key of the function ``name`` as the dialect's parser reads a call of it."""
    import inspect

    exp = _exp()
    upper = name.upper()
    parser = dialect.parser_class
    builder = parser.FUNCTIONS.get(upper)
    if builder is not None and upper not in parser.FUNCTION_PARSERS:
        owner = getattr(builder, "__self__", None)
        if inspect.ismethod(builder) and isinstance(owner, type):
            return owner.__name__
        one = exp.Literal.number(1)
        for args in ([one], [one, one], [], [one, one, one]):
            for call in ((lambda a=args: builder(a)), (lambda a=args: builder(a, dialect))):
                try:
                    built = call()
                except Exception:  # noqa: BLE001, S112 - try the next arity
                    continue
                if isinstance(built, exp.Func):
                    return _key(built)
    token = dialect.tokenizer_class.KEYWORDS.get(upper)
    if token is not None and token in parser.NO_PAREN_FUNCTIONS:
        return str(parser.NO_PAREN_FUNCTIONS[token].__name__)
    if builder is None and upper not in parser.FUNCTION_PARSERS:
        return "anon:" + name.lower()
    # A special form (EXTRACT(x FROM y), POSITION(x IN y)) or a builder the arguments above did not fit.
    for probe in _PROBES:
        try:
            tree = dialect.parse(f"SELECT {probe.format(name)}")[0]
        except Exception:  # noqa: BLE001, S112 - try the next form
            continue
        node = tree.expressions[0] if tree is not None and tree.expressions else None
        node = node.this if isinstance(node, exp.Alias) else node
        if isinstance(node, exp.Func):
            return _key(node)
    return "anon:" + name.lower()


@lru_cache(maxsize=16)
def allowed_keys(rules: SqlRules) -> tuple[frozenset[str], frozenset[str]]:
    """(function keys, table-function keys) of a source's allow-lists, in sqlglot's vocabulary."""
    dialect = _dialect(rules.dialect)
    # A listed name is allowed as sqlglot reads a call of it and as a plain call by that name (a quoted
    # name, or a spelling sqlglot has no class for): either way the database runs the function named.
    functions = frozenset(_name_key(dialect, n) for n in rules.functions) | CONSTRUCTS | \
        frozenset("anon:" + n.lower() for n in rules.functions)
    tables = frozenset(_name_key(dialect, n) for n in rules.table_functions) | \
        frozenset("anon:" + n.lower() for n in rules.table_functions)
    return functions, tables


# --------------------------------------------------------------------------------------------- parsing
def parse(sql: str, dialect: str) -> Any:
    """One statement's tree; refused if the text is not exactly one statement, or is too big or deep."""
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    if len(sql) > MAX_SQL_CHARS:
        raise refuse(f"the rendered query is longer than {MAX_SQL_CHARS} characters")
    d = _dialect(dialect)
    try:
        tokens = d.tokenize(sql)
    except SqlglotError as exc:
        raise refuse(f"the query could not be read as {dialect} SQL ({_first_line(exc)})") from None
    if len(tokens) > MAX_TOKENS:
        raise refuse(f"the query has more than {MAX_TOKENS} tokens")
    # Both loops below look at every token; the text says cheaply whether either can find anything.
    if sum(sql.count(c) for c in "([{") > MAX_NESTING:
        depth = deepest = 0
        for token in tokens:
            if token.token_type in (TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE):
                depth += 1
                deepest = max(deepest, depth)
            elif token.token_type in (TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE):
                depth -= 1
        if deepest > MAX_NESTING:
            raise refuse(f"the query nests parentheses more than {MAX_NESTING} deep")
    # Comments never reach the database (the SQL is generated without them); one that MySQL would have
    # run (/*! ... */) or an optimizer hint would silently change what the author meant, so say so.
    if "/*" in sql:
        for token in tokens:
            for comment in token.comments or ():
                if comment.lstrip().startswith(("!", "M!", "+")):
                    raise refuse("executable comments and optimizer hints (/*! ... */, /*+ ... */) are not "
                                 "run: remove them")
    try:
        statements = [s for s in d.parser().parse(tokens, sql) if s is not None]
    except SqlglotError as exc:
        raise refuse(f"the query could not be parsed as {dialect} SQL ({_first_line(exc)})") from None
    except RecursionError:
        raise refuse("the query is nested too deeply") from None
    except Exception:  # noqa: BLE001 - sqlglot's parser fails on some malformed input with a TypeError or
        # an IndexError of its own; that is still input it cannot read, not a server fault
        raise refuse(f"the query could not be parsed as {dialect} SQL") from None
    if len(statements) != 1:
        raise refuse("exactly one statement is allowed (stacked statements are not)" if statements
                     else "the query is empty")
    return statements[0]


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else "syntax error"
    return text


# -------------------------------------------------------------------------------------------- checking
def check(sql: str, dialect: str, *, internal: Internal | None = None, rules: SqlRules | None = None) -> Any:
    """The checked tree of ``sql`` (no parameters): QueryValidationError naming the reason if refused.

    For ``internal``, the tree comes back with physical, schema-qualified table names."""
    rules = rules or rules_for(dialect, internal=internal is not None)
    tree = parse(sql, rules.dialect)
    check_tree(tree, rules, internal)
    if internal is not None:
        _rewrite_tables(tree, internal)
    return tree


def check_tree(tree: Any, rules: SqlRules, internal: Internal | None = None) -> None:
    exp = _exp()
    if not isinstance(tree, exp.Query):
        kind = type(tree).__name__.upper()
        if isinstance(tree, exp.Command):
            kind = str(tree.this).upper()
        raise refuse(f"{kind} is not allowed; only read-only queries (SELECT) are")
    functions, table_functions = allowed_keys(rules)
    structure = _structure()
    cte_names = {str(c.alias_or_name).lower() for c in tree.find_all(exp.CTE)}
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING * 4:
            raise refuse("the query is nested too deeply")
        if isinstance(node, exp.Func):
            _check_function(node, rules, functions, table_functions)
        elif type(node) not in structure:
            raise refuse(_describe(node))
        elif isinstance(node, exp.Query | exp.Table | exp.DataType | exp.Var | exp.Column | exp.Dot
                        | exp.Identifier | exp.TableAlias):
            _check_node(node, rules, internal, cte_names)
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _check_function(node: Any, rules: SqlRules, functions: frozenset[str], table_functions: frozenset[str]) -> None:
    exp = _exp()
    in_from = isinstance(node.parent, exp.Table | exp.From | exp.Join | exp.Lateral)
    key = _key(node)
    allowed = key in (table_functions if in_from else functions) or (in_from and key in CONSTRUCTS)
    if isinstance(node.parent, exp.Dot) and node.parent.expression is node:
        raise refuse(f"schema-qualified function calls are not allowed ({node.parent.this.sql()}.{_label(node)}); "
                     "call the function by its name alone")
    if not allowed:
        where = "table function" if in_from else "function"
        raise refuse(f"{where} {_label(node)}() is not allowed (not on the {rules.dialect} allow-list of "
                     f"read-only functions)")


def _check_node(node: Any, rules: SqlRules, internal: Internal | None, cte_names: set[str]) -> None:
    exp = _exp()
    if isinstance(node, exp.Query):
        for arg in ("settings", "format", "into", "locks", "hint", "options", "operation_modifiers"):
            if node.args.get(arg):
                raise refuse(f"{_CLAUSES.get(arg, arg.upper())} not allowed in read-only queries")
    elif isinstance(node, exp.Table):
        _check_table(node, rules, internal, cte_names)
    elif isinstance(node, exp.DataType):
        kind = node.this.name if hasattr(node.this, "name") else str(node.this)
        if kind not in DATA_TYPES:
            label = node.sql(rules.dialect) if kind != "USERDEFINED" else str(node.args.get("kind") or "?")
            raise refuse(f"the type {label} is not allowed (only built-in data types are)")
    elif isinstance(node, exp.Var):
        if not _VAR.fullmatch(str(node.this)):
            raise refuse(f"'{str(node.this)[:40]}' is not allowed here")
    elif isinstance(node, exp.Identifier):
        # An unquoted name is written back unquoted: it must be one the database reads as a name too.
        if not node.quoted and not _NAME.fullmatch(str(node.this)):
            raise refuse(f"the name '{str(node.this)[:40]}' must be quoted")
    elif isinstance(node, exp.TableAlias):
        if node.args.get("columns") and not node.name:
            raise refuse("a column list needs a table alias before it (FROM t AS x(a, b))")
    elif isinstance(node, exp.Column) and internal is not None:
        if node.args.get("catalog") or (node.args.get("db") and node.db != internal.schema):
            raise refuse(f"schema '{node.db}' is not reachable: internal queries read only the tenant's own tables")
    elif isinstance(node, exp.Dot) and internal is not None:
        left = node.this
        if isinstance(left, exp.Identifier) and str(left.name) != internal.schema:
            raise refuse(f"schema '{left.name}' is not reachable: internal queries read only the tenant's own tables")


_CLAUSES = {"settings": "SETTINGS overrides are", "format": "FORMAT clauses are", "into": "SELECT ... INTO is",
            "locks": "locking clauses (FOR UPDATE/SHARE) are", "hint": "optimizer hints are",
            "options": "query OPTIONs are", "operation_modifiers": "query modifiers are"}
_STATEMENTS = {"Insert": "INSERT", "Update": "UPDATE", "Delete": "DELETE", "Merge": "MERGE", "Create": "CREATE",
               "Drop": "DROP", "Alter": "ALTER", "TruncateTable": "TRUNCATE", "Copy": "COPY", "Grant": "GRANT",
               "Revoke": "REVOKE", "Set": "SET", "Use": "USE", "Transaction": "transaction control",
               "Commit": "transaction control", "Rollback": "transaction control", "LoadData": "LOAD DATA",
               "Command": "this statement"}
_ELEMENTS = {"Into": "SELECT ... INTO", "Lock": "locking clauses (FOR UPDATE/SHARE)",
             "PropertyEQ": "variable assignments (:=)", "Parameter": "user variables (@x)",
             "SessionParameter": "system variables (@@x)", "Placeholder": "placeholders (use {{ name }} parameters)",
             "Hint": "optimizer hints", "ObjectIdentifier": "catalog lookups (casts to reg* and oid types)"}


def _describe(node: Any) -> str:
    name = type(node).__name__
    if name in _STATEMENTS:
        return f"{_STATEMENTS[name]} is not allowed; only read-only queries are"
    return f"{_ELEMENTS[name]} are not allowed in a saved query" if name in _ELEMENTS else \
        f"{name} is not allowed in a saved query"


def _check_table(node: Any, rules: SqlRules, internal: Internal | None, cte_names: set[str]) -> None:
    exp = _exp()
    if isinstance(node.this, exp.Func):
        return  # a table function: checked as one
    schema, name = str(node.db or ""), str(node.name or "")
    if node.args.get("catalog"):
        raise refuse("database-qualified names (a.b.c) are not allowed")
    if schema.lower() in {s.lower() for s in rules.system_schemas}:
        raise refuse(f"catalog schema '{schema}' is not reachable from a saved query")
    if not schema and name.lower() in cte_names:
        return
    if name.lower().startswith(rules.system_prefixes) and not schema:
        raise refuse(f"catalog table '{name}' is not reachable from a saved query")
    if internal is not None:
        if schema and schema != internal.schema:
            raise refuse(f"schema '{schema}' is not reachable: internal queries read only the tenant's own tables")
        if name.lower() in {"tables", "columns", "schemata", "routines", "views"} and not schema:
            raise refuse(f"catalog table '{name}' is not reachable in internal queries")


def _rewrite_tables(tree: Any, internal: Internal) -> None:
    """Logical names to physical ones, always qualified with the tenant's schema."""
    exp = _exp()
    cte_names = {str(c.alias_or_name).lower() for c in tree.find_all(exp.CTE)}
    prefix = f"{internal.app_slug}_"
    for table in list(tree.find_all(exp.Table)):
        if isinstance(table.this, exp.Func) or not table.name:
            continue
        name = str(table.name)
        if not table.db and name.lower() in cte_names:
            continue
        physical = name if name.startswith(prefix) else prefix + name
        table.set("this", exp.to_identifier(physical, quoted=True))
        table.set("db", exp.to_identifier(internal.schema, quoted=True))


# ------------------------------------------------------------------------------------------ generation
def to_sql(tree: Any, dialect: str) -> str:
    """The SQL the database receives: generated from the checked tree, without comments, and proven a
    fixpoint (read back, it generates the same text), so nothing in it can be read two ways."""
    d = _dialect(dialect)
    sql = str(d.generate(tree, comments=False, copy=False))
    again = parse(sql, dialect)
    if str(d.generate(again, comments=False, copy=False)) != sql:
        raise refuse("the query cannot be reproduced faithfully in this dialect; simplify it")
    return sql


# ---------------------------------------------------------------------------------------- parameters
def prepare(rendered: Rendered, rules: SqlRules, *, internal: Internal | None = None) -> Statement:
    """The statement to run: the rendered text parsed once, its markers turned into literals (and secret
    binds), the tree checked, and the SQL generated from it."""
    tree = parse(rendered.text, rules.dialect)
    slots = _substitute(tree, rendered, rules.dialect)
    check_tree(tree, rules, internal)
    for node, _ in slots:
        _check_secret_place(node)
    if internal is not None:
        _rewrite_tables(tree, internal)
    if rules.secret_binding == "literal":
        for node, index in slots:
            node.replace(literal(rendered.outputs[index].value))
        slots = []
    sql = to_sql(tree, rules.dialect)
    if not slots:
        return Statement(sql)
    # The text was proven a fixpoint with each secret's marker standing where its bind goes; only those
    # nodes change now.
    params = _bind_secrets(slots, rendered, rules)
    return Statement(str(_dialect(rules.dialect).generate(tree, comments=False, copy=False)), params)


def _substitute(tree: Any, rendered: Rendered, dialect: str) -> list[tuple[Any, int]]:
    """Markers to literals in place; returns the secret slots (node, output index) still to bind."""
    from telltale.queries.render import value_text

    exp = _exp()
    if not rendered.outputs:
        return []
    secrets: list[tuple[Any, int]] = []
    for node in list(tree.walk()):
        if isinstance(node, exp.Column):
            ident = node.this
            if node.table or not isinstance(ident, exp.Identifier) or ident.quoted:
                continue
            index = rendered.whole(str(ident.name))
            if index is None:
                continue
            if rendered.outputs[index].secret:
                secrets.append((node, index))
            else:
                _replace_value(node, rendered.outputs[index].value, dialect)
        elif isinstance(node, exp.Literal) and node.is_string:
            text = str(node.this)
            indexes = rendered.indexes(text)
            if not indexes:
                continue
            if any(rendered.outputs[i].secret for i in indexes):
                if rendered.whole(text) is None:
                    raise refuse("a secret must be the whole of its string ('{{ secret.key.field }}'), "
                                 "not part of a longer one")
                secrets.append((node, indexes[0]))
                continue
            node.set("this", rendered.replace_markers(text, lambda o: value_text(o.value)))
    # A marker that is still there stood where no value may: a name, a keyword, a type, a quoted identifier.
    bound = {id(n) for slot, _ in secrets for n in slot.walk()}
    for node in tree.walk():
        if id(node) in bound:
            continue
        for value in node.args.values():
            if isinstance(value, str) and rendered.nonce in value:
                raise refuse("a parameter can stand only where a value goes (= {{ x }}, IN {{ list }}, "
                             "'...{{ x }}...'), not as a name, a keyword or part of one")
    return secrets


def _replace_value(node: Any, value: Any, dialect: str) -> None:
    exp = _exp()
    parent = node.parent
    if isinstance(value, list | tuple) and isinstance(parent, exp.In) and parent.args.get("field") is node:
        parent.set("field", None)
        parent.set("expressions", [literal(v) for v in value] or [exp.Null()])
        return
    node.replace(literal(value))


def literal(value: Any) -> Any:
    """One value as one sqlglot literal (the generator quotes it for the dialect)."""
    import json
    import math

    exp = _exp()
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        if abs(value) >= MAX_INT:
            raise _bad_value(f"integers must be smaller than 10^38 in magnitude ({str(value)[:20]}...)")
        number = exp.Literal.number(abs(value))
        return exp.Paren(this=exp.Neg(this=number)) if value < 0 else number
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _bad_value("NaN and infinity are not allowed")
        number = exp.Literal.number(repr(abs(value)))
        return exp.Paren(this=exp.Neg(this=number)) if value < 0 else number
    if isinstance(value, list | tuple):
        return exp.Tuple(expressions=[literal(v) for v in value] or [exp.Null()])
    if isinstance(value, dict):
        return exp.Literal.string(json.dumps(value, sort_keys=True, default=str))
    return exp.Literal.string(str(value))


def _bad_value(message: str) -> QueryValidationError:
    return QueryValidationError(f"invalid parameter value: {message}", errors={"params": [message]})


def _bind_secrets(slots: list[tuple[Any, int]], rendered: Rendered, rules: SqlRules) -> dict[str, Any]:
    exp = _exp()
    params: dict[str, Any] = {}
    for node, index in slots:
        value = rendered.outputs[index].value
        name = f"tt_secret_{index}"
        if rules.secret_binding == "typed":  # ClickHouse's server-side {name:Type}
            kind = {bool: "Bool", int: "Int64", float: "Float64"}.get(type(value), "String")
            node.replace(exp.Placeholder(this=name, kind=exp.DataType.build(kind, dialect=rules.dialect)))
        else:  # pg8000's :name
            node.replace(exp.Var(this=f":{name}"))
        params[name] = value
    return params


def _check_secret_place(node: Any) -> None:
    """A secret may only be compared with a column, in WHERE or a JOIN's ON: never returned, ordered,
    grouped, or passed through a function."""
    exp = _exp()
    comparison = node.parent
    where = "a comparison with a column in WHERE or JOIN ... ON (api_key = '{{ secret.key.field }}')"
    if type(comparison).__name__ not in _COMPARISONS:
        raise refuse(f"a secret may only be used in {where}")
    other = comparison.expression if comparison.this is node else comparison.this
    if not isinstance(other, exp.Column):
        raise refuse(f"a secret may only be compared with a column: use it in {where}")
    up = comparison.parent
    while up is not None and type(up).__name__ in _BOOLEAN_CONNECTIVES:
        up = up.parent
    if isinstance(up, exp.Where) and isinstance(up.parent, exp.Select):
        return
    if isinstance(up, exp.Join):
        return
    raise refuse(f"a secret may only be used in {where}")
