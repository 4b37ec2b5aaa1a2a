"""What rules know about the file they check: parents, scopes, classes and name resolution."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field

from corral.lint._scope import Binding, FunctionNode, Scope, build_scope

_BUILTINS = frozenset(dir(builtins))
_FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


@dataclass(slots=True)
class ClassFacts:
    """The methods of a class and what its attributes are assigned, in any method."""

    methods: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = field(default_factory=dict)
    attributes: dict[str, list[Binding]] = field(default_factory=dict)

    def method(self, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """Return the one method defined as ``name``, or None if none or several."""
        defs = self.methods.get(name, [])
        return defs[0] if len(defs) == 1 else None


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
        self._scopes: dict[ast.AST, Scope] = {}
        self._classes: dict[ast.ClassDef, ClassFacts] = {}

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
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, _FUNCTION_TYPES):
                return ancestor
        return None

    def in_async(self, node: ast.AST) -> bool:
        """Return whether ``node`` runs in the body of an ``async def`` (not a nested def)."""
        return isinstance(self.function_of(node), ast.AsyncFunctionDef)

    def class_of(self, function: ast.AST) -> ast.ClassDef | None:
        """Return the class whose body defines ``function``, if it is a method."""
        owner = self.parents.get(function)
        return owner if isinstance(owner, ast.ClassDef) else None

    # -- names ----------------------------------------------------------------------------------

    def scope(self, node: ast.AST) -> Scope:
        """Return the bindings of the module or function ``node`` (built once)."""
        scope = self._scopes.get(node)
        if scope is None:
            scope = self._scopes[node] = build_scope(node, self.package)
        return scope

    def lookup(self, name: str, at: ast.AST) -> tuple[Scope, list[Binding]] | None:
        """Return the scope that binds ``name`` as seen from ``at``, and its bindings there."""
        for ancestor in self.ancestors(at):
            if isinstance(ancestor, _FUNCTION_TYPES):
                scope = self.scope(ancestor)
                if name in scope.declared_outer:
                    break
                if name in scope.bindings:
                    return scope, scope.bindings[name]
        module = self.scope(self.tree)
        if name in module.bindings:
            return module, module.bindings[name]
        return None

    def resolve(self, expr: ast.AST) -> str | None:
        """Return the dotted name ``expr`` refers to (``requests.get``, ``pkg.mod.fetch``).

        Names imported, defined at module level or builtin resolve; local variables do not.
        """
        if isinstance(expr, ast.Attribute):
            base = self.resolve(expr.value)
            return f"{base}.{expr.attr}" if base else None
        if not isinstance(expr, ast.Name):
            return None
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
        if owner is None or _first_parameter(method) != expr.value.id:
            return None
        return owner

    def class_facts(self, owner: ast.ClassDef) -> ClassFacts:
        """Return the methods and attribute assignments of ``owner`` (built once)."""
        facts = self._classes.get(owner)
        if facts is None:
            facts = self._classes[owner] = _class_facts(owner)
        return facts


def _first_parameter(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Name) and decorator.id == "staticmethod":
            return None
    params = [*function.args.posonlyargs, *function.args.args]
    return params[0].arg if params else None


def _class_facts(owner: ast.ClassDef) -> ClassFacts:
    facts = ClassFacts()
    for statement in owner.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            facts.methods.setdefault(statement.name, []).append(statement)
            _self_assignments(statement, facts)
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            binding = Binding(statement.value, statement.annotation)
            facts.attributes.setdefault(statement.target.id, []).append(binding)
    return facts


def _self_assignments(method: ast.FunctionDef | ast.AsyncFunctionDef, facts: ClassFacts) -> None:
    me = _first_parameter(method)
    if me is None:
        return
    for node in ast.walk(method):
        if isinstance(node, ast.Assign):
            value = node.value if len(node.targets) == 1 else None
            for target in node.targets:
                _record_self(target, me, Binding(value=value), facts)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            binding = (
                Binding(node.value, node.annotation)
                if isinstance(node, ast.AnnAssign)
                else Binding()
            )
            _record_self(node.target, me, binding, facts)


def _record_self(target: ast.expr, me: str, binding: Binding, facts: ClassFacts) -> None:
    if isinstance(target, ast.Tuple | ast.List | ast.Starred):
        for element in ast.iter_child_nodes(target):
            if isinstance(element, ast.expr):
                _record_self(element, me, Binding(), facts)
    elif (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == me
    ):
        facts.attributes.setdefault(target.attr, []).append(binding)
