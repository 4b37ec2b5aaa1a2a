"""COR101: a call that blocks the event loop inside ``async def``.

Beyond ruff's ASYNC2xx: methods of objects known to be sync clients (``requests.Session()``,
``httpx.Client()``, DB-API connections and cursors, sync redis), and calls of this module's own
sync functions that block, reported with the chain. Work handed off (``to_thread(fn, ...)``,
``run_in_executor(None, lambda: ...)``, a nested ``def`` passed along) is not a call made on the
loop, so it is not flagged.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._chains import ChainFinder, Step, describe
from corral.lint._context import FileContext
from corral.lint._finding import Hit
from corral.lint._kinds import BLOCKING_CALLS, KINDS, kind_of
from corral.lint._rule import Rule


def blocking_step(call: ast.Call, ctx: FileContext) -> Step | None:
    """Return the step if ``call`` itself blocks (a known function or a sync client method)."""
    qualname = ctx.resolve(call.func)
    if qualname is not None:
        fix = BLOCKING_CALLS.get(qualname)
        if fix is None:
            return None
        return Step(f"{qualname.removeprefix('builtins.')}()", call.lineno, fix)
    if isinstance(call.func, ast.Attribute):
        kind = kind_of(call.func.value, ctx)
        if kind is not None and call.func.attr in KINDS[kind].blocking:
            label = f"{ast.unparse(call.func)}()` on `{KINDS[kind].label}"
            return Step(label, call.lineno, KINDS[kind].fix)
    return None


class BlockingCall(Rule):
    """Flag blocking calls made directly on the event loop."""

    code = "COR101"
    name = "blocking-call"
    summary = "A call that blocks the event loop inside `async def` (directly or via a helper)."
    node_types = (ast.Call,)

    def __init__(self, ctx: FileContext) -> None:
        super().__init__(ctx)
        self._chains = ChainFinder(ctx, lambda call: blocking_step(call, ctx))

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        function = self.ctx.function_of(node)
        if not isinstance(function, ast.AsyncFunctionDef):
            return
        where = f"`async def {function.name}`"
        step = blocking_step(node, self.ctx)
        if step is not None:
            yield Hit.at(node, f"`{step.label}` blocks the event loop in {where}; {step.fix}")
            return
        chain = self._chains.via_helper(node)
        if chain:
            yield Hit.at(
                node,
                f"`{ast.unparse(node.func)}()` blocks the event loop in {where}: "
                f"it calls {describe(chain)}; {chain[-1].fix}",
            )
