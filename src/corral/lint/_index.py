"""The index of coroutine functions across the linted tree, so COR102 sees through imports.

Each file is summarised where it is linted (in a worker process): the coroutine functions it
defines at module level and the names it re-exports by import. The parent process merges the
summaries and settles the findings rules deferred on "is ``pkg.mod.fetch`` an ``async def``?".
One parse per file does both jobs.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from corral.lint._asyncdefs import is_coroutine_function
from corral.lint._context import FileContext
from corral.lint._kinds import kind_of
from corral.lint._types import type_of

# Re-exports followed at most this deep (pkg/__init__ -> pkg/api -> pkg/_impl is two).
_HOPS = 8


@dataclass(frozen=True, slots=True)
class ModuleSummary:
    """What one module contributes to the index."""

    coroutines: frozenset[str]
    others: frozenset[str]
    aliases: tuple[tuple[str, str], ...]
    # Module-level instances (``pool = Pool()``): the name and the class it is an instance of.
    instances: tuple[tuple[str, str], ...] = ()
    # Classes and their bases, as imported (``pkg.base.Client``): methods are inherited.
    bases: tuple[tuple[str, tuple[str, ...]], ...] = ()


def summarize(ctx: FileContext) -> ModuleSummary:
    """Return the coroutine functions, other names and re-exports of the module in ``ctx``."""
    coroutines: set[str] = set()
    others: set[str] = set()
    aliases: list[tuple[str, str]] = []
    instances: list[tuple[str, str]] = []
    bases: list[tuple[str, tuple[str, ...]]] = []
    for name, bindings in ctx.name_scope(ctx.tree).bindings.items():
        qualified = f"{ctx.module}.{name}"
        value = bindings[0].value if len(bindings) == 1 else None
        if len(bindings) == 1 and bindings[0].qualname is not None:
            aliases.append((qualified, bindings[0].qualname))
        elif value is not None and is_coroutine_function(value, ctx):
            coroutines.add(qualified)
        else:
            others.add(qualified)
        if isinstance(value, ast.ClassDef):
            _methods(value, qualified, ctx, coroutines, others)
            origins = (b.value if isinstance(b, ast.Subscript) else b for b in value.bases)
            resolved = tuple(b for b in (ctx.resolve(base) for base in origins) if b)
            if resolved:
                bases.append((qualified, resolved))
        elif value is not None and len(bindings) == 1:
            kind = None
            if isinstance(value, ast.Call | ast.Await):
                kind = type_of(value, ctx) or kind_of(value, ctx)
            if kind is not None:
                instances.append((qualified, kind))
    return ModuleSummary(
        frozenset(coroutines), frozenset(others), tuple(aliases), tuple(instances), tuple(bases)
    )


def _methods(
    cls: ast.ClassDef, qualified: str, ctx: FileContext, coroutines: set[str], others: set[str]
) -> None:
    facts = ctx.class_facts(cls)
    for name, defs in facts.methods.items():
        method = f"{qualified}.{name}"
        if len(defs) == 1 and is_coroutine_function(defs[0], ctx):
            coroutines.add(method)
        else:
            others.add(method)


class AsyncIndex:
    """Answers whether a dotted name is a coroutine function somewhere in the linted tree."""

    def __init__(
        self,
        summaries: Iterable[ModuleSummary],
        installed: Callable[[str], bool] | None = None,
    ) -> None:
        # Whether a method of an installed class is async: for tree classes deriving from one.
        self._installed = installed
        self._coroutines: set[str] = set()
        self._others: set[str] = set()
        self._aliases: dict[str, str] = {}
        self._bases: dict[str, tuple[str, ...]] = {}
        for summary in summaries:
            self._bases.update(summary.bases)
            self._coroutines |= summary.coroutines
            self._others |= summary.others
            self._aliases.update(summary.aliases)
            self._aliases.update(summary.instances)
        # Two modules of the same name (two projects linted together) may disagree: trust neither.
        self._coroutines -= self._others

    def is_coroutine_function(self, qualname: str, depth: int = 0) -> bool:
        """Return whether ``qualname`` (followed through re-exports, instances and base classes
        of the tree) is a coroutine function."""
        followed = depth > 0
        for _ in range(_HOPS):
            if qualname in self._coroutines:
                return True
            if qualname in self._others:
                return False
            owner, _, method = qualname.rpartition(".")
            if depth < _HOPS and owner in self._bases:
                return any(
                    self.is_coroutine_function(f"{base}.{method}", depth + 1)
                    for base in self._bases[owner]
                )
            target = self._rewrite(qualname)
            if target is None:
                # Out of the tree through an import, an instance or a base: an installed name?
                return followed and self._installed is not None and self._installed(qualname)
            qualname, followed = target, True
        return False

    def _rewrite(self, qualname: str) -> str | None:
        """Replace the longest prefix of ``qualname`` that is a re-export or an instance."""
        parts = qualname.split(".")
        for end in range(len(parts), 0, -1):
            target = self._aliases.get(".".join(parts[:end]))
            if target is not None:
                return ".".join([target, *parts[end:]])
        return None
