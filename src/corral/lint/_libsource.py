"""Summarise one installed module's source into the record ``_library`` caches (JSON-ready)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from corral.lint._names import import_base

_TRANSPARENT = frozenset(
    {"staticmethod", "classmethod", "abstractmethod", "override", "final", "wraps", "coroutine"}
)
_PROPERTIES = frozenset({"property", "cached_property", "reify"})
_CONTEXT_MANAGERS = frozenset({"asynccontextmanager", "contextmanager"})
_AWAITABLE = frozenset({"Awaitable", "Coroutine"})
_SKIP = frozenset({"Optional", "Final", "ClassVar", "Annotated"})


def summarize_module(tree: ast.Module, module: str, *, is_package: bool) -> dict[str, Any]:
    """Return the record of ``module``: functions, classes, instances, imports, star imports."""
    package = module if is_package else module.rpartition(".")[0]
    reader = _Reader(module, package)
    statements = list(_flat(tree.body))
    for statement in statements:
        reader.imports(statement)
    reader.classes = {s.name for s in statements if isinstance(s, ast.ClassDef)}
    for statement in statements:
        reader.define(statement)
    return reader.record


def _flat(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Yield the statements of ``body``, looking into ``if``/``try`` blocks (version checks)."""
    for statement in body:
        if isinstance(statement, ast.If):
            yield from _flat(statement.body)
            yield from _flat(statement.orelse)
        elif isinstance(statement, ast.Try):
            yield from _flat(statement.body)
            for handler in statement.handlers:
                yield from _flat(handler.body)
        else:
            yield statement


class _Reader:
    def __init__(self, module: str, package: str) -> None:
        self.module = module
        self.package = package
        self.classes: set[str] = set()
        self.record: dict[str, Any] = {"f": {}, "c": {}, "v": {}, "a": {}, "s": []}

    def imports(self, node: ast.stmt) -> None:
        aliases = self.record["a"]
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = import_base(self.package, node.level, node.module)
            for alias in node.names:
                if alias.name == "*":
                    self.record["s"].append(base)
                else:
                    target = f"{base}.{alias.name}" if base else alias.name
                    aliases[alias.asname or alias.name] = target

    def define(self, node: ast.stmt) -> None:
        record = self.record
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            kind, value = self.function(node, None)
            if kind == "f" and (node.name not in record["f"] or not _is_overload(node)):
                record["f"][node.name] = value
                record["a"].pop(node.name, None)
        elif isinstance(node, ast.ClassDef):
            record["c"][node.name] = self.klass(node)
            record["a"].pop(node.name, None)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name):
                made = self.value_type(node)
                if made is not None:
                    record["v"][targets[0].id] = made
                    record["a"].pop(targets[0].id, None)

    def function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, owner: str | None
    ) -> tuple[str, Any]:
        """Return ("f", [is_async, returns]) or ("p", type) for a property."""
        names = [_decorator_name(d) for d in node.decorator_list]
        returns = self.annotation(node.returns, owner)
        if any(n in _PROPERTIES for n in names):
            return "p", returns
        if any(n in _CONTEXT_MANAGERS for n in names):
            return "f", [False, self.annotation(_first_argument(node.returns), owner)]
        known = all(n in _TRANSPARENT or n == "overload" for n in names)
        if returns == "<awaitable>":
            return "f", [True, None]
        if isinstance(node, ast.FunctionDef) and _makes_coroutine_functions(node):
            return "f", [False, "<asyncfn>"]
        if isinstance(node, ast.AsyncFunctionDef):
            if _yields(node):
                return "f", [False, None]
            return "f", [True if known else None, returns]
        return "f", [False if known else None, returns]

    def klass(self, node: ast.ClassDef) -> dict[str, Any]:
        owner = f"{self.module}.{node.name}"
        bases = [b for b in (self.annotation(base, owner) for base in node.bases) if b]
        methods: dict[str, Any] = {}
        types: dict[str, str] = {}
        for statement in _flat(node.body):
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                kind, value = self.function(statement, owner)
                if kind == "p":
                    if value:
                        types[statement.name] = value
                elif statement.name not in methods or not _is_overload(statement):
                    methods[statement.name] = value
                if statement.name == "__init__":
                    types.update(self.init_attributes(statement, owner))
            elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                declared = self.annotation(statement.annotation, owner)
                if declared:
                    types[statement.target.id] = declared
        return {"b": bases, "m": methods, "t": types}

    def init_attributes(
        self, init: ast.FunctionDef | ast.AsyncFunctionDef, owner: str
    ) -> dict[str, str]:
        found: dict[str, str] = {}
        for node in ast.walk(init):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                target = targets[0]
                if (
                    len(targets) == 1
                    and isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    kind = self.value_type(node, owner)
                    if kind:
                        found[target.attr] = kind
        return found

    def value_type(self, node: ast.Assign | ast.AnnAssign, owner: str | None = None) -> str | None:
        if isinstance(node, ast.AnnAssign):
            kind = self.annotation(node.annotation, owner)
            if kind:
                return kind
        value = node.value
        if isinstance(value, ast.Call):
            called = self.annotation(value.func, owner)
            if called and called.rpartition(".")[2][:1].isupper():
                return called  # a class by the naming convention: the instance's type
            if called and owner is None:
                return f"(){called}"  # what a function returns: settled when looked up
        return None

    def annotation(self, node: ast.expr | None, owner: str | None) -> str | None:
        """Return the dotted class an annotation names ("Self", "<awaitable>" or None)."""
        if node is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = ast.parse(node.value, mode="eval").body
            except SyntaxError:
                return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = {self.annotation(s, owner) for s in _union(node) if not _is_none(s)}
            return sides.pop() if len(sides) == 1 else None
        if isinstance(node, ast.Subscript):
            base = self.annotation(node.value, owner)
            last = (base or "").rpartition(".")[2]
            if last in _AWAITABLE:
                return "<awaitable>"
            if last in _SKIP:
                first = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
                return self.annotation(first, owner)
            if last == "Union" and isinstance(node.slice, ast.Tuple):
                members = [s for s in node.slice.elts if not _is_none(s)]
                return self.annotation(members[0], owner) if len(members) == 1 else None
            return base
        if isinstance(node, ast.Name):
            if node.id == "Self":
                return "Self"
            if owner is not None and owner.endswith(f".{node.id}"):
                return "Self"
            if node.id in self.classes:
                return f"{self.module}.{node.id}"
            imported = self.record["a"].get(node.id)
            return str(imported) if imported is not None else None
        if isinstance(node, ast.Attribute):
            base = self.annotation(node.value, None)
            return f"{base}.{node.attr}" if base and not base.startswith("<") else None
        return None


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def _is_overload(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(_decorator_name(d) == "overload" for d in node.decorator_list)


def _first_argument(node: ast.expr | None) -> ast.expr | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(node, ast.Subscript):
        inner = node.slice
        return inner.elts[0] if isinstance(inner, ast.Tuple) else inner
    return None


def _union(node: ast.expr) -> Iterator[ast.expr]:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        yield from _union(node.left)
        yield from _union(node.right)
    else:
        yield node


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _makes_coroutine_functions(function: ast.FunctionDef) -> bool:
    """Return whether ``function`` defines an ``async def`` and returns it (a wrapper factory)."""
    inner = {s.name for s in function.body if isinstance(s, ast.AsyncFunctionDef)}
    return bool(inner) and any(
        isinstance(s, ast.Return) and isinstance(s.value, ast.Name) and s.value.id in inner
        for s in function.body
    )


def _yields(function: ast.AsyncFunctionDef) -> bool:
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))
    return False
