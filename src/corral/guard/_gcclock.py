"""Know when the garbage collector runs, so its pauses are not blamed on the user's code.

A collection holds the GIL: the loop stops, and so does the watchdog thread. When the
watchdog wakes, the loop has moved on and a stack sample would land on whatever ran next.
``gc.callbacks`` tells the start and end of every collection; the watchdog subtracts the
collection time inside a ping's wait before it calls the ping late.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable
from typing import Any

_KEEP = 256


class GcClock:
    """Record recent garbage collections as (start, end) monotonic intervals."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._intervals: deque[tuple[float, float]] = deque(maxlen=_KEEP)
        self._started: float | None = None

    def start(self) -> None:
        """Begin listening to collections."""
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def stop(self) -> None:
        """Stop listening to collections."""
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        self._started = None

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        now = self._clock()
        if phase == "start":
            self._started = now
        elif self._started is not None:
            self._intervals.append((self._started, now))
            self._started = None

    def collecting(self) -> bool:
        """Return whether a collection is running right now."""
        return self._started is not None

    def time_between(self, begin: float, end: float) -> float:
        """Return the seconds of collection that fall within ``[begin, end]``."""
        total = 0.0
        # tuple() copies the deque in C without running Python code: no concurrent mutation.
        for start, stop in tuple(self._intervals):
            total += max(0.0, min(stop, end) - max(start, begin))
        started = self._started
        if started is not None:
            total += max(0.0, end - max(started, begin))
        return total

    def covers(self, moment: float) -> bool:
        """Return whether a collection was running at ``moment``."""
        started = self._started
        if started is not None and started <= moment:
            return True
        return any(start <= moment <= stop for start, stop in tuple(self._intervals))
