"""COR104: running an event loop from inside a running one, and ``nest_asyncio.apply()``.

``asyncio.run()`` and ``loop.run_until_complete()`` raise "cannot be called from a running event
loop" when reached from ``async def``, directly or through a sync helper of the module.
``nest_asyncio.apply()`` hides that by monkeypatching asyncio. Code under
``if __name__ == "__main__":`` is a script's entry point and is left alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._chains import ChainFinder, Step, describe
from corral.lint._context import FileContext
from corral.lint._finding import Hit
from corral.lint._rule import Rule

_FIX = (
    "`await` the coroutine in async code, and use `corral.run_sync(...)` in sync code that may "
    "be called from a running loop"
)


def loop_step(call: ast.Call, ctx: FileContext) -> Step | None:
    """Return the step if ``call`` starts an event loop and runs it to completion.

    A call guarded by a check that no loop is running (``if not loop.is_running():``, or in the
    ``except RuntimeError`` of ``get_running_loop()``) runs only where it may.
    """
    if isinstance(call.func, ast.Attribute) and call.func.attr == "run_until_complete":
        step = Step(f"{ast.unparse(call.func)}()", call.lineno, _FIX)
    elif ctx.resolve(call.func) == "asyncio.run":
        step = Step("asyncio.run()", call.lineno, _FIX)
    else:
        return None
    return None if _guarded(call, ctx) else step


def _guarded(call: ast.Call, ctx: FileContext) -> bool:
    for ancestor in ctx.ancestors(call):
        if isinstance(ancestor, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            return False
        if isinstance(ancestor, ast.If | ast.IfExp | ast.While) and _checks_running(ancestor.test):
            return True
        if isinstance(ancestor, ast.Try) and any(_checks_running(s) for s in ancestor.body):
            return True
    return False


def _checks_running(node: ast.AST) -> bool:
    """Return whether ``node`` asks whether a loop runs (``is_running()``, the running loop)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr in _RUNNING_CHECKS:
            return True
        if isinstance(sub, ast.Name) and sub.id in _RUNNING_CHECKS:
            return True
    return False


_RUNNING_CHECKS = frozenset({"is_running", "get_running_loop", "_get_running_loop"})


def under_main_guard(node: ast.AST, ctx: FileContext) -> bool:
    """Return whether ``node`` sits under ``if __name__ == "__main__":``."""
    return any(_is_main_guard(a) for a in ctx.ancestors(node))


def _is_main_guard(node: ast.AST) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    sides = [node.test.left, *node.test.comparators]
    names = {s.id for s in sides if isinstance(s, ast.Name)}
    values = {s.value for s in sides if isinstance(s, ast.Constant)}
    return names == {"__name__"} and values == {"__main__"}


class NestedLoop(Rule):
    """Flag event loops run inside a running loop, and nest_asyncio."""

    code = "COR104"
    name = "nested-event-loop"
    summary = "`asyncio.run()`/`run_until_complete()` reached from `async def`; `nest_asyncio`."
    node_types = (ast.Call,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._chains = ChainFinder(ctx, lambda call: loop_step(call, ctx))

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        if self.ctx.resolve(node.func) == "nest_asyncio.apply":
            if not under_main_guard(node, self.ctx):
                yield Hit.at(
                    node,
                    "`nest_asyncio.apply()` monkeypatches asyncio to allow nested loops, which "
                    "breaks its guarantees; use `corral.run_sync(...)` to run a coroutine from "
                    "sync code inside a running loop",
                )
            return
        function = self.ctx.function_of(node)
        if not isinstance(function, ast.AsyncFunctionDef):
            return
        where = f"inside `async def {function.name}`"
        step = loop_step(node, self.ctx)
        if step is not None:
            yield Hit.at(
                node,
                f"`{step.label}` {where} raises RuntimeError: a loop is already running; {_FIX}",
            )
            return
        chain = self._chains.via_helper(node)
        if chain:
            yield Hit.at(
                node,
                f"`{ast.unparse(node.func)}()` runs an event loop {where} (it calls "
                f"{describe(chain)}), which raises RuntimeError; {_FIX}",
            )
