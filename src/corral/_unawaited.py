"""The coroutine's "was never awaited" warning, for corral's awaitables that are not coroutines.

``corral.map(...)`` and ``corral.retry(fn, ...)`` return objects whose work starts only when
they are awaited or entered. A coroutine dropped without ``await`` warns ``RuntimeWarning:
coroutine ... was never awaited``; these objects were silent (issue 14), so a forgotten
``await corral.map(...)`` did nothing and said nothing. They now warn the same way when
collected unused, at the line that made them, as a coroutine's warning does with tracemalloc.
"""

from __future__ import annotations

import sys
import warnings

Site = tuple[str, int]


def caller_site(depth: int = 1) -> Site:
    """Return the file and line ``depth`` frames above the caller (1: the caller's caller)."""
    frame = sys._getframe(depth + 1)
    return frame.f_code.co_filename, frame.f_lineno


def warn_never_awaited(what: str, site: Site) -> None:
    """Warn ``RuntimeWarning: {what} was never awaited``, attributed to ``site``."""
    filename, lineno = site
    warnings.warn_explicit(f"{what} was never awaited", RuntimeWarning, filename, lineno)
