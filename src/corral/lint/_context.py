"""What rules know about the file they check: parents, scopes, classes and name resolution."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

from corral.lint._classes import ClassFacts, all_class_facts, first_parameter
from corral.lint._names import Binding, FunctionNode, NameScope, build_name_scope

T = TypeVar("T")
N = TypeVar("N", bound=ast.AST)

_BUILTINS = frozenset(dir(builtins))
_FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


class FileContext:
    """One parsed file: its tree, module name, parent links and lazily built scopes."""

    def __init__(
        self,
        tree: ast.Module,
        *,
        module: str,
        is_package: bool,
        packages: frozenset[str] = frozenset(),
    ) -> None:
        self.tree = tree
        self.module = module
        # Top-level names of the linted tree's modules: imports from these may be indexed.
        self.packages = packages
        self.package = module if is_package else module.rpartition(".")[0]
        self.parents: dict[ast.AST, ast.AST] = {}
        # The function each node runs in (None: module level), filled by the walk.
        self.owners: dict[ast.AST, FunctionNode | None] = {}
        # Every node of the types rules ask for (and calls, classes, assignments), by type.
        self.nodes: dict[type[ast.AST], list[ast.AST]] = {}
        self._memo: dict[tuple[str, ast.AST], object] = {}
        self._lookups: dict[tuple[ast.AST | None, str], tuple[NameScope, list[Binding]] | None] = {}
        self._scopes: dict[ast.AST, NameScope] = {}
        self._classes: dict[ast.ClassDef, ClassFacts] | None = None
        self._resolved: dict[ast.AST, str | None] = {}

    # -- structure ------------------------------------------------------------------------------

    def parent(self, node: ast.AST) -> ast.AST | None:
        """Return the node that contains ``node``, or None for the module."""
        return self.parents.get(node)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        """Yield the nodes that contain ``node``, innermost first."""
        current = self.parents.get(node)
        while current is not None:
            yield current
            current = self.parents.get(current)

    def function_of(self, node: ast.AST) -> FunctionNode | None:
        """Return the innermost function or lambda whose body holds ``node``."""
        if node in self.owners:
            return self.owners[node]
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, _FUNCTION_TYPES):
                return ancestor
        return None

    def class_of(self, function: ast.AST) -> ast.ClassDef | None:
        """Return the class whose body defines ``function``, if it is a method."""
        owner = self.parents.get(function)
        return owner if isinstance(owner, ast.ClassDef) else None

    # -- names ----------------------------------------------------------------------------------

    def name_scope(self, node: ast.AST) -> NameScope:
        """Return the bindings of the module or function ``node`` (built once)."""
        scope = self._scopes.get(node)
        if scope is None:
            scope = self._scopes[node] = build_name_scope(node, self.package)
        return scope

    def nodes_of(self, node_type: type[N]) -> list[N]:
        """Return every node of ``node_type`` in the file.

        Calls, classes and assignments are always collected, with the types rules ask for.
        """
        return cast("list[N]", self.nodes.get(node_type, []))

    def calls(self) -> list[ast.Call]:
        """Return every call in the file."""
        return self.nodes_of(ast.Call)

    def memo(self, kind: str, node: ast.AST, compute: Callable[[], T]) -> T:
        """Return ``compute()``, computed once per file for ``(kind, node)``."""
        key = (kind, node)
        if key not in self._memo:
            self._memo[key] = compute()
        return cast("T", self._memo[key])

    def lookup(self, name: str, at: ast.AST) -> tuple[NameScope, list[Binding]] | None:
        """Return the scope that binds ``name`` as seen from ``at``, and its bindings there."""
        function = self.function_of(at)
        key = (function, name)
        if key not in self._lookups:
            self._lookups[key] = self._lookup(name, function)
        return self._lookups[key]

    def _lookup(
        self, name: str, function: FunctionNode | None
    ) -> tuple[NameScope, list[Binding]] | None:
        while function is not None:
            scope = self.name_scope(function)
            if name in scope.declared_outer:
                break
            if name in scope.bindings:
                return scope, scope.bindings[name]
            function = self.function_of(function)
        module = self.name_scope(self.tree)
        if name in module.bindings:
            return module, module.bindings[name]
        return None

    def resolve(self, expr: ast.AST) -> str | None:
        """Return the dotted name ``expr`` refers to (``requests.get``, ``pkg.mod.fetch``).

        Names imported, defined at module level or builtin resolve; local variables do not.
        Every rule asks about the same calls, so answers are kept per node.
        """
        try:
            return self._resolved[expr]
        except KeyError:
            resolved = self._resolved[expr] = self._resolve(expr)
            return resolved

    def _resolve(self, expr: ast.AST) -> str | None:
        attrs: list[str] = []
        while isinstance(expr, ast.Attribute):  # a loop, not recursion: chains may be long
            attrs.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return None
        base = self._resolve_name(expr)
        if base is None:
            return None
        return ".".join([base, *reversed(attrs)])

    def _resolve_name(self, expr: ast.Name) -> str | None:
        found = self.lookup(expr.id, expr)
        if found is None:
            return f"builtins.{expr.id}" if expr.id in _BUILTINS else None
        scope, bindings = found
        names = {b.qualname for b in bindings}
        if len(names) == 1 and None not in names:
            return names.pop()
        if scope.node is self.tree and len(bindings) == 1:
            value = bindings[0].value
            if isinstance(value, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                return f"{self.module}.{expr.id}"
        return None

    def local_definition(self, expr: ast.AST) -> ast.AST | None:
        """Return the one ``def``/``class`` node a bare name or ``self.name`` refers to."""
        if isinstance(expr, ast.Name):
            found = self.lookup(expr.id, expr)
            if found is not None and len(found[1]) == 1:
                value = found[1][0].value
                if isinstance(value, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    return value
            return None
        owner = self.self_class(expr)
        if owner is not None:
            assert isinstance(expr, ast.Attribute)
            return self.class_facts(owner).method(expr.attr)
        return None

    # -- classes --------------------------------------------------------------------------------

    def self_class(self, expr: ast.AST) -> ast.ClassDef | None:
        """Return the class of ``self`` when ``expr`` is ``self.attr`` (or ``cls.attr``)."""
        if not (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name)):
            return None
        found = self.lookup(expr.value.id, expr)
        if found is None or not isinstance(found[0].node, ast.FunctionDef | ast.AsyncFunctionDef):
            return None
        method = found[0].node
        owner = self.class_of(method)
        if owner is None or first_parameter(method) != expr.value.id:
            return None
        return owner

    def class_facts(self, owner: ast.ClassDef) -> ClassFacts:
        """Return the methods and attribute assignments of ``owner`` (built once)."""
        if self._classes is None:
            self._classes = all_class_facts(self)
        return self._classes[owner]
