"""The errors ``corral.lint`` raises, under ``corral.CorralError`` (exit 2 on the command line).

A finding is not an error: ``lint_paths`` returns it. These are for a call that cannot lint.
"""

from __future__ import annotations

from corral._clierrors import InputError, UsageError


class LintUsageError(UsageError):
    """A lint call that cannot work: no paths, a path that does not exist, an unknown rule
    code, ``jobs`` below 1."""


class LintConfigError(InputError):
    """A ``[tool.corral.lint]`` table that cannot be read or used (the file is in the message)."""
