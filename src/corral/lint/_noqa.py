"""``# noqa`` comments: a bare one silences a line, ``# noqa: COR105, COR1`` silences codes.

A file-wide ``# corral: noqa`` (optionally with codes) on a line of its own silences the file.
ruff's codes for the same checks count too: ``# noqa: ASYNC251`` silences COR101 on that line,
``# noqa: RUF006`` silences COR109, so code already cleaned up for ruff needs no second comment.
Comments are found with a regular expression on the reported lines only, not by tokenizing the
whole file: tokenizing costs about as much as parsing, and a ``# noqa`` inside a string literal
on a line that has a finding is rare enough not to pay that for.
"""

from __future__ import annotations

import re

# Codes separated by commas and/or spaces, as flake8 and ruff accept them.
_LINE = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)
_FILE = re.compile(
    r"^\s*#\s*corral:\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?\s*$",
    re.I | re.M,
)

#: Every code: what a bare noqa silences.
_ALL: frozenset[str] = frozenset({""})


# ruff's codes for the same pitfalls: a line already silenced for ruff is silenced for corral.
_EQUIVALENT = {"ASYNC2": "COR101", "RUF006": "COR109"}


def _codes(match: re.Match[str]) -> frozenset[str]:
    codes = match.group("codes")
    if codes is None:
        return _ALL
    found = {c.upper() for c in re.split(r"[\s,]+", codes) if c}
    found |= {ours for theirs, ours in _EQUIVALENT.items() for c in found if c.startswith(theirs)}
    return frozenset(found)


def _silences(codes: frozenset[str], code: str) -> bool:
    return any(code.startswith(prefix) for prefix in codes)


class Noqa:
    """The noqa comments of one file's source, looked up lazily by line."""

    def __init__(self, source: str) -> None:
        self._lines: list[str] | None = None
        self._source = source
        match = _FILE.search(source) if "corral" in source else None
        self._file_codes = _codes(match) if match else frozenset()

    def silenced(self, line: int, code: str) -> bool:
        """Return whether ``code`` reported on 1-based ``line`` is silenced."""
        if _silences(self._file_codes, code):
            return True
        if self._lines is None:
            self._lines = self._source.splitlines()
        if not 0 < line <= len(self._lines):
            return False
        text = self._lines[line - 1]
        if "#" not in text:
            return False
        return any(_silences(_codes(m), code) for m in _LINE.finditer(text))
