"""The dispatcher: hands each free worker a flight whose host may start now.

Flights come from a source (read by one task straight into per-host queues, one flight or a list
of flights at a time, while the queues hold fewer than ``buffer``); a worker takes the next flight
round-robin over the hosts that may start (concurrency, start interval and cool-down allow
it). A worker that finds nothing parks on a future of its own;
whatever can make a flight startable (a slot freed on a shared host, a flight read from the source,
a retry coming due, a host's interval passing) wakes *one* parked worker, so a finished
request costs one wake-up, not a stampede. Memory is bounded by the queues (``buffer`` flights,
plus the rest of the source's last list) and the workers.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import AsyncIterable, Callable

from corral._clock import LOOP_CLOCK, Clock
from corral.http.engine._flight import Flight
from corral.http.engine._politeness import HostState, Politeness


class Dispatcher:
    """Per-host queues over a lazy source; ``await next()`` gives a startable flight or None."""

    def __init__(
        self,
        source: AsyncIterable[Flight] | AsyncIterable[list[Flight]],
        politeness: Politeness,
        buffer: int,
        clock: Clock,
        *,
        assign: Callable[[Flight], None] | None = None,
    ) -> None:
        self._source = source
        self._assign = assign  # sets a new flight's lane (FetchConfig.per_proxy)
        self._clock = clock
        self._now: Callable[[], float] = clock.now
        self._politeness = politeness
        self._buffer = buffer
        self._room: asyncio.Future[None] | None = None  # the reader waits on it when full
        self._loop: asyncio.AbstractEventLoop  # the running loop, from __aenter__
        self._queues: dict[str, deque[Flight]] = {}
        self._instant: deque[Flight] = deque()  # flights with a preset record: no host, no wait
        self._rotation: deque[HostState] = deque()
        self._delayed: list[tuple[float, int, Flight]] = []
        self._seq = 0
        self._queued = 0
        self.running = 0
        self._exhausted = False
        self._parked: deque[asyncio.Future[None]] = deque()
        # Workers woken and not yet back at take(): the baton is not passed while one is on
        # its way (a freed slot already woke one; passing it too woke a worker for nothing,
        # four parks a page on a crawl of one host at --per-host 8, now one or two).
        self._waking = 0
        self._timer: asyncio.TimerHandle | asyncio.Task[None] | None = None
        self._timer_at: float | None = None
        self._reader: asyncio.Task[None] | None = None
        self.source_error: BaseException | None = None

    async def __aenter__(self) -> Dispatcher:
        self._loop = loop = asyncio.get_running_loop()
        if self._clock is LOOP_CLOCK:
            self._now = loop.time  # the same clock, without looking the loop up each time
        self._reader = loop.create_task(self._read())
        self._politeness.listen(self._wake_one)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._politeness.unlisten(self._wake_one)
        self._cancel_timer()
        assert self._reader is not None
        self._reader.cancel()
        await asyncio.wait([self._reader])
        for queue in self._queues.values():
            for flight in queue:
                assert flight.request is not None
                self._politeness.host(flight.lane or flight.request.host).queued -= 1
        self._queues.clear()

    async def _read(self) -> None:
        try:
            async for item in self._source:
                for flight in item if isinstance(item, list) else (item,):
                    while self._queued >= self._buffer:
                        self._wake_one()
                        self._room = self._loop.create_future()
                        await self._room
                    self._add(flight)
                if self._parked and (isinstance(item, list) or self._may_start(item)):
                    self._wake_one()
        except Exception as exc:  # the run ends with it, after the work in flight
            self.source_error = exc
        self._exhausted = True
        self._wake_all()

    def take(self) -> Flight | None:
        """Return a flight that may start now, or None (then ``next()`` waits for one)."""
        now = self._now()
        if self._delayed:
            self._promote(now)
        flight = self._pick(now)
        if flight is not None and self._parked:
            if self._startable(now):
                if not self._waking:  # more is ready and nobody is on the way to it
                    self._wake_one()  # pass the baton on
            else:
                self._timer_for(flight, now)
        return flight

    async def next(self) -> Flight | None:
        """Return a flight that may start now, waiting if need be; None when the run is over."""
        while (flight := self.take()) is None:
            if self._exhausted and not self._queued and not self.running and not self._delayed:
                self._wake_all()
                return None
            await self._park(self._now())
        return flight

    def requeue(self, flight: Flight, not_before: float) -> None:
        """Put a flight back to be retried no earlier than clock time ``not_before``."""
        self._seq += 1
        heapq.heappush(self._delayed, (not_before, self._seq, flight))
        self._wake_one()

    def finished(self) -> None:
        """Count the end of a flight this dispatcher handed out."""
        self.running -= 1
        if not self.running:
            self._wake_one()  # the end of the run may have come

    # --- queues ---------------------------------------------------------------------------

    def _add(self, flight: Flight) -> None:
        if flight.preset is not None:
            self._instant.append(flight)
            self._queued += 1
        else:
            if self._assign is not None:
                self._assign(flight)
            self._enqueue(flight, front=False)

    def _promote(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            self._enqueue(heapq.heappop(self._delayed)[2], front=True)

    def _enqueue(self, flight: Flight, *, front: bool) -> None:
        assert flight.request is not None
        name = flight.lane or flight.request.host
        queue = self._queues.get(name)
        state = self._politeness.host(name)
        if queue is None:
            queue = self._queues[name] = deque()
            self._rotation.append(state)
        if front:
            queue.appendleft(flight)
        else:
            queue.append(flight)
        self._queued += 1
        state.queued += 1

    def _pick(self, now: float) -> Flight | None:
        room = self._room
        if room is not None and self._queued <= self._buffer // 2:
            self._room = None
            if not room.done():  # (a cancelled reader's is)
                room.set_result(None)  # the reader refills in bulk, not a flight at a time
        if self._instant:
            self._queued -= 1
            self.running += 1
            return self._instant.popleft()
        politeness = self._politeness
        for _ in range(len(self._rotation)):
            state = self._rotation[0]
            self._rotation.rotate(-1)
            if politeness.can_start(state, now):
                queue = self._queues[state.name]
                flight = queue.popleft()
                if not queue:
                    del self._queues[state.name]
                    self._rotation.remove(state)
                self._queued -= 1
                state.queued -= 1
                politeness.start(state, now)
                self.running += 1
                flight.host = state
                return flight
        return None

    def _may_start(self, flight: Flight) -> bool:
        """Return whether a flight just read may start now; if its host's rate or cool-down
        holds it, make sure a parked worker wakes when it may.

        A flight whose host is at its concurrency waits for a finish, which wakes a worker
        anyway: waking one for it now is wasted (a crawl feeding one host at its limit
        woke, and parked again, a worker per flight).
        """
        if flight.request is None:
            return True
        state = self._politeness.host(flight.lane or flight.request.host)
        now = self._now()
        if self._politeness.can_start(state, now):
            return True
        if state.ready_at() > now:
            self._arm_at(state.ready_at())
        return False

    def _startable(self, now: float) -> bool:
        if self._instant:
            return True
        return any(self._politeness.can_start(state, now) for state in self._rotation)

    # --- parking and waking ---------------------------------------------------------------

    async def _park(self, now: float) -> None:
        future: asyncio.Future[None] = self._loop.create_future()
        self._parked.append(future)
        self._arm_timer(now)
        try:
            await future
        except asyncio.CancelledError:
            if future in self._parked:
                self._parked.remove(future)
            elif future.done() and not future.cancelled():
                self._waking -= 1
                self._wake_one()  # we were woken as we were cancelled: wake another instead
            raise
        self._waking -= 1

    def _wake_one(self) -> None:
        while self._parked:
            future = self._parked.popleft()
            if not future.done():
                future.set_result(None)
                self._waking += 1
                return

    def _wake_all(self) -> None:
        while self._parked:
            future = self._parked.popleft()
            if not future.done():
                future.set_result(None)
                self._waking += 1

    def _timer_for(self, flight: Flight, now: float) -> None:
        """Wake a parked worker when the host just started may start again (its rate).

        Without it, a start that moved the host's next start into the future while every
        other worker was parked left nobody to wake them: the host waited for the response
        in flight to end (issue 13: one slow response stalled a host under --rate).
        """
        state = flight.host
        if state is not None and state.queued and state.ready_at() > now:
            self._arm_at(state.ready_at())

    def _arm_timer(self, now: float) -> None:
        """Make sure a parked worker wakes when the first waiting flight comes due."""
        times = [s.ready_at() for s in self._rotation if s.ready_at() > now]
        if self._delayed:
            times.append(self._delayed[0][0])
        if times:
            self._arm_at(min(times))

    def _arm_at(self, due: float) -> None:
        if self._timer_at is not None and self._timer_at <= due:
            return  # a timer already fires no later than needed
        self._cancel_timer()
        self._timer_at = due
        if self._clock is LOOP_CLOCK:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(due, self._timer_fired)
        else:
            self._timer = asyncio.ensure_future(self._sleep_until(due))

    async def _sleep_until(self, due: float) -> None:
        await self._clock.sleep(due - self._clock.now())
        self._timer_fired()

    def _timer_fired(self) -> None:
        self._timer = None
        self._timer_at = None
        self._wake_one()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None
