"""COR108: a retry loop that awaits the same coroutine object again.

A coroutine runs once; awaiting it on a second attempt raises "cannot reuse already awaited
coroutine". Flagged: ``await coro`` inside a ``try`` in a loop, where ``coro`` is bound outside
the loop to a call known to make a coroutine, or is a parameter annotated ``Coroutine`` /
``Awaitable`` or named ``coro``; and a coroutine object handed to ``corral.retry`` or
``corral.run_sync``, which take the function so that they can call it. Tasks and futures may be
awaited again, so a name bound to anything else is left alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._asyncdefs import AsyncCallee, async_callee
from corral.lint._finding import Hit
from corral.lint._names import Binding
from corral.lint._rule import Rule

_COROUTINE_TYPES = frozenset(
    f"{module}.{name}"
    for module in ("typing", "collections.abc", "typing_extensions")
    for name in ("Coroutine", "Awaitable")
)
_COROUTINE_NAMES = frozenset({"coro", "coroutine"})
# corral's entry points that take an async function and call it themselves.
_TAKE_FUNCTIONS = frozenset({"corral.retry", "corral.run_sync"})


class RetryReusesCoroutine(Rule):
    """Flag retry loops that await one coroutine object on every attempt."""

    code = "COR108"
    name = "retry-reuses-coroutine"
    summary = "A retry loop that awaits the same coroutine object again."
    node_types = (ast.Await, ast.Call)

    def check(self, node: ast.AST) -> Iterator[Hit]:
        if isinstance(node, ast.Call):
            yield from self._coroutine_given(node)
            return
        assert isinstance(node, ast.Await)
        if not isinstance(node.value, ast.Name):
            return
        loop = self._retry_loop(node)
        if loop is None:
            return
        name = node.value.id
        if any(isinstance(n, ast.Name) and n.id == name for n in _stores(loop)):
            return  # a fresh coroutine each pass
        found = self.ctx.lookup(name, node)
        if found is None or len(found[1]) != 1:
            return
        callee = self._coroutine_binding(found[1][0], name)
        if callee is not None:
            yield Hit.at(
                node,
                f"this retry loop awaits the same coroutine object `{name}` on every attempt, "
                "but a coroutine runs only once ('cannot reuse already awaited coroutine'); "
                "pass a callable and make a new coroutine per attempt: `corral.retry(fn)`",
                needs_async=callee.needs_async,
            )

    def _coroutine_given(self, call: ast.Call) -> Iterator[Hit]:
        first = call.args[0] if call.args else None
        if not isinstance(first, ast.Call):
            return
        taker = self.ctx.resolve(call.func)
        if taker not in _TAKE_FUNCTIONS:
            return
        callee = async_callee(first, self.ctx)
        if callee is not None:
            yield Hit.at(
                first,
                f"`{taker}()` calls the function it is given (anew for each attempt), but this "
                f"passes the coroutine object `{callee.label}()`; pass the function and its "
                f"arguments: `{taker}({callee.label}, ...)`",
                needs_async=callee.needs_async,
            )

    def _retry_loop(self, node: ast.Await) -> ast.For | ast.While | ast.AsyncFor | None:
        child: ast.AST = node
        in_try = False
        for ancestor in self.ctx.ancestors(node):
            if isinstance(ancestor, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                return None
            if isinstance(ancestor, ast.Try) and any(child is s for s in ancestor.body):
                in_try = True
            if isinstance(ancestor, ast.For | ast.While | ast.AsyncFor):
                return ancestor if in_try and any(child is s for s in ancestor.body) else None
            child = ancestor
        return None

    def _coroutine_binding(self, binding: Binding, name: str) -> AsyncCallee | None:
        if isinstance(binding.value, ast.Call):
            return async_callee(binding.value, self.ctx)
        if binding.value is not None:
            return None
        if binding.annotation is not None:
            annotation = binding.annotation
            if isinstance(annotation, ast.Subscript):
                annotation = annotation.value
            if self.ctx.resolve(annotation) in _COROUTINE_TYPES:
                return AsyncCallee(name)
            return None
        return AsyncCallee(name) if name in _COROUTINE_NAMES and binding.qualname is None else None


def _stores(loop: ast.AST) -> Iterator[ast.AST]:
    for node in ast.walk(loop):
        if isinstance(getattr(node, "ctx", None), ast.Store):
            yield node
