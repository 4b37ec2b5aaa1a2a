"""COR102: a coroutine that is made and then never awaited.

Only calls known to make a coroutine count: an ``async def`` of this module (a function, a
nested function, a method called through ``self``), one imported from another module of the
linted tree (settled by the tree's index), asyncio's own coroutine functions, and coroutine
methods of objects whose kind is known (``session.close()``, ``resp.json()``, ``queue.put()``).
A coroutine passed on, returned, stored or awaited is fine; one dropped, tested, subscripted or
assigned and then only misused is flagged.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._asyncdefs import AsyncCallee, async_callee
from corral.lint._finding import Hit
from corral.lint._rule import Rule

# Attributes of a coroutine object itself: looking them up is not a mistake.
_COROUTINE_ATTRS = frozenset(
    {"send", "throw", "close", "cr_await", "cr_code", "cr_frame", "cr_running", "__await__"}
)
_CONDITION = "is used as a condition, and a coroutine object is always true"
_FIX = "add `await` (or hand it to `corral.open_scope()` / `asyncio.TaskGroup` to run as a task)"


def misuse(node: ast.expr, parent: ast.AST | None) -> str | None:
    """Return how ``parent`` misuses the coroutine ``node``, or None if it may be fine."""
    if isinstance(parent, ast.Expr):
        return "is never awaited, so it never runs"
    if isinstance(parent, ast.If | ast.While | ast.IfExp | ast.Assert) and parent.test is node:
        return _CONDITION
    if isinstance(parent, ast.BoolOp) or (
        isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not)
    ):
        return _CONDITION
    if isinstance(parent, ast.comprehension) and node in parent.ifs:
        return _CONDITION
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return "is subscripted instead of its result"
    if isinstance(parent, ast.Attribute) and parent.attr not in _COROUTINE_ATTRS:
        return f"has `.{parent.attr}` looked up instead of its result"
    if isinstance(parent, ast.Compare):
        return "is compared instead of its result"
    if isinstance(parent, ast.For | ast.comprehension) and parent.iter is node:
        return "is iterated instead of its result"
    return None


class ForgottenAwait(Rule):
    """Flag coroutines created and then dropped or misused."""

    code = "COR102"
    name = "forgotten-await"
    summary = "A coroutine that is created but never awaited (dropped, tested or subscripted)."
    node_types = (ast.Call,)

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        parent = self.ctx.parent(node)
        problem = misuse(node, parent)
        if problem is None and not isinstance(parent, ast.Assign | ast.AnnAssign):
            return
        callee = async_callee(node, self.ctx)
        if callee is None:
            return
        if problem is None:
            assert isinstance(parent, ast.Assign | ast.AnnAssign)
            problem = self._assigned_misuse(parent)
        if problem is not None:
            yield self._hit(node, callee, problem)

    def _hit(self, node: ast.Call, callee: AsyncCallee, problem: str) -> Hit:
        message = f"the coroutine from `{callee.label}()` {problem}; {_FIX}"
        return Hit.at(node, message, needs_async=callee.needs_async)

    def _assigned_misuse(self, assign: ast.Assign | ast.AnnAssign) -> str | None:
        targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
        if len(targets) != 1 or not isinstance(targets[0], ast.Name):
            return None
        name = targets[0].id
        found = self.ctx.lookup(name, assign)
        if found is None or len(found[1]) != 1:
            return None  # rebound elsewhere: which value a use sees is not clear
        uses = [
            n
            for n in ast.walk(found[0].node)
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
        ]
        if not uses:
            return f"is assigned to `{name}` and never awaited"
        problems = [misuse(use, self.ctx.parent(use)) for use in uses]
        if all(problems):
            return f"is assigned to `{name}`, which {problems[0]}"
        return None
