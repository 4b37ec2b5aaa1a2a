"""Virtual time for tests: an event loop whose clock jumps ahead whenever it would sleep.

``VirtualTimeLoop`` is an ordinary selector event loop with two public seams replaced: its
``time()`` reads a virtual clock, and its selector, asked to wait ``t`` seconds for IO, polls
once without waiting and, when nothing is ready, advances the clock by ``t`` instead of
sleeping. Every timer of asyncio and of corral (``asyncio.sleep``, ``asyncio.timeout``,
``corral.RateLimit``, ``corral.retry``'s backoff, ``corral.fail_after``) then fires at its
exact virtual time, at once, and in the right order: time logic can be tested for exact
values with no wall-clock sleeps and no flakiness.

Use it for logic that waits on timers. Work in other threads or processes keeps running in
real time while the virtual clock jumps, so a test that mixes the two should use a real loop.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

R = TypeVar("R")


class _JumpingSelector(selectors.DefaultSelector):
    """Poll for IO without blocking; when idle until a timer, jump the clock to it."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(0)
        if ready or timeout is None or timeout <= 0:
            # Nothing scheduled at all: wait for real IO (a thread's call_soon_threadsafe).
            return ready or (super().select(None) if timeout is None else ready)
        self._loop.advance(timeout)
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time; see the module notes.

    Args:
        start: the clock's initial reading.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = start
        super().__init__(selector=_JumpingSelector(self))

    def time(self) -> float:
        """Return the virtual time."""
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (never back)."""
        if seconds > 0:
            self._virtual_now += seconds


def run_virtual(main: Callable[..., Coroutine[Any, Any, R]], /, *args: Any) -> R:
    """Run ``main(*args)`` to completion on a fresh ``VirtualTimeLoop`` and return its result."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main(*args))
