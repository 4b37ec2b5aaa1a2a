"""Coroutines never awaited, reported with the place they were created.

When a coroutine that never started is destroyed, CPython calls
``warnings._warn_unawaited_coroutine(coro)`` (its one funnel for the "coroutine ... was never
awaited" RuntimeWarning), whatever the warning filters say. The guard wraps that function
while it is on: it records a finding from ``coro.cr_origin`` (the creation stack that
``sys.set_coroutine_origin_tracking_depth`` makes CPython keep) and does not pass the warning
on. That is deliberate: the warning points into the garbage collector, and under pytest's
``filterwarnings = error`` it would fail whichever test happened to be running.

Without origin tracking (depth 0, or a thread the guard never saw) the finding falls back to
the place the coroutine was dropped, which for ``fetch(url)`` written without ``await`` is the
same line.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from types import CoroutineType
from typing import Any, Protocol

from corral.guard._finding import Finding, FindingKind, Frame
from corral.guard._frames import from_origin, innermost_user, stack_of, walk


class CoroutineSink(Protocol):
    """Where never-awaited coroutines are reported."""

    def unawaited(self, finding: Finding, origin: tuple[Frame, ...]) -> bool:
        """Record ``finding``; return ``False`` to let the warning through instead."""


_sink: CoroutineSink | None = None
_original: Callable[[Any], None] | None = None


def set_sink(sink: CoroutineSink | None) -> None:
    """Route never-awaited coroutines to ``sink``; ``None`` restores the plain warning."""
    global _sink, _original
    _sink = sink
    current = getattr(warnings, "_warn_unawaited_coroutine", None)
    if sink is not None and _original is None and current is not None:
        _original = current
        warnings._warn_unawaited_coroutine = _warn  # type: ignore[attr-defined]
    elif sink is None and _original is not None:
        if current is _warn:
            warnings._warn_unawaited_coroutine = _original  # type: ignore[attr-defined]
        _original = None


def _warn(coro: Any) -> None:
    sink = _sink
    if sink is not None:
        try:
            finding, origin = describe(coro, sys._getframe(1))
            if sink.unawaited(finding, origin):
                return
        except Exception:  # never break a finalizer: fall back to the warning
            pass
    original = _original
    if original is not None:
        original(coro)


def describe(coro: Any, dropped_in: Any) -> tuple[Finding, tuple[Frame, ...]]:
    """Return the finding for a never-awaited coroutine and its creation stack."""
    name = getattr(coro, "__qualname__", repr(coro))
    raw_origin = getattr(coro, "cr_origin", None)
    origin = from_origin(raw_origin) if raw_origin else ()
    message = f"coroutine {name!r} was created but never awaited"
    place = innermost_user(origin) or (origin[-1] if origin else None)
    stack = origin
    if place is None:
        dropped = stack_of(walk(dropped_in))
        place = innermost_user(dropped)
        stack = dropped
        message += (
            " (creation place unknown: origin tracking was off; this is where it was dropped)"
        )
    if place is None:
        code = getattr(coro, "cr_code", None)
        if isinstance(coro, CoroutineType) and code is not None:
            place = Frame(file=code.co_filename, line=code.co_firstlineno, function=name)
            message += "; shown at its definition"
    finding = Finding(
        kind=FindingKind.UNAWAITED_COROUTINE,
        message=message,
        file=place.file if place else None,
        line=place.line if place else None,
        function=place.function if place else None,
        stack=stack,
    )
    return finding, origin
