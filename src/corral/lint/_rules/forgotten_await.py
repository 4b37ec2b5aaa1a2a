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
from corral.lint._context import FileContext
from corral.lint._finding import Hit
from corral.lint._rule import Rule
from corral.lint._types import type_of

# Attributes of a coroutine object itself: looking them up is not a mistake.
_COROUTINE_ATTRS = frozenset(
    {"send", "throw", "close", "cr_await", "cr_code", "cr_frame", "cr_running", "__await__"}
)
_CONDITION = "is used as a condition, and a coroutine object is always true"
_FIX = (
    "add `await`, or run it as a task with `asyncio.create_task()` or a task group "
    "(`scope.spawn(fn, *args)` takes the function, not the coroutine)"
)
# Plain sync functions that take any object: a coroutine handed to them is used, never run.
_SYNC_CONSUMERS = frozenset(
    f"builtins.{name}"
    for name in (
        "print", "len", "str", "repr", "int", "float", "bytes", "bool", "list", "tuple", "set",
        "frozenset", "dict", "sorted", "sum", "min", "max", "any", "all", "enumerate", "zip",
        "iter", "next", "format", "open", "round", "abs",
    )
)  # fmt: skip
_SYNC_MODULES = frozenset(
    {"json", "hashlib", "pickle", "base64", "re", "os", "shutil", "csv", "math", "logging",
     "urllib", "html", "zlib", "gzip", "struct", "binascii", "pathlib", "textwrap"}
)  # fmt: skip
_RAISES = frozenset({"pytest.raises", "pytest.warns"})
_LOGGER_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
)


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
    if isinstance(parent, ast.FormattedValue):
        return "is formatted into a string instead of its result"
    return None


def sync_consumer(node: ast.expr, parent: ast.AST | None, ctx: FileContext) -> str | None:
    """Return the plain sync function ``node`` is passed to (``json.dumps``), if known.

    Only functions known to take any object and never await it count: builtins, a few
    standard-library modules, a logger's methods. A call into anything else may take an
    awaitable on purpose (``create_task``, ``run``, a scheduler).
    """
    if isinstance(parent, ast.keyword):
        parent = ctx.parent(parent)
        if not isinstance(parent, ast.Call):
            return None
    elif not isinstance(parent, ast.Call) or node not in parent.args:
        return None
    func = parent.func
    qualname = ctx.resolve(func)
    if qualname is not None:
        top = qualname.split(".", 1)[0]
        if qualname in _SYNC_CONSUMERS or top in _SYNC_MODULES:
            return qualname.removeprefix("builtins.")
        return None
    if (
        isinstance(func, ast.Attribute)
        and func.attr in _LOGGER_METHODS
        and type_of(func.value, ctx) == "logging.Logger"
    ):
        return ast.unparse(func)
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
        if problem is not None and self._expected_to_raise(parent):
            return
        if problem is None:
            consumer = sync_consumer(node, parent, self.ctx)
            if consumer is not None:
                problem = f"is passed to `{consumer}()`, which does not await it"
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

    def _expected_to_raise(self, parent: ast.AST | None) -> bool:
        """Return whether the statement is the body of ``with pytest.raises(...)``."""
        holder = self.ctx.parent(parent) if isinstance(parent, ast.Expr) else None
        if not isinstance(holder, ast.With):
            return False
        return any(
            isinstance(item.context_expr, ast.Call)
            and self.ctx.resolve(item.context_expr.func) in _RAISES
            for item in holder.items
        )

    def _use_misuse(self, use: ast.expr) -> str | None:
        parent = self.ctx.parent(use)
        problem = misuse(use, parent)
        if problem is None:
            consumer = sync_consumer(use, parent, self.ctx)
            if consumer is not None:
                problem = f"is passed to `{consumer}()`, which does not await it"
        return problem

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
        problems = [self._use_misuse(use) for use in uses]
        if all(problems):
            return f"is assigned to `{name}`, which {problems[0]}"
        return None
