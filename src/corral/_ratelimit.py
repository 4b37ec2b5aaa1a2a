"""Start-rate limits: ``RateLimit`` (one stream) and the rate spec parser.

Two algorithms, one queue:

- **GCRA** (the generic cell rate algorithm, as in ATM traffic policing and aiometer's meter):
  one "theoretical arrival time" (TAT) per limiter instead of a token count. Each admission of
  ``n`` pushes the TAT ``n * T`` later, where ``T = period / count``; a request may start once
  ``TAT + n*T - burst*T <= now``. It allows ``burst`` starts at once and ``count`` per
  ``period`` on average, in O(1) memory.
- **strict**: at most ``count`` starts in *any* window of ``period`` (a sliding log of the last
  admissions, at most ``count`` entries). Use it when a server counts per window and bans.

Waiters are served strictly first come, first served: only the head of the queue ever sleeps
(one timer however many wait), and a large request at the head is never overtaken by later
small ones, so it cannot be starved. When the head leaves (admitted or cancelled) it wakes the
next one, so a wake-up almost always ends in an admission (``statistics().wakeups``).
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from dataclasses import dataclass
from types import TracebackType

from corral._clock import LOOP_CLOCK, Clock
from corral._exceptions import QueueTimeout

_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


def parse_rate(spec: str) -> tuple[float, float]:
    """Parse ``"10/s"``, ``"100/min"``, ``"5/2s"`` or ``"1/500ms"`` into (count, period seconds).

    Raises:
        ValueError: the spec is malformed, or its count or period is not positive.
    """
    match = _RATE_RE.match(spec.lower())
    if match is None or match.group(3) not in _UNITS:
        raise ValueError(f"bad rate {spec!r}: expected COUNT/UNIT such as 10/s, 100/min, 5/2s")
    count = float(match.group(1))
    period = float(match.group(2) or 1.0) * _UNITS[match.group(3)]
    if count <= 0 or period <= 0:
        raise ValueError(f"bad rate {spec!r}: count and period must be positive")
    return count, period


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitStatistics:
    """A snapshot of a ``RateLimit``.

    Attributes:
        admitted: requests admitted so far (each counts once, whatever its ``n``).
        tokens: tokens admitted so far.
        waiting: requests queued now.
        wakeups: times a queued request was woken to re-check; about one per queued admission.
    """

    admitted: int
    tokens: int
    waiting: int
    wakeups: int


class _Waiter:
    __slots__ = ("head", "n")

    def __init__(self, n: int, head: asyncio.Future[None]) -> None:
        self.n = n
        self.head = head  # resolved when this waiter reaches the front of the queue


class RateLimit:
    """Limit how often work starts: ``count`` per ``period`` with a burst, or strictly per window.

    Use ``async with limiter:`` to take one token before the block, or ``await
    limiter.acquire(n)`` to take ``n``. Tokens are not given back: this bounds start rate,
    not concurrency (combine with a concurrency limit for that).

    Args:
        rate: ``"10/s"``-style spec, or a number of starts per ``per`` seconds.
        per: the period when ``rate`` is a number.
        burst: how many may start at once after an idle spell (default 1: evenly spaced).
            Ignored in strict mode, where up to ``count`` may start in any window.
        strict: enforce "at most ``count`` in any window of ``period``" exactly.
        clock: where time is read and waited on; default the running loop's clock.

    Raises:
        ValueError: a malformed rate, or a non-positive burst.
    """

    def __init__(
        self,
        rate: str | float,
        *,
        per: float = 1.0,
        burst: int = 1,
        strict: bool = False,
        clock: Clock | None = None,
    ) -> None:
        count, period = parse_rate(rate) if isinstance(rate, str) else (float(rate), float(per))
        if count <= 0 or period <= 0:
            raise ValueError("rate and period must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self._count = count
        self._period = period
        self._interval = period / count
        self._strict = strict
        self._capacity = int(count) if strict else burst
        if strict and count != int(count):
            raise ValueError("a strict rate needs a whole count per period")
        self._clock = clock or LOOP_CLOCK
        self._tat = float("-inf")
        self._log: deque[tuple[float, int]] = deque()  # strict mode: (admitted at, n)
        self._in_log = 0
        self._queue: deque[_Waiter] = deque()
        self._admitted = 0
        self._tokens = 0
        self._wakeups = 0

    @property
    def capacity(self) -> int:
        """Return the largest ``n`` one ``acquire`` may ask for."""
        return self._capacity

    async def acquire(self, n: int = 1, *, timeout: float | None = None) -> None:
        """Wait until ``n`` tokens may be taken, then take them.

        Args:
            n: tokens to take, from 1 to ``capacity``.
            timeout: the most time to wait; None waits as long as it takes.

        Raises:
            QueueTimeout: ``timeout`` passed before the tokens were granted (none are taken).
            ValueError: ``n`` is out of range.
        """
        if not 1 <= n <= self._capacity:
            raise ValueError(f"cannot acquire {n} tokens: capacity is {self._capacity}")
        if not self._queue and self._delay(n, self._clock.now()) <= 0:
            self._admit(n, self._clock.now())
            return
        if timeout is None:
            await self._wait_in_queue(n)
            return
        try:
            async with asyncio.timeout(timeout):
                await self._wait_in_queue(n)
        except TimeoutError:
            raise QueueTimeout(f"no rate token within {timeout:g}s") from None

    async def _wait_in_queue(self, n: int) -> None:
        loop = asyncio.get_running_loop()
        waiter = _Waiter(n, loop.create_future())
        if not self._queue:
            waiter.head.set_result(None)
        self._queue.append(waiter)
        try:
            await waiter.head
            now = due = self._clock.now()
            while (delay := self._delay(n, now)) > 0:
                due = now + delay
                await self._clock.sleep(delay)
                self._wakeups += 1
                now = self._clock.now()
            # A timer wakes a little late; counting the admission at its due time keeps the
            # average rate exact instead of losing the lateness at every start. A wake-up late
            # by a whole interval or more (a stalled loop) is not made up for with a burst.
            self._admit(n, due if now - due < self._interval else now)
        finally:
            self._leave(waiter)

    def _leave(self, waiter: _Waiter) -> None:
        was_head = bool(self._queue) and self._queue[0] is waiter
        self._queue.remove(waiter)
        if was_head and self._queue:
            head = self._queue[0].head
            if not head.done():
                head.set_result(None)

    def _delay(self, n: int, now: float) -> float:
        """Return how long a request for ``n`` must wait from ``now`` (zero or less: go)."""
        if not self._strict:
            return self._tat + (n - self._capacity) * self._interval - now
        horizon = now - self._period
        while self._log and self._log[0][0] <= horizon:
            self._in_log -= self._log.popleft()[1]
        excess = self._in_log + n - self._capacity
        if excess <= 0:
            return 0.0
        for admitted_at, taken in self._log:  # find when enough old admissions expire
            excess -= taken
            if excess <= 0:
                return admitted_at + self._period - now
        raise AssertionError("unreachable: n <= capacity")

    def _admit(self, n: int, now: float) -> None:
        self._admitted += 1
        self._tokens += n
        if self._strict:
            now = max(now, self._clock.now())  # a window counts from the real start
            self._log.append((now, n))
            self._in_log += n
        else:
            self._tat = max(self._tat, now) + n * self._interval

    def idle_at(self) -> float:
        """Return the clock time from which this limiter has no memory of past admissions."""
        if self._strict:
            return self._log[-1][0] + self._period if self._log else float("-inf")
        return self._tat

    def statistics(self) -> RateLimitStatistics:
        """Return counts of admissions, waiters and wake-ups."""
        return RateLimitStatistics(
            admitted=self._admitted,
            tokens=self._tokens,
            waiting=len(self._queue),
            wakeups=self._wakeups,
        )

    async def __aenter__(self) -> None:
        await self.acquire(1)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def __repr__(self) -> str:
        mode = "strict" if self._strict else f"burst={self._capacity}"
        return f"<RateLimit {self._count:g}/{self._period:g}s {mode} waiting={len(self._queue)}>"
