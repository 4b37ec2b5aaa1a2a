"""``corral lint``: find asyncio pitfalls before the code runs.

Use ``lint_paths`` on files and directories (or ``lint_source`` on a string), and ``render`` to
print the findings as text, JSON or SARIF. Each rule (``RULES``) lives in its own module under
``corral.lint._rules``; ``docs/lint.md`` describes what each flags and how to fix it. The names
load on first use (see ``corral._lazy``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral._lazy import lazy_attributes

if TYPE_CHECKING:
    from corral.lint._config import LintConfig
    from corral.lint._errors import LintConfigError, LintUsageError
    from corral.lint._finding import Finding
    from corral.lint._lint import lint_paths, lint_source
    from corral.lint._report import FORMATS, RULES, RuleInfo, render

_HOMES = {
    "FORMATS": "corral.lint._report",
    "RULES": "corral.lint._report",
    "Finding": "corral.lint._finding",
    "LintConfig": "corral.lint._config",
    "LintConfigError": "corral.lint._errors",
    "LintUsageError": "corral.lint._errors",
    "RuleInfo": "corral.lint._report",
    "lint_paths": "corral.lint._lint",
    "lint_source": "corral.lint._lint",
    "render": "corral.lint._report",
}

__all__ = [
    "FORMATS",
    "RULES",
    "Finding",
    "LintConfig",
    "LintConfigError",
    "LintUsageError",
    "RuleInfo",
    "lint_paths",
    "lint_source",
    "render",
]

__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
