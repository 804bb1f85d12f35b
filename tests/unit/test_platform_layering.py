"""The layer's import graph: no cycles, and nothing imports upward (DESIGN.md, "Layout").

Read from the source with ``ast`` (nothing is imported), counting imports inside functions too: a lazy
import that closes a cycle is still a cycle a reader has to hold in their head, and the first caller
that imports at module level turns it into an ImportError. Imports under ``if TYPE_CHECKING:`` are left
out: type checkers read them, Python never runs them.
"""

from __future__ import annotations

import ast
from pathlib import Path

LAYER = Path(__file__).resolve().parents[2] / "layers" / "common" / "python"

# Bottom to top. A package may import from its own level and the levels below it, never above.
LEVELS = [
    {"platform"},                      # settings, database, AWS clients, queue, logging, errors, outbound policy
    {"web", "sources"},                # HTTP plumbing; the data-source registry (declarations only)
    {"secrets", "connectors"},         # the secret store and API; the query drivers
    {"queries", "events"},             # saved queries; events (ingestion, DSL, stores)
    {"saas", "usage", "apianalytics"},  # the surfaces built on the ones below
]
# platform.db reads its own password from Secrets Manager through the secret store (DESIGN.md: the store
# "used by the platform database too"): the one import from platform upward, and only of the store,
# which itself needs platform alone.
ALLOWED_UP = {("telltale.platform.db", "telltale.secrets.store")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(LAYER).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in (LAYER / "telltale").rglob("*.py")}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except what is under ``if TYPE_CHECKING:`` (read by type checkers only)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return out


def _imports(path: Path) -> set[str]:
    """Every module (of any package) that ``path`` imports at run time, at module level or in a function."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: a relative import; the layer uses absolute ones"
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


GRAPH = {name: {m for m in _imports(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def _level(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None
    return next((i for i, level in enumerate(LEVELS) if parts[1] in level), None)


def test_every_package_has_a_level():
    packages = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
    leaves = {m.split(".")[1] for m in MODULES if m.count(".") == 1 and not (LAYER / Path(*m.split("."))).is_dir()}
    assert packages - leaves <= set().union(*LEVELS), "a new package: give it a level in LEVELS"
    assert not leaves, f"modules beside the packages, where a reader does not look for them: {sorted(leaves)}"


def test_nothing_imports_handlers_or_the_local_runtime():
    bad = sorted((name, m) for name, path in MODULES.items() for m in _imports(path)
                 if m.split(".")[0] in {"telltale_local", "functions", "tests", "benchmarks"}
                 or m.startswith("telltale_function_"))
    assert not bad, f"the layer imports what is above it: {bad}"


def test_no_package_imports_upward():
    bad = []
    for name, deps in GRAPH.items():
        own = _level(name)
        for dep in deps:
            theirs = _level(dep)
            if own is not None and theirs is not None and theirs > own and (name, dep) not in ALLOWED_UP:
                bad.append(f"{name} -> {dep}")
    assert not bad, "imports upward (see LEVELS):\n" + "\n".join(sorted(bad))


def test_the_import_graph_has_no_cycles():
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_the_graph_is_read_at_all():
    # The checks above would pass on an empty graph: prove the walk sees real edges.
    assert "telltale.platform.config" in GRAPH["telltale.platform.db"]
    assert "telltale.secrets.store" in GRAPH["telltale.platform.db"]  # a lazy import, inside a function


def test_modules_beside_a_handler_have_names_no_other_function_uses():
    # Each function's folder is its import root (Lambda's /var/task); locally one process hosts every
    # function, so two folders with a module of the same name would import each other's.
    functions = LAYER.parents[2] / "functions"
    seen: dict[str, str] = {}
    clashes = []
    for path in sorted(functions.glob("*/*.py")):
        if path.name == "app.py":  # loaded by path under a name of its own (telltale_function_<name>_app)
            continue
        if path.stem in seen:
            clashes.append(f"{path.stem}: {seen[path.stem]} and {path.parent.name}")
        seen[path.stem] = path.parent.name
    assert not clashes, clashes
    assert "catalog_connectors" in seen  # the walk sees the modules beside the handlers
