"""The shape of ``src/corral``: no import cycle among its modules, no module over 400 lines.

The import graph is read from the source, not from ``sys.modules``: every module's AST is
walked and each import of a corral module is an edge, whether at module level or inside a
function (a deferred import still ties the two modules together), except inside an
``if TYPE_CHECKING:`` block, which never runs. Absolute and relative imports are resolved
alike. An edge goes to the module that defines what is imported:

- ``import corral.a.b`` and ``from corral.a import b``, where ``b`` is a submodule, import
  ``corral.a.b``; ``import corral.http`` imports the package, its ``corral/http/__init__.py``.
- ``from corral.a import name``, where ``corral.a`` is a package whose ``__init__`` re-exports
  ``name`` (``from corral.a._m import name``, eager or, for the lazy faces' ``_HOMES``, under
  ``TYPE_CHECKING``), imports the module that defines ``name``; otherwise the package itself.

The root is the case that needs the second rule. ``corral/__init__.py`` imports the whole
toolkit, so were ``from corral import open_scope`` an edge to ``corral``, every module using
a public name of the toolkit would sit in a cycle with every toolkit module, and the test
could say nothing. Resolved through ``corral/__init__``'s own imports, it is an edge to
``corral._scope``, which is what the module depends on; ``corral``'s own edges (to the
toolkit modules it re-exports) stay in the graph, so a toolkit module that imported http,
guard or lint would still close a cycle through them. Loads by name at run time
(``importlib.import_module`` in ``corral._lazy``) are not imports here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import corral

SRC = Path(corral.__file__).resolve().parent
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, *, type_checking: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Yield the import statements anywhere in ``tree``; those under TYPE_CHECKING if asked."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            if type_checking:
                stack.extend(node.body)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _base(module: str, node: ast.ImportFrom) -> str:
    """Return the absolute module a ``from ... import`` statement in ``module`` names."""
    if not node.level:
        return node.module or ""
    package = module if module in PACKAGES else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _reexports(package: str) -> dict[str, str]:
    """Return the names a package's ``__init__`` imports, and the module each comes from."""
    tree = ast.parse(MODULES[package].read_text())
    homes: dict[str, str] = {}
    for node in _imports(tree, type_checking=True):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                homes[alias.asname or alias.name] = _base(package, node)
    return homes


REEXPORTS = {package: _reexports(package) for package in PACKAGES}


def _defining_module(base: str, name: str) -> str:
    """Return the corral module that ``from base import name`` depends on."""
    if f"{base}.{name}" in MODULES:
        return f"{base}.{name}"
    home = REEXPORTS.get(base, {}).get(name)
    if home is not None and home != base and home in MODULES:
        return _defining_module(home, name)
    return base


def _edges(module: str) -> set[str]:
    """Return the corral modules ``module`` imports outside TYPE_CHECKING blocks."""
    found: set[str] = set()
    for node in _imports(ast.parse(MODULES[module].read_text()), type_checking=False):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
            continue
        base = _base(module, node)
        if base in MODULES:
            found.update(_defining_module(base, alias.name) for alias in node.names)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """Return every corral module and the corral modules it imports."""
    return {module: _edges(module) for module in MODULES}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module (Tarjan, 1972)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """Return one shortest import cycle through the component's first module, for the report."""
    start, members = component[0], set(component)
    paths: dict[str, list[str]] = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{component} is not a cycle")  # a component always has one


def cycles() -> list[str]:
    """Return each import cycle among corral's modules, as its members and one cycle."""
    graph = import_graph()
    return [
        f"{len(component)} modules: {', '.join(component)}\n"
        f"    e.g. {' -> '.join(shortest_cycle(graph, component))}"
        for component in strongly_connected(graph)
    ]


def oversized() -> list[str]:
    """Return each corral module over ``MAX_LINES`` lines, with its length."""
    lengths = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    return [f"{name}: {n} lines" for name, n in sorted(lengths.items()) if n > MAX_LINES]


def test_the_graph_sees_what_the_rules_say() -> None:
    """The walk resolves root re-exports, lazy homes, submodules, and skips TYPE_CHECKING."""
    graph = import_graph()
    assert "corral._scope" in graph["corral"]  # the root's own imports are edges
    assert "corral._options" in graph["corral._scope"]
    assert "corral" not in graph["corral._map"]
    assert _defining_module("corral", "open_scope") == "corral._scope"
    assert _defining_module("corral.guard", "BlockingCallError") == "corral.guard._exceptions"
    assert _defining_module("corral.guard", "_strict") == "corral.guard._strict"
    assert "corral.guard._guard" not in graph["corral.guard._hooks"]  # TYPE_CHECKING only
    assert "corral.guard._hooks" in graph["corral.guard._pytest_plugin"]  # inside a function
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_corral_modules() -> None:
    """No module of src/corral imports, directly or not, a module that imports it back."""
    found = cycles()
    assert not found, "import cycles in src/corral:\n" + "\n".join(found)


def test_no_module_over_400_lines() -> None:
    """Every module of src/corral stays at most 400 lines; past that it splits by concept."""
    found = oversized()
    assert not found, f"modules over {MAX_LINES} lines:\n" + "\n".join(found)
