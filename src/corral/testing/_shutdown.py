"""The site's "stopping" signal, so slow handlers end at once when the site closes.

aiohttp's runner waits for in-flight handlers before it cancels them; a handler that is stalling
on purpose would hold ``open_site``'s exit for that whole grace period. Slow handlers sleep
through :meth:`ShutdownSignal.pause` instead, which returns early once the site is stopping.
"""

from __future__ import annotations

import asyncio


class ShutdownSignal:
    """An event set when the site starts to close, with an interruptible sleep."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    @property
    def is_set(self) -> bool:
        """Return whether the site has started to close."""
        return self._event.is_set()

    def set(self) -> None:
        """Mark the site as closing; every pending :meth:`pause` returns."""
        self._event.set()

    async def pause(self, seconds: float | None) -> bool:
        """Sleep for ``seconds`` (``None``: until the site closes).

        Returns:
            ``True`` if the full time passed, ``False`` if the site began to close first.
        """
        if self._event.is_set():
            return False
        if seconds is None:
            await self._event.wait()
            return False
        try:
            async with asyncio.timeout(seconds):
                await self._event.wait()
        except TimeoutError:
            return True
        return False
