"""Name bindings of one Python scope (a module, a function or a lambda): ``NameScope``.

A scope records, for each name bound in it, every binding: the value assigned, the annotation,
the ``def``/``class`` node, or the dotted name it was imported as. Rules use this to know that
``r.get`` is ``requests.get`` (``import requests as r``), that ``sleep`` is ``time.sleep``, that a
local ``open`` is not the builtin, or that ``session`` was assigned ``requests.Session()``.
Nested functions, lambdas and classes are scopes of their own and are not walked into.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


@dataclass(frozen=True, slots=True)
class Binding:
    """One way a name got bound; all fields None means "bound to something unknown"."""

    value: ast.AST | None = None
    annotation: ast.expr | None = None
    qualname: str | None = None
    # ``a, b = value``: the value unpacked, and which item of it this name is.
    unpacked: ast.expr | None = None
    item: int = 0


_UNKNOWN = Binding()


@dataclass(slots=True)
class NameScope:
    """The bindings of one scope, and the names it declares ``global`` or ``nonlocal``."""

    node: ast.AST
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    declared_outer: set[str] = field(default_factory=set)

    def bind(self, name: str, binding: Binding) -> None:
        """Record one more binding of ``name``."""
        self.bindings.setdefault(name, []).append(binding)


def import_base(package: str, level: int, module: str | None) -> str:
    """Return the absolute module a ``from`` import of ``level`` dots names, from ``package``."""
    if level == 0:
        return module or ""
    parts = package.split(".") if package else []
    if level > 1:
        parts = parts[: max(0, len(parts) - (level - 1))]
    return ".".join([*parts, module] if module else parts)


def build_name_scope(node: ast.AST, package: str) -> NameScope:
    """Return the bindings made directly in the scope of ``node`` (a module or a function).

    Args:
        node: An ``ast.Module``, function definition or lambda.
        package: The package relative imports are resolved against.
    """
    scope = NameScope(node)
    stack: list[ast.AST] = []
    if isinstance(node, FunctionNode):
        _bind_arguments(scope, node.args)
        stack.extend([node.body] if isinstance(node, ast.Lambda) else reversed(node.body))
    elif isinstance(node, ast.Module):
        stack.extend(reversed(node.body))
    binder = _Binder(scope, package, stack)
    while stack:
        binder.visit(stack.pop())
    return scope


def _bind_arguments(scope: NameScope, args: ast.arguments) -> None:
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        scope.bind(arg.arg, Binding(annotation=arg.annotation))
    for rest in (args.vararg, args.kwarg):
        if rest is not None:
            scope.bind(rest.arg, _UNKNOWN)


class _Binder:
    """Record the bindings of one node, queueing the children that may hold more."""

    def __init__(self, scope: NameScope, package: str, stack: list[ast.AST]) -> None:
        self.scope = scope
        self.package = package
        self.stack = stack

    def visit(self, node: ast.AST) -> None:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(self, node)
        elif isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                self.scope.bind(node.id, _UNKNOWN)
        else:
            self.stack.extend(ast.iter_child_nodes(node))

    def definition(self, node: ast.AST) -> None:
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        self.scope.bind(node.name, Binding(value=node))
        # Decorators, defaults and bases run in this scope; the body does not.
        self.stack.extend(node.decorator_list)
        if isinstance(node, ast.ClassDef):
            self.stack.extend(node.bases)
        else:
            self.stack.extend(d for d in (*node.args.defaults, *node.args.kw_defaults) if d)

    def lambda_(self, node: ast.AST) -> None:
        assert isinstance(node, ast.Lambda)
        self.stack.extend(d for d in (*node.args.defaults, *node.args.kw_defaults) if d)

    def import_(self, node: ast.AST) -> None:
        assert isinstance(node, ast.Import)
        for alias in node.names:
            if alias.asname:
                self.scope.bind(alias.asname, Binding(qualname=alias.name))
            else:
                top = alias.name.split(".", 1)[0]
                self.scope.bind(top, Binding(qualname=top))

    def import_from(self, node: ast.AST) -> None:
        assert isinstance(node, ast.ImportFrom)
        base = import_base(self.package, node.level, node.module)
        for alias in node.names:
            if alias.name != "*":
                qualname = f"{base}.{alias.name}" if base else alias.name
                self.scope.bind(alias.asname or alias.name, Binding(qualname=qualname))

    def declare(self, node: ast.AST) -> None:
        assert isinstance(node, ast.Global | ast.Nonlocal)
        self.scope.declared_outer.update(node.names)

    def assign(self, node: ast.AST) -> None:
        assert isinstance(node, ast.Assign)
        for target in node.targets:
            self._target(target, node.value if len(node.targets) == 1 else None)
        self.stack.append(node.value)

    def ann_assign(self, node: ast.AST) -> None:
        assert isinstance(node, ast.AnnAssign)
        if isinstance(node.target, ast.Name):
            self.scope.bind(node.target.id, Binding(node.value, node.annotation))
        else:
            self.stack.append(node.target)
        if node.value is not None:
            self.stack.append(node.value)

    def named_expr(self, node: ast.AST) -> None:
        assert isinstance(node, ast.NamedExpr)
        self.scope.bind(node.target.id, Binding(value=node.value))
        self.stack.append(node.value)

    def with_(self, node: ast.AST) -> None:
        assert isinstance(node, ast.With | ast.AsyncWith)
        for item in node.items:
            self.stack.append(item.context_expr)
            if isinstance(item.optional_vars, ast.Name):
                self.scope.bind(item.optional_vars.id, Binding(value=item.context_expr))
            elif item.optional_vars is not None:
                self.stack.append(item.optional_vars)
        self.stack.extend(reversed(node.body))

    def except_handler(self, node: ast.AST) -> None:
        assert isinstance(node, ast.ExceptHandler)
        if node.name:
            self.scope.bind(node.name, _UNKNOWN)
        self.stack.extend(ast.iter_child_nodes(node))

    def pattern(self, node: ast.AST) -> None:
        name = getattr(node, "name", None) or getattr(node, "rest", None)
        if name:
            self.scope.bind(name, _UNKNOWN)
        self.stack.extend(ast.iter_child_nodes(node))

    def _target(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self.scope.bind(target.id, Binding(value=value) if value is not None else _UNKNOWN)
        elif (
            isinstance(target, ast.Tuple)
            and value is not None
            and all(isinstance(e, ast.Name) for e in target.elts)
        ):
            for item, element in enumerate(target.elts):
                assert isinstance(element, ast.Name)
                self.scope.bind(element.id, Binding(unpacked=value, item=item))
        else:
            self.stack.append(target)


_HANDLERS = {
    ast.FunctionDef: _Binder.definition,
    ast.AsyncFunctionDef: _Binder.definition,
    ast.ClassDef: _Binder.definition,
    ast.Lambda: _Binder.lambda_,
    ast.Import: _Binder.import_,
    ast.ImportFrom: _Binder.import_from,
    ast.Global: _Binder.declare,
    ast.Nonlocal: _Binder.declare,
    ast.Assign: _Binder.assign,
    ast.AnnAssign: _Binder.ann_assign,
    ast.NamedExpr: _Binder.named_expr,
    ast.With: _Binder.with_,
    ast.AsyncWith: _Binder.with_,
    ast.ExceptHandler: _Binder.except_handler,
    ast.MatchAs: _Binder.pattern,
    ast.MatchStar: _Binder.pattern,
    ast.MatchMapping: _Binder.pattern,
}
