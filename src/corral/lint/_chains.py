"""Follow calls into this module's own sync functions to find what they end up doing.

An ``async def`` that calls ``load()``, which calls ``read()``, which calls ``open()``, blocks
the loop as surely as one that calls ``open()`` itself. ``ChainFinder`` finds the first such
chain of calls for a per-call predicate (COR101: "blocks", COR104: "runs an event loop").
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from corral.lint._context import FileContext
from corral.lint._nodes import own_nodes

# Decorators after which a sync function's body still runs when it is called; any other may
# turn it into something else (``asgiref.sync_to_async`` makes it a coroutine function).
_RUNS_BODY = frozenset(
    {
        "builtins.staticmethod", "builtins.classmethod", "functools.cache", "functools.lru_cache",
        "contextlib.contextmanager",
    }
)  # fmt: skip
_DEPTH = 6


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a chain: how to show it, its line, and (for the last) the fix."""

    label: str
    line: int
    fix: str = ""


def describe(chain: list[Step]) -> str:
    """Return ``chain`` as "`a()` (line 3) -> `time.sleep()` (line 9)"."""
    return " -> ".join(f"`{step.label}` (line {step.line})" for step in chain)


def own_calls(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.Call]:
    """Yield the calls made by ``function``'s body, not by functions or lambdas nested in it."""
    for statement in function.body:
        yield from (n for n in own_nodes(statement) if isinstance(n, ast.Call))


class ChainFinder:
    """Find, per sync function of the module, the first call chain that ends in a match."""

    def __init__(self, ctx: FileContext, match: Callable[[ast.Call], Step | None]) -> None:
        self._ctx = ctx
        self._match = match
        self._memo: dict[ast.AST, list[Step] | None] = {}

    def via_helper(self, call: ast.Call) -> list[Step] | None:
        """Return the chain if ``call`` calls one of this module's sync functions that matches."""
        definition = self._ctx.local_definition(call.func)
        if not isinstance(definition, ast.FunctionDef):
            return None
        return self._chain(definition, 0)

    def _chain(self, function: ast.FunctionDef, depth: int) -> list[Step] | None:
        if function in self._memo:
            return self._memo[function]
        self._memo[function] = None  # a call cycle finds nothing new
        if depth > _DEPTH or not self._runs_body(function):
            return None
        calls = sorted(own_calls(function), key=lambda c: (c.lineno, c.col_offset))
        chain = self._first(calls, depth)
        self._memo[function] = chain
        return chain

    def _first(self, calls: list[ast.Call], depth: int) -> list[Step] | None:
        for call in calls:
            step = self._match(call)
            if step is not None:
                return [step]
        for call in calls:
            definition = self._ctx.local_definition(call.func)
            if isinstance(definition, ast.FunctionDef):
                rest = self._chain(definition, depth + 1)
                if rest:
                    return [Step(f"{ast.unparse(call.func)}()", call.lineno), *rest]
        return None

    def _runs_body(self, function: ast.FunctionDef) -> bool:
        for decorator in function.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if self._ctx.resolve(target) not in _RUNS_BODY:
                return False
        return True
