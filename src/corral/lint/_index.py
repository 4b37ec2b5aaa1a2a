"""The index of coroutine functions across the linted tree, so COR102 sees through imports.

Each file is summarised where it is linted (in a worker process): the coroutine functions it
defines at module level and the names it re-exports by import. The parent process merges the
summaries and settles the findings rules deferred on "is ``pkg.mod.fetch`` an ``async def``?".
One parse per file does both jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from corral.lint._asyncdefs import is_coroutine_function
from corral.lint._context import FileContext

# Re-exports followed at most this deep (pkg/__init__ -> pkg/api -> pkg/_impl is two).
_HOPS = 8


@dataclass(frozen=True, slots=True)
class ModuleSummary:
    """What one module contributes to the index."""

    coroutines: frozenset[str]
    others: frozenset[str]
    aliases: tuple[tuple[str, str], ...]


def summarize(ctx: FileContext) -> ModuleSummary:
    """Return the coroutine functions, other names and re-exports of the module in ``ctx``."""
    coroutines: set[str] = set()
    others: set[str] = set()
    aliases: list[tuple[str, str]] = []
    for name, bindings in ctx.name_scope(ctx.tree).bindings.items():
        qualified = f"{ctx.module}.{name}"
        if len(bindings) == 1 and bindings[0].qualname is not None:
            aliases.append((qualified, bindings[0].qualname))
        elif len(bindings) == 1 and is_coroutine_function(bindings[0].value or ctx.tree, ctx):
            coroutines.add(qualified)
        else:
            others.add(qualified)
    return ModuleSummary(frozenset(coroutines), frozenset(others), tuple(aliases))


class AsyncIndex:
    """Answers whether a dotted name is a coroutine function somewhere in the linted tree."""

    def __init__(self, summaries: Iterable[ModuleSummary]) -> None:
        self._coroutines: set[str] = set()
        self._others: set[str] = set()
        self._aliases: dict[str, str] = {}
        for summary in summaries:
            self._coroutines |= summary.coroutines
            self._others |= summary.others
            self._aliases.update(summary.aliases)
        # Two modules of the same name (two projects linted together) may disagree: trust neither.
        self._coroutines -= self._others

    def is_coroutine_function(self, qualname: str) -> bool:
        """Return whether ``qualname`` (followed through re-exports) is a coroutine function."""
        for _ in range(_HOPS):
            if qualname in self._coroutines:
                return True
            target = self._aliases.get(qualname)
            if target is None:
                return False
            qualname = target
        return False
