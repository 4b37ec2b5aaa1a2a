"""COR106: ``gather()`` without ``return_exceptions=True`` in a ``try`` that catches and goes on.

``gather()`` raises the first error and drops every other result (the other awaitables keep
running, unwatched). A handler that logs and carries on has lost them all. Only fan-outs count
(``gather(*tasks)`` over a collection): a fixed set of different awaitables
(``gather(read_stdout(), read_stderr())``) is all-or-nothing by design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from corral.lint._finding import Hit
from corral.lint._nodes import own_nodes
from corral.lint._rule import Rule

_PASSING = frozenset(
    {"asyncio.CancelledError", "asyncio.exceptions.CancelledError", "builtins.KeyboardInterrupt",
     "builtins.SystemExit", "builtins.GeneratorExit"}
)  # fmt: skip


def _raises(handler: ast.ExceptHandler) -> bool:
    return any(isinstance(n, ast.Raise) for s in handler.body for n in own_nodes(s))


def _collects(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "return_exceptions":
            return not (isinstance(keyword.value, ast.Constant) and keyword.value.value is False)
        if keyword.arg is None:
            return True  # **options: may well hold it
    return False


class GatherLosesResults(Rule):
    """Flag a failing ``gather()`` whose error is caught and whose other results are lost."""

    code = "COR106"
    name = "gather-loses-results"
    summary = "`gather()` without `return_exceptions=True` inside a `try` that carries on."
    node_types = (ast.Call,)

    def check(self, node: ast.AST) -> Iterator[Hit]:
        assert isinstance(node, ast.Call)
        if self.ctx.resolve(node.func) != "asyncio.gather" or _collects(node):
            return
        if not any(isinstance(a, ast.Starred) for a in node.args):
            return  # a fixed set of different awaitables is all-or-nothing by design
        handler = self._carrying_on_handler(node)
        if handler is not None:
            yield Hit.at(
                node,
                "`gather()` raises the first error and drops every other result, and the "
                f"`except` at line {handler.lineno} carries on without them; pass "
                '`return_exceptions=True`, or use `corral.map(..., on_error="collect")` so '
                "every item ends with a value or an error",
            )

    def _carrying_on_handler(self, call: ast.Call) -> ast.ExceptHandler | None:
        child: ast.AST = call
        for ancestor in self.ctx.ancestors(call):
            if isinstance(ancestor, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                return None
            if isinstance(ancestor, ast.Try) and any(child is s for s in ancestor.body):
                for handler in ancestor.handlers:
                    if not _raises(handler) and not self._lets_pass(handler):
                        return handler
            child = ancestor
        return None

    def _lets_pass(self, handler: ast.ExceptHandler) -> bool:
        """Return whether ``handler`` only catches cancellation or interpreter exits."""
        if handler.type is None:
            return False
        types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        return all(self.ctx.resolve(t) in _PASSING for t in types)
