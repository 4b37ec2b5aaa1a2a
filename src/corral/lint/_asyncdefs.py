"""Which calls make a coroutine: ``async def`` functions, asyncio's own, and known methods."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from corral.lint._context import FileContext
from corral.lint._kinds import KINDS, kind_of
from corral.lint._library import library
from corral.lint._types import is_linted, local_class, type_of

# Decorators that leave an ``async def`` a coroutine function (corral's own ``timed`` and
# ``retry`` included); any other decorator may wrap it into something else (a command object,
# a sync wrapper, a task loop), so such functions are not assumed to return coroutines.
_TRANSPARENT = frozenset(
    {
        "builtins.staticmethod", "builtins.classmethod", "abc.abstractmethod",
        "typing.override", "typing_extensions.override",
        "typing.overload", "typing_extensions.overload", "corral.timed", "corral.retry",
    }
)  # fmt: skip

#: asyncio functions whose result must be awaited (or handed to something that awaits it).
ASYNCIO_COROUTINES = frozenset(
    f"asyncio.{name}"
    for name in (
        "sleep", "wait_for", "wait", "gather", "to_thread", "open_connection",
        "open_unix_connection", "start_server", "start_unix_server",
        "create_subprocess_exec", "create_subprocess_shell",
    )
)  # fmt: skip

# Functions that return an awaitable when given the function to call (a decorator without).
_AWAITABLE_WITH_ARGS = frozenset({"corral.retry", "corral._retry.retry"})


def is_coroutine_function(node: ast.AST, ctx: FileContext) -> bool:
    """Return whether ``node`` is an undecorated (or plainly decorated) coroutine function.

    An ``async def`` with a ``yield`` is an async generator: calling it without ``await`` is
    how it is used, so it does not count.
    """
    if not isinstance(node, ast.AsyncFunctionDef):
        return False
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ctx.resolve(target) not in _TRANSPARENT:
            return False
    return node not in ctx.memo("generators", ctx.tree, lambda: _generators(ctx))


def _generators(ctx: FileContext) -> set[ast.AST | None]:
    """Return the functions of the file that ``yield`` (generators, sync or async)."""
    yields = [*ctx.nodes_of(ast.Yield), *ctx.nodes_of(ast.YieldFrom)]
    return {ctx.function_of(node) for node in yields}


@dataclass(frozen=True, slots=True)
class AsyncCallee:
    """A call that makes a coroutine: how to name it, and whether the index must confirm it."""

    label: str
    needs_async: str | None = None


def async_callee(call: ast.Call, ctx: FileContext) -> AsyncCallee | None:
    """Return what ``call`` calls if it returns a coroutine (or may: see ``needs_async``).

    A call into another module of the linted tree (``ctx.packages``) is deferred to the index
    of the whole tree; a call into an installed package is looked up in its source
    (``_library``); a method is found through the class of the object (``_types``).
    """
    func = call.func
    label = ast.unparse(func) if isinstance(func, ast.Name | ast.Attribute) else None
    if label is None:
        return None
    definition = ctx.local_definition(func)
    if definition is not None:
        return AsyncCallee(label) if is_coroutine_function(definition, ctx) else None
    qualname = ctx.resolve(func)
    if qualname is not None:
        if qualname in ASYNCIO_COROUTINES or _retry_call(qualname, call):
            return AsyncCallee(label)
        if is_linted(qualname, ctx):
            return AsyncCallee(label, needs_async=qualname)
        if qualname.startswith(f"{ctx.module}."):
            return None
        return AsyncCallee(label) if _library_awaitable(library().lookup(qualname)) else None
    if isinstance(func, ast.Attribute):
        return _method_callee(func, label, ctx)
    return None


def _retry_call(qualname: str, call: ast.Call) -> bool:
    # ``retry(fetch(url))`` is COR108's finding (a coroutine where a function belongs).
    return (
        qualname in _AWAITABLE_WITH_ARGS
        and bool(call.args)
        and not isinstance(call.args[0], ast.Call)
    )


def _method_callee(func: ast.Attribute, label: str, ctx: FileContext) -> AsyncCallee | None:
    kind = kind_of(func.value, ctx)
    if kind is not None:
        return AsyncCallee(label) if func.attr in KINDS[kind].coroutines else None
    owner = type_of(func.value, ctx)
    if owner is None:
        return None
    cls = local_class(owner, ctx)
    if cls is not None:
        method = ctx.class_facts(cls).method(func.attr)
        if method is not None:
            return AsyncCallee(label) if is_coroutine_function(method, ctx) else None
        if func.attr in ctx.class_facts(cls).methods:
            return None  # defined more than once: which one runs is not clear
        bases = [b for b in (ctx.resolve(_generic_origin(base)) for base in cls.bases) if b]
        return _inherited(bases[0], func.attr, label, ctx) if len(bases) == 1 else None
    return _inherited(owner, func.attr, label, ctx)


def _generic_origin(base: ast.expr) -> ast.expr:
    """Return ``Queue`` for a base written ``Queue[str]``."""
    return base.value if isinstance(base, ast.Subscript) else base


def _inherited(owner: str, attr: str, label: str, ctx: FileContext) -> AsyncCallee | None:
    """Return the callee if method ``attr`` of class ``owner`` (not of this file) is async."""
    if local_class(owner, ctx) is not None:
        return None  # a base in this file: one level is followed, not chains of local classes
    if is_linted(owner, ctx):
        return AsyncCallee(label, needs_async=f"{owner}.{attr}")
    found = library().method(owner, attr)
    return AsyncCallee(label) if _library_awaitable(("m", "", found)) else None


def installed_awaitable(qualname: str) -> bool:
    """Return whether ``qualname`` is a function or method of an installed package that makes
    an awaitable (reached from the linted tree: a re-export, an instance, a base class).

    Kinds of the hand-written list count as classes here (``redis.asyncio.Redis.set``).
    """
    owner, _, attr = qualname.rpartition(".")
    if owner in KINDS:
        return attr in KINDS[owner].coroutines
    return _library_awaitable(library().lookup(qualname))


def _library_awaitable(found: tuple[str, str, Any] | None) -> bool:
    """Return whether a function or method record of ``_library`` makes an awaitable."""
    if found is None or found[0] not in ("f", "m") or found[2] is None:
        return False
    is_async, returns = found[2]
    if is_async:
        return True
    if is_async is False and returns and not returns.startswith("<"):
        return library().is_awaitable_class(returns)
    return False
