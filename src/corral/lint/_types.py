"""Light type inference: the class an expression's object is an instance of, as a dotted name.

Enough to see ``conn.fetch()`` as ``asyncpg.Connection.fetch``: annotations, constructor calls,
return annotations of functions and methods (of this module or of installed packages, read by
``_library``), ``self.x`` assigned in any method, ``await`` of an annotated coroutine, a tuple
unpacked from a known call (``reader, writer = await asyncio.open_connection(...)``). A class of
another module of the linted tree is named by its import (``pkg.client.Client``) and settled by
the tree's index; a class of this module is ``<module>.<Class>``. Anything unclear is None.
"""

from __future__ import annotations

import ast

from corral.lint._context import FileContext
from corral.lint._library import library
from corral.lint._names import Binding

_DEPTH = 6

#: Calls whose (awaited) result the source does not annotate, with the class of each item.
AWAITED_RESULTS: dict[str, tuple[str, ...]] = {
    "asyncio.open_connection": ("asyncio.streams.StreamReader", "asyncio.streams.StreamWriter"),
    "asyncio.open_unix_connection": (
        "asyncio.streams.StreamReader",
        "asyncio.streams.StreamWriter",
    ),
    "asyncio.create_subprocess_exec": ("asyncio.subprocess.Process",),
    "asyncio.create_subprocess_shell": ("asyncio.subprocess.Process",),
    "asyncio.start_server": ("asyncio.base_events.Server",),
}
#: Calls whose result the source does not annotate.
RESULTS: dict[str, str] = {"logging.getLogger": "logging.Logger"}


def is_linted(qualname: str, ctx: FileContext) -> bool:
    """Return whether ``qualname`` belongs to another module of the linted tree."""
    return qualname.partition(".")[0] in ctx.packages and not qualname.startswith(f"{ctx.module}.")


def local_class(qualname: str, ctx: FileContext) -> ast.ClassDef | None:
    """Return the module-level class of this file that ``qualname`` names."""
    prefix = f"{ctx.module}."
    if not qualname.startswith(prefix):
        return None
    name = qualname[len(prefix) :]
    found = ctx.lookup(name, ctx.tree)
    if found is None or len(found[1]) != 1:
        return None
    value = found[1][0].value
    return value if isinstance(value, ast.ClassDef) else None


def type_of(expr: ast.AST, ctx: FileContext, depth: int = 0) -> str | None:
    """Return the dotted class of the object ``expr`` evaluates to, if it can be known."""
    if depth > _DEPTH:
        return None
    if isinstance(expr, ast.Await):
        return (
            _call_type(expr.value, ctx, depth, awaited=True)
            if isinstance(expr.value, ast.Call)
            else None
        )
    if isinstance(expr, ast.Call):
        return _call_type(expr, ctx, depth, awaited=False)
    if isinstance(expr, ast.Name):
        found = ctx.lookup(expr.id, expr)
        if found is None or found[1][0].qualname is not None:
            return _module_instance(ctx.resolve(expr))
        return _agreed(found[1], ctx, depth)
    if isinstance(expr, ast.Attribute):
        owner = ctx.self_class(expr)
        if owner is not None:
            return _agreed(ctx.class_facts(owner).attributes.get(expr.attr, []), ctx, depth)
        base = type_of(expr.value, ctx, depth + 1)
        if base is not None and not is_linted(base, ctx) and local_class(base, ctx) is None:
            return library().attribute(base, expr.attr)
        return _module_instance(ctx.resolve(expr))
    return None


def _module_instance(qualname: str | None) -> str | None:
    """Return the class of an installed module's module-level instance (``pkg.default``)."""
    if qualname is None:
        return None
    found = library().lookup(qualname)
    return str(found[2]) if found is not None and found[0] == "v" else None


def _call_type(call: ast.Call, ctx: FileContext, depth: int, *, awaited: bool) -> str | None:
    func = call.func
    definition = ctx.local_definition(func)
    if isinstance(definition, ast.ClassDef):
        return f"{ctx.module}.{definition.name}" if ctx.class_of(definition) is None else None
    if isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef):
        if isinstance(definition, ast.AsyncFunctionDef) and not awaited:
            return None
        return annotation_type(definition.returns, ctx) if definition.returns else None
    qualname = ctx.resolve(func)
    if qualname is not None:
        if awaited and qualname in AWAITED_RESULTS and len(AWAITED_RESULTS[qualname]) == 1:
            return AWAITED_RESULTS[qualname][0]
        if qualname in RESULTS:
            return RESULTS[qualname]
        if is_linted(qualname, ctx):
            # A class by the naming convention; if it is a function, the index finds no
            # methods under its name and nothing is reported.
            return qualname if qualname.rpartition(".")[2][:1].isupper() else None
        return _library_call(qualname, awaited)
    if isinstance(func, ast.Attribute):
        owner = type_of(func.value, ctx, depth + 1)
        if owner is not None:
            return method_returns(owner, func.attr, ctx, awaited=awaited)
    return None


def _library_call(qualname: str, awaited: bool) -> str | None:
    found = library().lookup(qualname)
    if found is None:
        return None
    kind, canonical, record = found
    if kind == "c":
        return canonical
    if kind in ("f", "m"):
        is_async, returns = record
        if (is_async and not awaited) or not returns or returns.startswith("<"):
            return None
        return str(returns)
    return None


def method_returns(owner: str, name: str, ctx: FileContext, *, awaited: bool) -> str | None:
    """Return the class that method ``name`` of class ``owner`` returns."""
    cls = local_class(owner, ctx)
    if cls is not None:
        method = ctx.class_facts(cls).method(name)
        if method is None or (isinstance(method, ast.AsyncFunctionDef) and not awaited):
            return None
        return annotation_type(method.returns, ctx) if method.returns else None
    if is_linted(owner, ctx):
        return None
    found = library().method(owner, name)
    if found is None:
        return None
    is_async, returns = found
    if (is_async and not awaited) or not returns or returns.startswith("<"):
        return None
    return str(returns)


def _agreed(bindings: list[Binding], ctx: FileContext, depth: int) -> str | None:
    kinds = {_binding_type(b, ctx, depth) for b in bindings}
    return kinds.pop() if len(kinds) == 1 else None


def _binding_type(binding: Binding, ctx: FileContext, depth: int) -> str | None:
    if binding.annotation is not None:
        annotated = annotation_type(binding.annotation, ctx)
        if annotated is not None or binding.value is None:
            return annotated
    if binding.unpacked is not None:
        return _item_type(binding.unpacked, binding.item, ctx)
    if isinstance(binding.value, ast.expr):
        return type_of(binding.value, ctx, depth + 1)
    return None


def _item_type(value: ast.expr, item: int, ctx: FileContext) -> str | None:
    if isinstance(value, ast.Await) and isinstance(value.value, ast.Call):
        items = AWAITED_RESULTS.get(ctx.resolve(value.value.func) or "", ())
        return items[item] if item < len(items) else None
    return None


def annotation_type(annotation: ast.expr, ctx: FileContext) -> str | None:
    """Return the class an annotation names, looking through ``X | None`` and ``Optional[X]``."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        sides = [annotation.left, annotation.right]
        others = [s for s in sides if not (isinstance(s, ast.Constant) and s.value is None)]
        return annotation_type(others[0], ctx) if len(others) == 1 else None
    if isinstance(annotation, ast.Subscript):
        base = ctx.resolve(annotation.value)
        if base == "typing.Optional":
            return annotation_type(annotation.slice, ctx)
        return base
    return ctx.resolve(annotation)
