"""A process's connection to a job's queue that rides out Redis going away.

Every step on the queue goes through ``Link.call``. When Redis does not answer (restarted,
the network down, still loading its data), the step waits and is tried again every ``retry``
seconds, saying so once in one line (``corral worker: redis://h:6379/0 unreachable
(Connection refused): retrying every 2 s``); no traceback, nothing lost. After a
reconnection the hooks registered with ``on_reconnect`` run first (the coordinator hands
Redis its outstanding work again, which a restart may have lost).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from corral.http.scale._redis import unreachable

if TYPE_CHECKING:
    from corral.http.scale._queue import JobQueue

T = TypeVar("T")
_STALE_AFTER_BACK = 5.0  # seconds after Redis came back in which a closed connection is stale
Hook = Callable[[], Awaitable[None]]


class Link:
    """Steps on one job's queue, retried while Redis is away.

    Args:
        queue: the connected queue.
        who: the program named in messages (``corral``, ``corral worker``).
        retry: seconds between tries while Redis is away.
    """

    def __init__(self, queue: JobQueue, *, who: str = "corral", retry: float = 2.0) -> None:
        self.queue = queue
        self._who = who
        self._retry = retry
        self._hooks: list[Hook] = []
        self._away = False
        self._lock = asyncio.Lock()  # one caller runs the hooks; the others wait for them
        self._back_at = float("-inf")  # when Redis last came back

    def on_reconnect(self, hook: Hook) -> None:
        """Run ``hook()`` after each reconnection, before the step that found Redis back."""
        if hook not in self._hooks:
            self._hooks.append(hook)

    async def call(self, step: Callable[..., Awaitable[T]], *args: object) -> T:
        """Return ``await step(*args)``, waiting out Redis's absences."""
        while True:
            try:
                if self._away:
                    await self._back()
                return await step(*args)
            except self.queue.outage as exc:
                # redis-py may turn this task's cancel into a connection error (a blocking
                # read cut short): the cancel stands, or the step is tried forever (a
                # coordinator's Ctrl-C ended in "aborted" after 10 s, now and then)
                still_cancelled()
                if time.monotonic() - self._back_at < _STALE_AFTER_BACK:
                    # a connection from before Redis came back, found closed: not a new
                    # outage (no line, no second hand-back); the pool makes a new one
                    await asyncio.sleep(0.1)
                    continue
                await self._gone(exc)

    async def _gone(self, exc: BaseException) -> None:
        if not self._away:
            self._away = True
            line = unreachable(self.queue.url, exc).message
            print(f"{self._who}: {line}: retrying every {self._retry:g} s", file=sys.stderr)
        await asyncio.sleep(self._retry)

    async def _back(self) -> None:
        async with self._lock:
            if not self._away:
                return  # another caller found Redis back and ran the hooks
            await self.queue.settings()  # raises the outage error while Redis is still away
            self._away = False  # (before the hooks: their own steps go through call too)
            self._back_at = time.monotonic()
            for hook in self._hooks:
                await hook()


def still_cancelled() -> None:
    """Raise the cancel of this task if one was asked and swallowed: redis-py can eat the
    cancel of a blocking read (it returns, or fails as an outage), and a loop that only
    reads again never ends.

    Raises:
        asyncio.CancelledError: the task was cancelled.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
