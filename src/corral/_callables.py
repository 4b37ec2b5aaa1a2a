"""Checks on what users pass where corral expects a function to call later.

The field reports' retry helper took a coroutine *object* and awaited it again on the second
attempt. Everywhere corral calls user code later (``retry``, ``spawn``, ``start_soon``,
``run_sync``) it takes the function and its arguments instead, and turns a coroutine object
into an immediate ``TypeError`` (closing it, so no "never awaited" warning follows the error).
"""

from __future__ import annotations

import inspect


def require_function(candidate: object, *, usage: str) -> None:
    """Raise ``TypeError`` unless ``candidate`` is callable; ``usage`` shows the right call.

    Raises:
        TypeError: ``candidate`` is a coroutine object, or not callable at all.
    """
    if inspect.iscoroutine(candidate):
        candidate.close()  # it will never run
        raise TypeError(f"expected a function and its arguments, not a coroutine object: {usage}")
    if not callable(candidate):
        raise TypeError(f"expected a function, got {type(candidate).__name__}: {usage}")
