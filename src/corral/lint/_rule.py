"""The base every rule derives from: a code, a name, the node types it looks at, a check."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import ClassVar

from corral.lint._context import FileContext
from corral.lint._finding import Hit


class Rule:
    """One check, made afresh for each file so it can keep per-file state.

    The checker (``_check.py``) walks the tree once and hands ``check`` every node whose type is in
    ``node_types``; ``finish`` runs after the walk, for rules that judge the module as a whole.
    Rules are listed, as classes, in ``corral.lint._rules.ALL_RULES``: there is no string
    registry to get wrong.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    node_types: ClassVar[tuple[type[ast.AST], ...]] = ()

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx

    def check(self, node: ast.AST) -> Iterator[Hit]:
        """Yield the hits for one node of a type in ``node_types``."""
        return iter(())

    def finish(self) -> Iterator[Hit]:
        """Yield the hits that need the whole file seen first."""
        return iter(())
