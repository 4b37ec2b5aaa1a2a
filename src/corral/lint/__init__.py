"""``corral lint``: find asyncio pitfalls before the code runs.

Use ``lint_paths`` on files and directories (or ``lint_source`` on a string), and ``render`` to
print the findings as text, JSON or SARIF. Each rule (``RULES``) lives in its own module under
``corral.lint._rules``; ``docs/lint.md`` describes what each flags and how to fix it.
"""

from __future__ import annotations

from corral.lint._config import LintConfig
from corral.lint._engine import lint_paths, lint_source
from corral.lint._finding import Finding
from corral.lint._report import FORMATS, RULES, RuleInfo, render

__all__ = [
    "FORMATS",
    "RULES",
    "Finding",
    "LintConfig",
    "RuleInfo",
    "lint_paths",
    "lint_source",
    "render",
]
