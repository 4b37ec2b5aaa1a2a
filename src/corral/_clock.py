"""The clock corral's timed primitives read and sleep on.

All corral timing is monotonic: by default the running event loop's clock (``loop.time()``,
which is ``time.monotonic``), never the wall clock that the field reports' timer used. A
``Clock`` can be injected where a primitive waits (``RateLimit``, ``retry``, ``Pool``), and tests
run whole scenarios on ``corral.testing.VirtualTimeLoop``, whose clock jumps when the loop idles.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A monotonic clock that corral's primitives read and sleep on."""

    def now(self) -> float:
        """Return the current time in seconds; only differences are meaningful."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Suspend the calling task for ``seconds`` (zero or less: just yield)."""
        ...


class LoopClock:
    """The default clock: the running event loop's ``time()`` and ``asyncio.sleep``."""

    __slots__ = ()

    def now(self) -> float:
        """Return the running loop's monotonic time."""
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the running loop."""
        await asyncio.sleep(max(seconds, 0.0))

    def __repr__(self) -> str:
        return "LoopClock()"


LOOP_CLOCK = LoopClock()
