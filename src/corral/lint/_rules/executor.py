"""COR111: a thread or process pool built inside ``async def``, once per call.

Each call starts and tears down its own threads or processes, and leaving ``with`` waits for
them on the event loop. Pools kept on ``self`` (built lazily once) are fine.
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
        if isinstance(parent, ast.Assign) and all(
            isinstance(t, ast.Attribute) or self._global(t, function) for t in parent.targets
        ):
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

    def _global(self, target: ast.expr, function: ast.AsyncFunctionDef) -> bool:
        return (
            isinstance(target, ast.Name)
            and target.id in self.ctx.name_scope(function).declared_outer
        )
