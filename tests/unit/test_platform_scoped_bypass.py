"""No platform query on a tenant table goes around the scope (telltale.platform.scoped).

An AST walk of the layer (layers/common/python/telltale) and the handlers (functions/) finds every call that
sends SQL to the platform database: ``db.query``/``db.query_one`` and any ``<x>.run(...)`` (pg8000's
``Connection.run``, on a ``db.transaction()`` or any other connection), and every call on a scope
(``scoped.tenant(...)``) or a cross-tenant handle (``scoped.across_tenants(...)``). The SQL argument is
resolved as far as the source says it: string literals, f-strings (their constant parts), ``+``, ``.format``,
module constants (also imported ones) and a function's own single-assignment locals.

- A direct call whose SQL names a tenant table fails the test: it must go through a scope.
- A direct call whose SQL cannot be read statically (``compiled.sql``) must be listed in DYNAMIC_SQL, with why
  it is not a tenant query of the platform database or how it is scoped.
- A cross-tenant call must be at a place listed in ACROSS_TENANTS, with a literal reason.
- A scope's SQL, where static, is rewritten here, so SQL the rewriter would refuse fails now rather than at
  its first use; and what it becomes is read by sqlglot (scoped_oracle), which finds no tenant table in it
  that is not scoped.
- Aliases that would hide a call (``q = db.query``, ``from telltale.platform.db import query``) fail too.

Its limits: SQL built at run time from pieces that each name nothing (``"usage." + name``) reaches the
database only through a listed dynamic call; a connection made outside ``telltale.platform.db`` and driven
by a method other than ``run`` is not seen (the platform has none: pg8000's native API runs SQL with ``run``).
"""

from __future__ import annotations

import ast
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from scoped_oracle import unscoped

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "common" / "python"
SOURCES = [LAYER / "telltale", ROOT / "functions"]
# The scopes themselves, and the database module they call: the SQL they pass on is their callers'.
EXEMPT = {"telltale.platform.scoped", "telltale.platform.db"}
PLACEHOLDER = "_x_"

# Direct calls whose SQL is not static text, and why they are no tenant query of the platform database or
# are scoped some other way. Keyed by module and the function's qualified name.
DYNAMIC_SQL: dict[tuple[str, str], str] = {
    ("telltale.events.stores.postgres", "PostgresEventStore.run"):
        "the DSL's compiled query: events/dsl.compile_query makes the tenant its first condition, in both dialects",
    ("telltale.platform.migrate", "apply_all"): "migrations create the tables (and run before any tenant exists)",
    ("telltale.apianalytics.stores.postgres", "PostgresRequestStore._queries.run"):
        "the request log's statements (apianalytics/stores/base.Queries, static text there), each sent through"
        " the tenant's scope, which adds the tenant predicate",
    ("telltale.connectors.postgres", "PostgresConnector.session"):
        "the session preamble (SET statements) on an external PostgreSQL a tenant's secret names, never the"
        " platform database (netguard refuses it)",
    ("telltale.events.service", "run_compiled"): "EventStore.run of a statement compiled by the DSL or by"
                                                 " telltale.events.product (tenant first, bind parameters), not SQL"
                                                 " text (the PostgreSQL store's run is listed above)",
}

# Where work spans tenants by nature (scoped.across_tenants): module -> functions.
ACROSS_TENANTS: dict[str, set[str]] = {
    "telltale.events.stores.postgres": {"PostgresEventStore.ensure_partitions", "PostgresEventStore._store",
                                        "PostgresEventStore._store_new_only"},
    "telltale.usage.store": {"claim_job", "fail_job", "add_warnings", "finish_job"},
    "telltale.usage.sync": {"scheduled_sync_all"},
    "telltale.usage.aggregate": {"aggregate_all"},
    "telltale.apianalytics.keys": {"authenticate"},
    "telltale.apianalytics.retention": {"purge_inactive"},
    "telltale.apianalytics.monitors": {"claim_due", "release"},
}


def tenant_tables_in(text: str) -> set[str]:
    """Tenant tables a text names, read liberally: case, quotes, whitespace and comments are ignored, and
    a name in a string literal counts too."""
    from telltale.platform.scoped import TENANT_SCHEMAS, TENANT_TABLES

    flat = re.sub(r"/\*.*?\*/|--[^\n]*", " ", text, flags=re.DOTALL).lower().replace('"', "").replace("`", "")
    flat = re.sub(r"\s*\.\s*", ".", flat)
    schemas = {s for s, _ in TENANT_TABLES} | set(TENANT_SCHEMAS)
    found = set()
    for m in re.finditer(r"(?<![a-z0-9_$])(" + "|".join(sorted(schemas)) + r")\.([a-z0-9_$]+)", flat):
        # A table of a tenant schema, or any other name in it that is not a function call (usage.table_keys).
        if (m.group(1), m.group(2)) in TENANT_TABLES or (m.group(1) in TENANT_SCHEMAS
                                                          and flat[m.end():m.end() + 1] != "("):
            found.add(f"{m.group(1)}.{m.group(2)}")
    return found


@dataclass
class Module:
    name: str
    tree: ast.Module
    path: str
    consts: dict[str, ast.expr] = field(default_factory=dict)
    imports: dict[str, tuple[str, str]] = field(default_factory=dict)  # local name -> (module, name)
    db_names: set[str] = field(default_factory=set)  # local names of telltale.platform.db
    scoped_names: set[str] = field(default_factory=set)  # local names of telltale.platform.scoped
    handles: dict[str, str] = field(default_factory=dict)  # module-level name -> "scope" | "cross"


def load(name: str, source: str, path: str = "") -> Module:
    tree = ast.parse(source)
    m = Module(name, tree, path or name)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                local = a.asname or a.name
                if node.module == "telltale.platform" and a.name == "db":
                    m.db_names.add(local)
                elif node.module == "telltale.platform" and a.name == "scoped":
                    m.scoped_names.add(local)
                else:
                    m.imports[local] = (node.module, a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "telltale.platform.db" and a.asname:
                    m.db_names.add(a.asname)
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for t in targets:
            if isinstance(t, ast.Name) and value is not None:
                m.consts[t.id] = value
    for local, value in m.consts.items():
        kind = handle_kind(m, value)
        if kind:
            m.handles[local] = kind
    return m


def handle_kind(m: Module, node: ast.expr) -> str | None:
    """"scope" for ``scoped.tenant(...)``, "cross" for ``scoped.across_tenants(...)``."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
            and node.func.value.id in m.scoped_names):
        return {"tenant": "scope", "across_tenants": "cross"}.get(node.func.attr)
    return None


class Resolver:
    def __init__(self, modules: dict[str, Module]) -> None:
        self.modules = modules

    def text(self, node: ast.expr | None, m: Module, local: dict[str, ast.expr], depth: int = 0) -> str | None:
        """The SQL text of ``node`` (PLACEHOLDER where a part is not static); None when nothing is static."""
        if node is None or depth > 20:
            return None
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            out = []
            for v in node.values:
                if isinstance(v, ast.Constant):
                    out.append(str(v.value))
                else:
                    assert isinstance(v, ast.FormattedValue)
                    part = self.text(v.value, m, local, depth + 1)
                    out.append(part if part is not None else PLACEHOLDER)
            return "".join(out)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.text(node.left, m, local, depth + 1), self.text(node.right, m, local, depth + 1)
            if left is None and right is None:
                return None
            return (left if left is not None else PLACEHOLDER) + (right if right is not None else PLACEHOLDER)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"):
            base = self.text(node.func.value, m, local, depth + 1)
            if base is None:
                return None
            kwargs = {k.arg: self.text(k.value, m, local, depth + 1) for k in node.keywords if k.arg}
            out = []
            for literal, fname, _spec, _conv in string.Formatter().parse(base):
                out.append(literal)
                if fname is not None:
                    value = kwargs.get(fname)
                    out.append(value if value is not None else PLACEHOLDER)
            return "".join(out)
        if isinstance(node, ast.Name):
            if node.id in local:
                return self.text(local[node.id], m, {}, depth + 1)
            return self.name(node.id, m, depth + 1)
        return None

    def name(self, name: str, m: Module, depth: int) -> str | None:
        if name in m.consts:
            return self.text(m.consts[name], m, {}, depth)
        if name in m.imports:
            mod, orig = m.imports[name]
            if mod in self.modules:
                return self.name(orig, self.modules[mod], depth + 1)
        return None


@dataclass
class Site:
    module: str
    qualname: str
    line: int


def functions(tree: ast.Module) -> list[tuple[str, ast.AST]]:
    """(qualified name, node) of the module itself and of every function in it."""
    out: list[tuple[str, ast.AST]] = [("<module>", tree)]

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                q = prefix + child.name
                out.append((q, child))
                visit(child, q + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    return out


def own_nodes(fn: ast.AST) -> list[ast.AST]:
    """The nodes of a function's body, not of the functions nested in it (they are visited on their own)."""
    out: list[ast.AST] = []
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return out


def check(modules: dict[str, Module], *, dynamic: dict[tuple[str, str], str] | None = None,
          across: dict[str, set[str]] | None = None) -> tuple[list[str], set[tuple[str, str]]]:
    """(problems, the places that used a cross-tenant handle or a listed dynamic call)."""
    from telltale.platform import scoped

    dynamic = DYNAMIC_SQL if dynamic is None else dynamic
    across = ACROSS_TENANTS if across is None else across
    resolver = Resolver(modules)
    problems: list[str] = []
    used: set[tuple[str, str]] = set()
    for m in modules.values():
        if m.name in EXEMPT:
            continue
        for node in ast.walk(m.tree):
            if isinstance(node, ast.ImportFrom) and node.module == "telltale.platform.db":
                names = {a.name for a in node.names} & {"query", "query_one", "connection", "connect", "transaction"}
                if names:
                    problems.append(f"{m.path}:{node.lineno}: imports {', '.join(sorted(names))} from the platform"
                                    " db module; call db.<name>(...) so that the walk sees it")
        for qualname, fn in functions(m.tree):
            nodes = own_nodes(fn) if qualname != "<module>" else [
                n for n in own_nodes(fn) if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
            local: dict[str, ast.expr] = {}
            assigned: dict[str, int] = {}
            handles: dict[str, str] = dict(m.handles)
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                for a in fn.args.args + fn.args.kwonlyargs:
                    if a.annotation is not None and "Scope" in ast.unparse(a.annotation):
                        handles[a.arg] = "scope"
            for node in nodes:
                if isinstance(node, ast.Assign):
                    for t in node.targets:
                        if isinstance(t, ast.Name):
                            assigned[t.id] = assigned.get(t.id, 0) + 1
                            local[t.id] = node.value
                            kind = handle_kind(m, node.value)
                            if kind:
                                handles[t.id] = kind
            local = {k: v for k, v in local.items() if assigned[k] == 1}
            parents: dict[ast.AST, ast.AST] = {}
            for node in nodes:
                for child in ast.iter_child_nodes(node):
                    parents[child] = node
            for node in nodes:
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in m.db_names
                        and node.attr in ("query", "query_one", "connection", "connect")
                        and not (isinstance(parents.get(node), ast.Call) and parents[node].func is node)):
                    problems.append(f"{m.path}:{node.lineno} {qualname}: db.{node.attr} is taken without calling"
                                    " it; call it where the SQL is, so that the walk sees the SQL")
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                attr, recv = node.func.attr, node.func.value
                kind = handle_kind(m, recv) if isinstance(recv, ast.Call) else (
                    handles.get(recv.id) if isinstance(recv, ast.Name) else None)
                where = f"{m.path}:{node.lineno} {qualname}"
                if kind in ("scope", "cross") and attr in ("query", "query_one", "page", "run", "run_raw"):
                    sql_arg = node.args[1] if attr in ("run", "run_raw") and len(node.args) > 1 else (
                        node.args[0] if node.args and attr not in ("run", "run_raw") else None)
                    text = resolver.text(sql_arg, m, local)
                    if kind == "cross":
                        used.add((m.name, qualname))
                        if qualname not in across.get(m.name, set()):
                            problems.append(f"{where}: a cross-tenant statement at a place not listed in"
                                            " ACROSS_TENANTS")
                    elif text is not None:
                        try:
                            sent = [scoped.rewrite(t) for t in (scoped._paged(text) if attr == "page" else [text])]
                        except scoped.UnscopedSQL as exc:
                            problems.append(f"{where}: the scope would refuse this SQL: {exc}")
                            continue
                        problems.extend(f"{where}: sqlglot reads {ref} unscoped in what the scope sends"
                                        for s in sent for ref in unscoped(s))
                    continue
                raw = (attr in ("query", "query_one") and isinstance(recv, ast.Name) and recv.id in m.db_names) or (
                    attr == "run" and kind is None)
                if not raw or not node.args:
                    continue
                sql_arg = node.args[0]
                if isinstance(sql_arg, ast.List | ast.Tuple | ast.Dict | ast.Set | ast.Lambda):
                    continue  # subprocess.run([...]) and the like: no SQL
                text = resolver.text(sql_arg, m, local)
                if text is None:
                    if (m.name, qualname) in dynamic:
                        used.add((m.name, qualname))
                    else:
                        problems.append(f"{where}: SQL the walk cannot read ({ast.unparse(sql_arg)[:60]}) sent"
                                        " directly; scope it, or list the place in DYNAMIC_SQL with why")
                    continue
                named = tenant_tables_in(text)
                if named:
                    problems.append(f"{where}: {', '.join(sorted(named))} queried around the scope; use"
                                    " scoped.tenant(tenant_id) (or scoped.across_tenants(reason), listed)")
        for node in ast.walk(m.tree):
            if isinstance(node, ast.Call) and handle_kind(m, node) == "cross":
                reason = node.args[0] if node.args else None
                if not (isinstance(reason, ast.Constant) and isinstance(reason.value, str)
                        and len(reason.value.strip()) >= 20):
                    problems.append(f"{m.path}:{node.lineno}: across_tenants needs its reason as a literal sentence")
    return problems, used


def repo_modules() -> dict[str, Module]:
    out: dict[str, Module] = {}
    for base in SOURCES:
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(LAYER if base.is_relative_to(LAYER) else ROOT)
            name = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            out[name] = load(name, path.read_text(), str(path.relative_to(ROOT)))
    return out


# ------------------------------------------------------------------------------------------------- the test
def test_no_platform_query_on_a_tenant_table_bypasses_the_scope() -> None:
    problems, used = check(repo_modules())
    assert not problems, "\n".join(problems)
    listed = {(m, q) for m, qs in ACROSS_TENANTS.items() for q in qs} | set(DYNAMIC_SQL)
    assert listed - used == set(), f"listed places that no longer need it: {sorted(listed - used)}"


# ------------------------------------------------------------------------------------ the walk can fail
def _problems(source: str, **kw: object) -> list[str]:
    modules = {"telltale.probe": load("telltale.probe", source),
               "telltale.probe_sql": load("telltale.probe_sql", 'SQL = "SELECT 1 FROM usage.connectors"')}
    return check(modules, **kw)[0]  # type: ignore[arg-type]


HEADER = "from telltale.platform import db, scoped\nfrom telltale.probe_sql import SQL\nAUX = 'usage'\n"


def test_the_walk_catches_direct_queries_on_tenant_tables() -> None:
    bypasses = {
        "literal": 'def f(t):\n    return db.query("SELECT * FROM usage.connectors WHERE tenant_id = :t", t=t)\n',
        "quoted and cased": 'def f():\n    return db.query_one(\'SELECT * FROM "USAGE" . "connectors"\')\n',
        "comment between": 'def f():\n    return db.query("SELECT * FROM usage/* x */.spaces")\n',
        "f-string": 'def f(c):\n    return db.query(f"SELECT {c} FROM platform.secrets")\n',
        "concatenation": 'def f():\n    return db.query("SELECT * FROM " + "events.events")\n',
        "format": 'def f():\n    return db.query("SELECT * FROM {t}".format(t="usage.products"))\n',
        "module constant": 'Q = "DELETE FROM platform.api_keys"\ndef f():\n    db.query(Q)\n',
        "imported constant": 'def f():\n    db.query(SQL)\n',
        "local": 'def f():\n    q = "SELECT * FROM usage.bi_queries"\n    return db.query(q)\n',
        "in a transaction": ('def f():\n    with db.transaction() as tx:\n'
                             '        tx.run("UPDATE usage.spaces SET x = 1")\n'),
        "any connection": 'def f(conn):\n    conn.run("SELECT * FROM events.active_users")\n',
        "unlisted schema table": 'def f():\n    db.query("SELECT * FROM events.events_p202601")\n',
        "nested function": 'def f():\n    def g():\n        db.query("SELECT * FROM usage.sync_jobs")\n    g()\n',
        "method": 'class C:\n    def m(self):\n        db.query("SELECT * FROM platform.apps")\n',
    }
    for name, body in bypasses.items():
        assert _problems(HEADER + body), name


def test_the_walk_catches_what_would_hide_a_query() -> None:
    assert _problems(HEADER + "def f():\n    q = db.query\n    return q('SELECT 1')\n")
    assert _problems("from telltale.platform.db import query\n")
    # SQL the walk cannot read, sent directly, needs to be listed.
    assert _problems(HEADER + "def f(sql):\n    return db.query(sql)\n")
    assert not _problems(HEADER + "def f(sql):\n    return db.query(sql)\n", dynamic={("telltale.probe", "f"): "x"})


def test_the_walk_checks_cross_tenant_places_and_scoped_sql() -> None:
    cross = ('X = scoped.across_tenants("the schedule visits every tenant")\n'
             'def f():\n    return X.query("SELECT DISTINCT tenant_id FROM usage.spaces")\n')
    assert _problems(HEADER + cross)
    assert not _problems(HEADER + cross, across={"telltale.probe": {"f"}})
    assert _problems(HEADER + 'def f():\n    return scoped.across_tenants("").query("SELECT 1")\n',
                     across={"telltale.probe": {"f"}})
    # A scope's static SQL is rewritten by the walk: what the scope would refuse fails now.
    assert _problems(HEADER + 'def f(t):\n    return scoped.tenant(t).query("COPY usage.spaces TO STDOUT")\n')
    assert _problems(HEADER + 'def f(t):\n    s = scoped.tenant(t)\n    return s.query("SELECT usage.spaces.id")\n')
    assert _problems(HEADER + 'def f(t):\n    s = scoped.tenant(t)\n'
                              '    return s.page("SELECT * FROM usage.spaces LIMIT 3", limit=1, offset=0)\n')
    ok = 'def f(t):\n    s = scoped.tenant(t)\n    return s.query("SELECT * FROM usage.spaces WHERE slug = :s", s=1)\n'
    assert not _problems(HEADER + ok)
    assert not _problems(HEADER + 'def f():\n    return db.query("SELECT slug FROM platform.secret_types")\n')
