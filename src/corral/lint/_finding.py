"""What the linter reports: a ``Finding`` per pitfall, and the ``Hit`` a rule yields for one."""

from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Finding:
    """One pitfall found at one place.

    Findings sort by path, then position, then code. Lines and columns are 1-based, as editors
    and ``path:line:col`` links count them.
    """

    path: str
    line: int
    col: int
    code: str
    message: str
    end_line: int
    end_col: int


@dataclass(frozen=True, slots=True)
class Hit:
    """A finding before it knows its file and code, as a rule yields it.

    ``needs_async`` names a function (dotted, as imported) that must turn out to be an
    ``async def`` somewhere in the linted tree for the hit to stand; ``lint_paths`` decides once
    every file has been indexed (rule COR102 across modules).
    """

    line: int
    col: int
    end_line: int
    end_col: int
    message: str
    needs_async: str | None = None

    @classmethod
    def at(cls, node: ast.AST, message: str, *, needs_async: str | None = None) -> Hit:
        """Return a hit spanning ``node`` (converted to 1-based columns)."""
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        end_line = getattr(node, "end_lineno", None) or line
        end_col = (getattr(node, "end_col_offset", None) or col - 1) + 1
        return cls(line, col, end_line, end_col, message, needs_async)

    def finding(self, path: str, code: str) -> Finding:
        """Return the public finding for this hit in ``path`` under ``code``."""
        return Finding(
            path=path,
            line=self.line,
            col=self.col,
            code=code,
            message=self.message,
            end_line=self.end_line,
            end_col=self.end_col,
        )
