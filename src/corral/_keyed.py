"""``KeyedLimit``: a concurrency limit and a start-rate limit per key (per host, per user).

Each key gets its own FIFO semaphore and ``RateLimit`` on first use. An entry is dropped once
nobody holds or waits for it *and* its rate limiter has forgotten its past (its TAT or window
lies behind the clock), because from then on a fresh entry behaves identically. Idle entries
sit in an insertion-ordered map and are pruned from the front on every acquire, so memory
follows the keys active within the last burst window, not every key ever seen.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from corral._clock import LOOP_CLOCK, Clock
from corral._exceptions import QueueTimeout
from corral._ratelimit import RateLimit

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyedLimitStatistics:
    """A snapshot of a ``KeyedLimit``.

    Attributes:
        keys: entries in memory (active, waiting, or idle but still remembering their rate).
        active: holders inside ``acquire`` across all keys.
        waiting: requests waiting for a slot or a token across all keys.
    """

    keys: int
    active: int
    waiting: int


class _Entry:
    __slots__ = ("holders", "rate", "slots", "users")

    def __init__(self, slots: asyncio.Semaphore | None, rate: RateLimit | None) -> None:
        self.slots = slots
        self.rate = rate
        self.users = 0  # waiting or holding
        self.holders = 0


class KeyedLimit(Generic[K]):
    """Bound concurrency and start rate separately for each key.

    ``async with limit.acquire(key):`` waits for a slot of that key, then for a rate token,
    and holds the slot for the block.

    Args:
        concurrency: at most this many holders per key at once (None: no bound).
        rate: starts per key, as ``"5/s"`` or a number per ``per`` seconds (None: no bound).
        per: the period when ``rate`` is a number.
        burst: starts allowed at once per key after an idle spell.
        strict: enforce "at most N in any window" per key (see ``RateLimit``).
        clock: where time is read and waited on; default the running loop's clock.

    Raises:
        ValueError: neither bound given, or a bound out of range.
    """

    def __init__(
        self,
        *,
        concurrency: int | None = None,
        rate: str | float | None = None,
        per: float = 1.0,
        burst: int = 1,
        strict: bool = False,
        clock: Clock | None = None,
    ) -> None:
        if concurrency is None and rate is None:
            raise ValueError("KeyedLimit needs a concurrency or a rate")
        if concurrency is not None and concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._concurrency = concurrency
        self._rate = rate
        self._per = per
        self._burst = burst
        self._strict = strict
        self._clock = clock or LOOP_CLOCK
        if rate is not None:  # validate now: a bad spec fails here, not at the first acquire
            RateLimit(rate, per=per, burst=burst, strict=strict)
        self._entries: dict[K, _Entry] = {}
        self._idle: OrderedDict[K, float] = OrderedDict()  # key -> time its memory lapses

    @asynccontextmanager
    async def acquire(self, key: K, *, timeout: float | None = None) -> AsyncIterator[None]:
        """Hold a slot of ``key`` (and take one of its rate tokens) for the block.

        Args:
            key: what to limit by, such as a host name.
            timeout: the most time to wait for the slot and token together.

        Raises:
            QueueTimeout: the wait took longer than ``timeout``; nothing is held.
        """
        entry = self._enter(key)
        try:
            await self._take(entry, timeout)
            entry.holders += 1
            try:
                yield
            finally:
                entry.holders -= 1
                if entry.slots is not None:
                    entry.slots.release()
        finally:
            self._exit(key, entry)

    async def _take(self, entry: _Entry, timeout: float | None) -> None:
        try:
            async with asyncio.timeout(timeout):
                if entry.slots is not None:
                    await entry.slots.acquire()
                if entry.rate is not None:
                    try:
                        await entry.rate.acquire()
                    except BaseException:
                        if entry.slots is not None:
                            entry.slots.release()
                        raise
        except TimeoutError:
            raise QueueTimeout(f"no slot or token within {timeout:g}s") from None

    def _enter(self, key: K) -> _Entry:
        self._prune()
        entry = self._entries.get(key)
        if entry is None:
            slots = asyncio.Semaphore(self._concurrency) if self._concurrency else None
            rate = None
            if self._rate is not None:
                rate = RateLimit(
                    self._rate,
                    per=self._per,
                    burst=self._burst,
                    strict=self._strict,
                    clock=self._clock,
                )
            entry = self._entries[key] = _Entry(slots, rate)
        else:
            self._idle.pop(key, None)
        entry.users += 1
        return entry

    def _exit(self, key: K, entry: _Entry) -> None:
        entry.users -= 1
        if entry.users == 0:
            self._idle[key] = entry.rate.idle_at() if entry.rate is not None else float("-inf")

    def _prune(self) -> None:
        if not self._idle:
            return
        now = self._clock.now()
        while self._idle:
            key, lapses_at = next(iter(self._idle.items()))
            if lapses_at > now:
                break
            del self._idle[key]
            del self._entries[key]

    def statistics(self) -> KeyedLimitStatistics:
        """Return the number of keys in memory, holders and waiters."""
        active = sum(e.holders for e in self._entries.values())
        users = sum(e.users for e in self._entries.values())
        return KeyedLimitStatistics(keys=len(self._entries), active=active, waiting=users - active)

    def __repr__(self) -> str:
        return f"<KeyedLimit concurrency={self._concurrency} rate={self._rate!r}>"
