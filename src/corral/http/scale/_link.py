"""A process's connection to a job's queue that rides out Redis going away.

Every call to the queue goes through ``Link.call``. When Redis does not answer (restarted,
the network down), the call waits and tries again, every ``retry`` seconds, saying so once
in one line (``corral: redis://h:6379/0 unreachable (Connection refused): retrying every 2 s``)
and once more when it is back; no traceback, nothing lost. After a reconnection the hooks
registered with ``on_reconnect`` run first (the coordinator hands Redis its outstanding work
again, which a restart may have lost).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from corral.http.scale._address import describe_error, masked

if TYPE_CHECKING:
    from corral.http.scale._queue import JobQueue

R = TypeVar("R")
Hook = Callable[["JobQueue"], Awaitable[None]]


class Link:
    """Calls to one job's queue, retried while Redis is away.

    Args:
        queue: the connected queue.
        url: the Redis URL (shown with its password masked).
        who: the program named in messages (``corral``, ``corral worker``).
        retry: seconds between tries while Redis is away.
    """

    def __init__(self, queue: JobQueue, url: str, *, who: str = "corral", retry: float = 2.0):
        self.queue = queue
        self._url = masked(url)
        self._who = who
        self._retry = retry
        self._hooks: list[Hook] = []
        self._away = False
        self._lock = asyncio.Lock()

    def on_reconnect(self, hook: Hook) -> None:
        """Run ``hook(queue)`` after each reconnection, before the call that found Redis back."""
        if hook not in self._hooks:
            self._hooks.append(hook)

    async def call(self, fn: Callable[[JobQueue], Awaitable[R]]) -> R:
        """Return ``await fn(queue)``, waiting out Redis's absences."""
        while True:
            try:
                if self._away:
                    await self._back()
                return await fn(self.queue)
            except _unreachable() as exc:
                await self._gone(exc)

    async def _gone(self, exc: BaseException) -> None:
        if not self._away:
            self._away = True
            print(
                f"{self._who}: {self._url} unreachable ({describe_error(exc)}): "
                f"retrying every {self._retry:g} s",
                file=sys.stderr,
            )
        await asyncio.sleep(self._retry)

    async def _back(self) -> None:
        async with self._lock:  # one caller runs the hooks; the others wait for them
            if not self._away:
                return
            await self.queue.ping()
            for hook in self._hooks:
                await hook(self.queue)
            self._away = False
            print(f"{self._who}: {self._url} is back", file=sys.stderr)


def _unreachable() -> tuple[type[BaseException], ...]:
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
