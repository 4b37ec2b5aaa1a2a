"""COR111: a thread or process pool built inside ``async def``, once per call.

Each call starts and tears down its own threads or processes, and leaving ``with`` waits for
them on the event loop. Pools kept for later calls are fine: on ``self`` (built lazily once), in
a mapping or a context object, a global, or the loop's default executor (a startup hook).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._finding import Hit
from corral.lint._rule import Rule

_POOLS = frozenset(
    f"concurrent.futures.{name}" for name in ("ThreadPoolExecutor", "ProcessPoolExecutor")
) | frozenset(
    {
        "concurrent.futures.thread.ThreadPoolExecutor",
        "concurrent.futures.process.ProcessPoolExecutor",
        "multiprocessing.Pool",
        "multiprocessing.pool.ThreadPool",
    }
)


# Calls that keep what they are given: the loop's default executor, a context or a stack.
_KEEPERS = frozenset(
    {"set_default_executor", "set", "setdefault", "append", "enter_context", "callback", "push"}
)


class ExecutorPerCall(Rule):
    """Flag executors created per call of a coroutine function."""

    code = "COR111"
    name = "executor-per-call"
    summary = "A `ThreadPoolExecutor`/`ProcessPoolExecutor` built inside `async def` per call."
    node_types = (ast.Call,)

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        qualname = self.ctx.resolve(node.func)
        if qualname not in _POOLS:
            return
        function = self.ctx.function_of(node)
        if not isinstance(function, ast.AsyncFunctionDef):
            return
        parent = self.ctx.parent(node)
        if isinstance(parent, ast.Assign | ast.AnnAssign) and self._kept(parent, function):
            return  # kept for later calls
        waits = (
            " and leaving `with` waits for them on the loop"
            if isinstance(parent, ast.withitem)
            else ""
        )
        short = qualname.rsplit(".", 1)[1]
        yield Hit.at(
            node,
            f"a new `{short}` on every call of `async def {function.name}` starts and stops "
            f"its workers each time{waits}; make one pool up front and share it, or use "
            "`await corral.to_thread(...)`",
        )

    def _kept(self, assign: ast.Assign | ast.AnnAssign, function: ast.AsyncFunctionDef) -> bool:
        """Return whether the pool is stored where later calls find it.

        On an object or in a mapping (``self.pool``, ``app["executor"]``, ``ctx.state.pool``),
        in a global, or in a local that is then stored so or handed to the loop as its default
        executor (a startup hook's way).
        """
        targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
        if all(self._stored(t, function) for t in targets):
            return True
        names = {t.id for t in targets if isinstance(t, ast.Name)}
        return any(
            isinstance(node, ast.Name) and node.id in names and self._keeps(node, function)
            for node in ast.walk(function)
        )

    def _keeps(self, use: ast.Name, function: ast.AsyncFunctionDef) -> bool:
        holder = self.ctx.parent(use)
        if isinstance(holder, ast.Assign) and holder.value is use:
            return all(self._stored(t, function) for t in holder.targets)
        if isinstance(holder, ast.Return | ast.Yield | ast.Dict | ast.keyword):
            return True
        return (
            isinstance(holder, ast.Call)
            and isinstance(holder.func, ast.Attribute)
            and holder.func.attr in _KEEPERS
        )

    def _stored(self, target: ast.expr, function: ast.AsyncFunctionDef) -> bool:
        return isinstance(target, ast.Attribute | ast.Subscript) or self._global(target, function)

    def _global(self, target: ast.expr, function: ast.AsyncFunctionDef) -> bool:
        return (
            isinstance(target, ast.Name)
            and target.id in self.ctx.name_scope(function).declared_outer
        )
