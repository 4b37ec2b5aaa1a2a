"""``Pool``: a bounded pool of reusable resources (connections, browsers, clients).

The field reports' pool created a resource whenever none was idle, never waited and never
checked health. This one never lets more than ``max_size`` exist (idle + borrowed + being
made), queues waiters first come first served, hands a returned resource straight to the
longest waiter, and is cancel-safe on both sides:

- a waiter cancelled just after a resource was handed to it gives that resource back;
- a task cancelled while holding one returns it exactly once (``async with`` releases it, and
  a second release is ignored);
- a resource whose reset or health check is interrupted is discarded, not reused half-reset.

Idle lifetime and use counts are checked lazily when a resource is handed out, so the pool
runs no background task of its own.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar, cast, overload

from corral._clock import LOOP_CLOCK, Clock
from corral._exceptions import PoolClosed, QueueTimeout

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolStatistics:
    """A snapshot of a ``Pool``.

    Attributes:
        size: resources in existence (idle, borrowed, or being created).
        idle: resources waiting in the pool.
        borrowed: resources checked out now.
        waiting: tasks waiting for a resource.
        created: resources made so far.
        discarded: resources closed so far (unhealthy, worn out, idle too long, or at close).
        max_size: the bound on ``size``.
    """

    size: int
    idle: int
    borrowed: int
    waiting: int
    created: int
    discarded: int
    max_size: int


class _Slot(Generic[T]):
    __slots__ = ("idle_since", "resource", "uses")

    def __init__(self, resource: T, now: float) -> None:
        self.resource = resource
        self.uses = 0
        self.idle_since = now


async def _maybe_await(value: object) -> None:
    if inspect.isawaitable(value):
        await value


async def _default_dispose(resource: object) -> None:
    aclose = getattr(resource, "aclose", None)
    if aclose is not None:
        await _maybe_await(aclose())
        return
    close = getattr(resource, "close", None)
    if close is not None:
        await _maybe_await(close())


class Pool(Generic[T]):
    """Lend out at most ``max_size`` resources made by ``factory``.

    ``async with pool.acquire(timeout=5) as conn:`` borrows one; ``await pool.close()``
    (or leaving ``async with pool:``) waits for the borrowed ones, then closes all.

    Args:
        factory: makes a resource (sync or async).
        max_size: the most resources that may exist at once.
        check: a health check run before a pooled resource is handed out (sync or async,
            returning bool); a failing one is discarded and another tried.
        reset: run on a resource when it comes back (sync or async); if it raises, the
            resource is discarded.
        dispose: closes a resource; default its ``aclose()`` or ``close()`` if it has one.
        max_uses: discard a resource after this many checkouts.
        max_idle: discard a resource that sat idle longer than this many seconds.
        clock: where idle time is measured; default the running loop's clock.

    Raises:
        ValueError: ``max_size`` below 1, or ``max_uses`` or ``max_idle`` not positive.
    """

    @overload
    def __init__(
        self,
        factory: Callable[[], Awaitable[T]],
        *,
        max_size: int,
        check: Callable[[T], bool | Awaitable[bool]] | None = None,
        reset: Callable[[T], object] | None = None,
        dispose: Callable[[T], object] | None = None,
        max_uses: int | None = None,
        max_idle: float | None = None,
        clock: Clock | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        factory: Callable[[], T],
        *,
        max_size: int,
        check: Callable[[T], bool | Awaitable[bool]] | None = None,
        reset: Callable[[T], object] | None = None,
        dispose: Callable[[T], object] | None = None,
        max_uses: int | None = None,
        max_idle: float | None = None,
        clock: Clock | None = None,
    ) -> None: ...

    def __init__(
        self,
        factory: Callable[[], Awaitable[T]] | Callable[[], T],
        *,
        max_size: int,
        check: Callable[[T], bool | Awaitable[bool]] | None = None,
        reset: Callable[[T], object] | None = None,
        dispose: Callable[[T], object] | None = None,
        max_uses: int | None = None,
        max_idle: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        if (max_uses is not None and max_uses < 1) or (max_idle is not None and max_idle <= 0):
            raise ValueError("max_uses and max_idle must be positive")
        self._factory = factory
        self._max_size = max_size
        self._check = check
        self._reset = reset
        self._dispose = dispose
        self._max_uses = max_uses
        self._max_idle = max_idle
        self._clock = clock or LOOP_CLOCK
        self._idle: deque[_Slot[T]] = deque()
        self._borrowed: dict[int, _Slot[T]] = {}
        self._waiters: deque[asyncio.Future[_Slot[T] | None]] = deque()
        self._size = 0
        self._created = 0
        self._discarded = 0
        self._closed = False
        self._drained: asyncio.Event | None = None

    @asynccontextmanager
    async def acquire(self, *, timeout: float | None = None) -> AsyncIterator[T]:
        """Borrow a resource for the block and give it back after, whatever happens.

        Args:
            timeout: the most seconds to wait for a resource (None: as long as it takes).

        Raises:
            QueueTimeout: no resource came free in time.
            PoolClosed: the pool is closing or closed.
        """
        slot = await self._checkout(timeout)
        try:
            yield slot.resource
        finally:
            await self._checkin(slot)

    async def _checkout(self, timeout: float | None) -> _Slot[T]:
        try:
            async with asyncio.timeout(timeout):
                slot = await self._next_slot()
                while not await self._usable(slot):
                    # Its place stays ours: make a fresh one rather than queue again.
                    slot = await self._create(reserved=True)
        except TimeoutError:
            raise QueueTimeout(f"no pooled resource within {timeout:g}s") from None
        slot.uses += 1
        self._borrowed[id(slot)] = slot
        return slot

    async def _next_slot(self) -> _Slot[T]:
        if self._closed:
            raise PoolClosed("the pool is closed")
        if self._idle and not self._waiters:
            return self._idle.pop()  # the most recently used: warmest, least likely expired
        if self._size < self._max_size and not self._waiters:
            return await self._create()
        waiter: asyncio.Future[_Slot[T] | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            slot = await waiter
        except asyncio.CancelledError:
            self._abandon(waiter)
            raise
        if slot is None:  # a place came free: we may create
            if self.closed:
                self._pass_on_capacity()
                raise PoolClosed("the pool is closed")
            return await self._create(reserved=True)
        return slot

    def _abandon(self, waiter: asyncio.Future[_Slot[T] | None]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
            return
        # Handed something just as we were cancelled: pass it on rather than lose it.
        if waiter.done() and not waiter.cancelled():
            slot = waiter.result()
            if slot is None:
                self._pass_on_capacity()
            else:
                self._shelve(slot)

    async def _create(self, *, reserved: bool = False) -> _Slot[T]:
        if not reserved:
            self._size += 1
        try:
            made = self._factory()
            resource = cast(T, await made if inspect.isawaitable(made) else made)
        except BaseException:
            self._size -= 1
            self._pass_on_capacity()
            raise
        self._created += 1
        return _Slot(resource, self._clock.now())

    async def _usable(self, slot: _Slot[T]) -> bool:
        """Vet a pooled resource; an unfit one is closed but its place is kept for the caller."""
        if slot.uses == 0:
            return True  # freshly made
        healthy = self._max_idle is None or self._clock.now() - slot.idle_since <= self._max_idle
        if healthy and self._check is not None:
            try:
                verdict = self._check(slot.resource)
                healthy = bool(await verdict if inspect.isawaitable(verdict) else verdict)
            except BaseException:
                await self._discard(slot)
                raise
        if not healthy:
            await self._discard(slot, keep_place=True)
        return healthy

    async def _checkin(self, slot: _Slot[T]) -> None:
        if self._borrowed.pop(id(slot), None) is None:
            return  # already returned: returning twice must not duplicate it
        if self._reset is not None:
            try:
                await _maybe_await(self._reset(slot.resource))
            except BaseException:
                await self._discard(slot)
                raise
        slot.idle_since = self._clock.now()
        if self._closed or (self._max_uses is not None and slot.uses >= self._max_uses):
            await self._discard(slot)
        else:
            self._shelve(slot)
        self._notify_drained()

    def _shelve(self, slot: _Slot[T]) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(slot)
                return
        self._idle.append(slot)

    def _pass_on_capacity(self) -> None:
        """Tell the longest waiter it may create a resource in the place that came free."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._size += 1
                waiter.set_result(None)
                return

    async def _discard(self, slot: _Slot[T], *, keep_place: bool = False) -> None:
        self._discarded += 1
        if not keep_place:
            self._size -= 1
            self._pass_on_capacity()
        try:
            await _maybe_await((self._dispose or _default_dispose)(slot.resource))
        except BaseException:
            if keep_place:  # nobody will fill the kept place now
                self._size -= 1
                self._pass_on_capacity()
            raise
        finally:
            self._notify_drained()

    def _notify_drained(self) -> None:
        if self._drained is not None and not self._borrowed:
            self._drained.set()

    async def close(self, *, timeout: float | None = None) -> bool:
        """Refuse new borrowers, wait for borrowed resources to come back, then close all.

        Args:
            timeout: the most seconds to wait for borrowed resources; those still out then
                are closed when they come back.

        Returns:
            True when every resource was closed, False when some were still borrowed.
        """
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosed("the pool was closed while waiting"))
        if self._borrowed:
            self._drained = asyncio.Event()
            try:
                async with asyncio.timeout(timeout):
                    await self._drained.wait()
            except TimeoutError:
                pass
        while self._idle:
            await self._discard(self._idle.pop())
        return not self._borrowed

    @property
    def closed(self) -> bool:
        """Return whether ``close`` has been called."""
        return self._closed

    def statistics(self) -> PoolStatistics:
        """Return counts of resources by state, waiters, and resources made and closed."""
        return PoolStatistics(
            size=self._size,
            idle=len(self._idle),
            borrowed=len(self._borrowed),
            waiting=sum(1 for w in self._waiters if not w.done()),
            created=self._created,
            discarded=self._discarded,
            max_size=self._max_size,
        )

    async def __aenter__(self) -> Pool[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
