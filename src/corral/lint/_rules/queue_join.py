"""COR112: a queue consumer that never calls ``task_done()`` in a module that ``join()``s it.

``await queue.join()`` returns when every item put has been marked done. A module that joins a
queue, takes items with ``await queue.get()`` and never calls ``task_done()`` hangs there.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._context import FileContext
from corral.lint._finding import Hit
from corral.lint._kinds import kind_of
from corral.lint._rule import Rule


def _queue_like(expr: ast.expr, ctx: FileContext) -> bool:
    if kind_of(expr, ctx) == "asyncio.Queue":
        return True
    last = expr.attr if isinstance(expr, ast.Attribute) else getattr(expr, "id", "")
    return isinstance(last, str) and (last.lower() == "q" or "queue" in last.lower())


class QueueNeverDone(Rule):
    """Flag consumers of a joined queue when nothing marks items done."""

    code = "COR112"
    name = "queue-never-done"
    summary = "Queue items taken with `get()` but never `task_done()`, in a module that `join()`s."
    node_types = (ast.Call,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._joins: list[ast.Call] = []
        self._gets: list[ast.Call] = []
        self._done = False

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        self._note(node)
        return iter(())  # judged in finish(), once the whole module has been seen

    def _note(self, call: ast.Call) -> None:
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in ("join", "get", "task_done"):
            return
        if func.attr == "task_done":
            self._done = True
        elif isinstance(self.ctx.parent(call), ast.Await) and _queue_like(func.value, self.ctx):
            (self._joins if func.attr == "join" else self._gets).append(call)

    def finish(self) -> Iterator[Hit]:
        if self._done or not self._joins:
            return
        join = min(self._joins, key=lambda c: c.lineno)
        for get in self._gets:
            queue = ast.unparse(get.func.value) if isinstance(get.func, ast.Attribute) else "queue"
            yield Hit.at(
                get,
                f"`{queue}.get()` takes items but nothing in this module calls `task_done()`, "
                f"while `await {ast.unparse(join.func)}()` (line {join.lineno}) waits for every "
                "item to be marked done, so it never returns; call `task_done()` after each "
                "item, in a `finally`",
            )
