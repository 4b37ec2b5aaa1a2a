"""COR103: an HTTP client session made per request, inside a loop, or not closed on every path.

A session owns a connection pool: one per request means no connection reuse, and one not closed
leaks sockets ("Unclosed client session"). Sessions in ``async with``, returned to the caller,
handed to a constructor or an exit stack, kept at module level, or kept on ``self`` and closed
by the class are fine.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._context import FileContext
from corral.lint._finding import Hit
from corral.lint._loops import enclosing_loop, fixed_size, loop_call_sites, loop_parts
from corral.lint._rule import Rule

_SESSIONS = {
    "aiohttp.ClientSession": "aiohttp.ClientSession",
    "aiohttp.client.ClientSession": "aiohttp.ClientSession",
    "httpx.AsyncClient": "httpx.AsyncClient",
}
_CLOSERS = frozenset({"close", "aclose"})
# Calls that take ownership of what they are given.
_OWNERS = frozenset({"enter_async_context", "enter_context", "push_async_callback", "callback"})
_FIX = "open one session per job with `async with` and pass it to the code that makes requests"


class SessionLifetime(Rule):
    """Flag client sessions that are per request, per loop pass, or leaked."""

    code = "COR103"
    name = "session-per-request"
    summary = "An HTTP client session created per request or in a loop, or not always closed."
    node_types = (ast.Call,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._loop_calls: dict[ast.AST, ast.Call] | None = None

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        qualname = self.ctx.resolve(node.func)
        label = _SESSIONS.get(qualname or "")
        if label is None:
            return
        problem = self._per_request(node) or self._leak(node)
        if problem is not None:
            yield Hit.at(node, f"`{label}()` {problem}; {_FIX}")

    def _per_request(self, call: ast.Call) -> str | None:
        loop = enclosing_loop(call, self.ctx)
        if loop is not None and not fixed_size(loop_parts(loop)[0], self.ctx):
            return (
                f"is created on every pass of the loop at line {loop.lineno}: no connection reuse"
            )
        function = self.ctx.function_of(call)
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            return None
        if self._loop_calls is None:
            self._loop_calls = loop_call_sites(self.ctx)
        site = self._loop_calls.get(function)
        if site is None:
            return None
        return (
            f"is created on every call of `{function.name}()`, which is called per item "
            f"at line {site.lineno}: no connection reuse"
        )

    def _leak(self, call: ast.Call) -> str | None:
        if expects_raise(call, self.ctx):
            return None  # `with pytest.raises(...)`: the constructor is meant to fail
        parent = self.ctx.parent(call)
        if isinstance(parent, ast.Expr):
            return "is created and dropped without being closed"
        if isinstance(parent, ast.Attribute):
            return "is created for one use and never closed"
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            target = parent.targets[0]
            if isinstance(target, ast.Name) and self.ctx.function_of(call) is not None:
                return self._local_leak(target.id, parent)
            if isinstance(target, ast.Attribute):
                return self._attribute_leak(target)
        return None

    def _local_leak(self, name: str, assign: ast.Assign) -> str | None:
        function = self.ctx.function_of(assign)
        assert function is not None
        closes: list[ast.AST] = []
        for node in ast.walk(function):
            if _escapes(node, name) or _async_with(node, name):
                return None
            if _closes(node, name):
                closes.append(node)
        if not closes:
            return f"is assigned to `{name}` and never closed"
        if any(self._protected(close) for close in closes):
            return None
        line = min(getattr(c, "lineno", 0) for c in closes)
        if not _awaits_between(function, assign.lineno, line):
            return None  # nothing that does IO can fail before the close
        return (
            f"is closed at line {line} only if nothing before it fails (not in `finally`), "
            "so an error leaks it"
        )

    def _protected(self, node: ast.AST) -> bool:
        child = node
        for ancestor in self.ctx.ancestors(node):
            if isinstance(ancestor, ast.Try) and any(child is s for s in ancestor.finalbody):
                return True
            if isinstance(ancestor, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                return False
            child = ancestor
        return False

    def _attribute_leak(self, target: ast.Attribute) -> str | None:
        owner = self.ctx.self_class(target)
        if owner is None:
            return None
        for node in ast.walk(owner):
            if isinstance(node, ast.Attribute) and node.attr in _CLOSERS:
                inner = node.value
                if isinstance(inner, ast.Attribute) and inner.attr == target.attr:
                    return None
            if _returns_attribute(node, target.attr):
                return None
        return (
            f"is kept on `{ast.unparse(target)}` but the class never closes it "
            "(close it in an async `close()` or `__aexit__`)"
        )


def expects_raise(node: ast.AST, ctx: FileContext) -> bool:
    """Return whether ``node`` runs inside ``with pytest.raises(...)`` (or ``assertRaises``)."""
    for ancestor in ctx.ancestors(node):
        if isinstance(ancestor, ast.With):
            for item in ancestor.items:
                expr = item.context_expr
                func = expr.func if isinstance(expr, ast.Call) else expr
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("raises", "assertRaises", "assertRaisesRegex"):
                    return True
    return False


def _awaits_between(function: ast.AST, start: int, close: int) -> bool:
    return any(
        isinstance(n, ast.Await | ast.AsyncFor | ast.AsyncWith) and start < n.lineno < close
        for n in ast.walk(function)
    )


def _is_name(node: ast.AST | None, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _closes(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in _CLOSERS and _is_name(node.value, name)


def _async_with(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.AsyncWith) and any(
        _is_name(item.context_expr, name) for item in node.items
    )


def _escapes(node: ast.AST, name: str) -> bool:
    """Return whether ``node`` hands the session ``name`` to someone who may close it."""
    if isinstance(node, ast.Return | ast.Yield) and _is_name(node.value, name):
        return True
    if isinstance(node, ast.Assign) and _is_name(node.value, name):
        return True
    if isinstance(node, ast.Call):
        args = [*node.args, *(k.value for k in node.keywords)]
        if any(_is_name(a, name) for a in args):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            return called in _OWNERS or called.lstrip("_")[:1].isupper()
    return isinstance(node, ast.List | ast.Tuple | ast.Dict | ast.Set) and any(
        _is_name(e, name) for e in ast.iter_child_nodes(node)
    )


def _returns_attribute(node: ast.AST, attr: str) -> bool:
    return (
        isinstance(node, ast.Return)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == attr
    )
