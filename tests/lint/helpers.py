"""Lint snippets and compare the lines flagged with the lines marked ``# !`` in them."""

from __future__ import annotations

import textwrap

from corral.lint import lint_source

MARK = "# !"


def flagged(source: str, code: str) -> list[int]:
    """Return the lines on which ``code`` is reported for ``source`` (dedented)."""
    return [f.line for f in lint_source(textwrap.dedent(source), select=[code])]


def marked(source: str) -> list[int]:
    """Return the lines of ``source`` (dedented) that carry the ``# !`` marker."""
    lines = textwrap.dedent(source).splitlines()
    return [number for number, line in enumerate(lines, 1) if line.rstrip().endswith(MARK)]


def messages(source: str, code: str) -> list[str]:
    """Return the messages ``code`` reports for ``source`` (dedented)."""
    return [f.message for f in lint_source(textwrap.dedent(source), select=[code])]
