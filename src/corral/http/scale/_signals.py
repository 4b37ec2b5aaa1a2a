"""The signals of a ``corral worker`` process: a graceful stop while working, the end of
a wait (for Redis, for the job) before it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_RECANCEL_EVERY = 0.5  # seconds between cancels of a wait that did not end


async def unless_signalled(waiting: Awaitable[T]) -> tuple[T | None, int | None]:
    """Await ``waiting`` (for Redis, for the job: nothing claimed, nothing to finish) unless
    SIGINT / SIGTERM comes first; return (its result, None), or (None, 130 / 143).

    The wait runs as a task of its own that the signal cancels, again until it ends: a
    cancel that met redis-py's read of a blocking pop was lost now and then (the worker
    went on waiting after SIGTERM).
    """
    inner = asyncio.ensure_future(waiting)
    if threading.current_thread() is not threading.main_thread():
        return await inner, None
    loop = asyncio.get_running_loop()
    received: list[int] = []
    signalled = asyncio.Event()

    def stop(signum: int) -> None:
        received.append(signum)
        signalled.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    watch = asyncio.ensure_future(signalled.wait())
    try:
        await asyncio.wait({inner, watch}, return_when=asyncio.FIRST_COMPLETED)
        if inner.done():
            return inner.result(), None
        while not inner.done():
            inner.cancel()
            await asyncio.wait({inner}, timeout=_RECANCEL_EVERY)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            inner.result()  # (retrieved: it ended by the signal)
        return None, 128 + received[0]
    finally:
        watch.cancel()
        if not inner.done():  # (this task was cancelled: so is the wait)
            inner.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


@contextlib.contextmanager
def graceful_signals(stop: Callable[[int], None]) -> Iterator[None]:
    """Make SIGINT / SIGTERM a graceful stop (``stop(130)`` / ``stop(143)``); a second one,
    the default."""
    loop = asyncio.get_running_loop()
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(signum: int) -> None:
        stop(128 + signum)
        loop.remove_signal_handler(signum)  # the next one acts as it would without us

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, first, signum)
    try:
        yield
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
