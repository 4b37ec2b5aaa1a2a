"""The fetch engine: a per-host dispatcher feeding ``corral.map`` workers, with retries.

Data flow of one run::

    source (lazy) -> reader task -> inbox (bounded) -> per-host queues -> dispatcher
        -> corral.map workers (limit = concurrency) -> attempt -> final record | requeue

The dispatcher hands a worker only a job whose host may start *now* (concurrency, rate and
cool-down allow it), round-robin over hosts, so a worker never sits on a host's semaphore
while other hosts have work. A job to retry goes back to the dispatcher with a not-before
time (the server's Retry-After or the backoff): the waiting request holds no worker and no
connection, and its waiting time is never charged to its timeout. Memory is bounded by the
inbox, the per-host queues (together at most ``buffer`` jobs) and the workers.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp

from corral import map as corral_map
from corral._clock import LOOP_CLOCK, Clock
from corral.http._attempt import AttemptOutcome, attempt
from corral.http._config import FetchConfig
from corral.http._politeness import HostState, Politeness
from corral.http._request import Request
from corral.http._result import FetchResult
from corral.http._stats import RunCounters

_END = object()


class Job:
    """A request on its way through the engine, with its attempt count."""

    __slots__ = ("attempts", "first_started", "ident", "preset", "request")

    def __init__(
        self, request: Request | None, ident: object = None, preset: FetchResult | None = None
    ) -> None:
        self.request = request
        self.ident = ident  # the caller's handle (a frontier row id)
        self.preset = preset  # a record decided before any attempt (an invalid URL)
        self.attempts = 0
        self.first_started: float | None = None


class Dispatcher:
    """Hand out jobs whose host may start now; an async iterator for ``corral.map``."""

    def __init__(
        self, source: AsyncIterable[Job], politeness: Politeness, buffer: int, clock: Clock
    ) -> None:
        self._source = source
        self._clock = clock
        self._politeness = politeness
        self._buffer = buffer
        self._inbox: asyncio.Queue[object] = asyncio.Queue(buffer)
        self._queues: dict[str, deque[Job]] = {}
        self._instant: deque[Job] = deque()  # jobs with a preset record: no host, no wait
        self._rotation: deque[HostState] = deque()
        self._delayed: list[tuple[float, int, Job]] = []
        self._seq = 0
        self._queued = 0
        self.running = 0
        self._exhausted = False
        self._reader: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.source_error: BaseException | None = None

    async def __aenter__(self) -> Dispatcher:
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._reader is not None
        self._reader.cancel()
        await asyncio.wait([self._reader])
        for queue in self._queues.values():
            for job in queue:
                assert job.request is not None
                self._politeness.host(job.request.host).queued -= 1
        self._queues.clear()

    async def _read(self) -> None:
        try:
            async for job in self._source:
                await self._inbox.put(job)
                self._wake()
        except Exception as exc:  # the run ends with it, after the work in flight
            self.source_error = exc
        await self._inbox.put(_END)
        self._wake()

    def __aiter__(self) -> Dispatcher:
        return self

    async def __anext__(self) -> Job:
        while True:
            now = self._clock.now()
            self._take_inbox()
            self._promote(now)
            job = self._pick(now)
            if job is not None:
                return job
            if self._exhausted and not self._queued and not self.running and not self._delayed:
                raise StopAsyncIteration
            await self._wait(self._wake_at(now))

    def requeue(self, job: Job, not_before: float) -> None:
        """Put a job back to be retried no earlier than loop time ``not_before``."""
        self._seq += 1
        heapq.heappush(self._delayed, (not_before, self._seq, job))
        self._wake()

    def _take_inbox(self) -> None:
        while self._queued < self._buffer and not self._inbox.empty():
            item = self._inbox.get_nowait()
            if item is _END:
                self._exhausted = True
                return
            assert isinstance(item, Job)
            if item.preset is not None:
                self._instant.append(item)
            else:
                self._enqueue(item, front=False)

    def _promote(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            self._enqueue(heapq.heappop(self._delayed)[2], front=True)

    def _enqueue(self, job: Job, *, front: bool) -> None:
        assert job.request is not None
        name = job.request.host
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = deque()
            self._rotation.append(self._politeness.host(name))
        if front:
            queue.appendleft(job)
        else:
            queue.append(job)
        self._queued += 1
        self._politeness.host(name).queued += 1

    def _pick(self, now: float) -> Job | None:
        if self._instant:
            self.running += 1
            return self._instant.popleft()
        politeness = self._politeness
        for _ in range(len(self._rotation)):
            state = self._rotation[0]
            self._rotation.rotate(-1)
            if politeness.can_start(state, now):
                queue = self._queues[state.name]
                job = queue.popleft()
                if not queue:
                    del self._queues[state.name]
                    self._rotation.remove(state)
                self._queued -= 1
                state.queued -= 1
                politeness.start(state, now)
                self.running += 1
                return job
        return None

    def _wake_at(self, now: float) -> float | None:
        times = [state.ready_at() for state in self._rotation if state.ready_at() > now]
        if self._delayed:
            times.append(self._delayed[0][0])
        return min(times) if times else None

    async def _wait(self, until: float | None) -> None:
        self._waiter = asyncio.get_running_loop().create_future()
        self._politeness.listen(self._waiter)
        try:
            await self._politeness.wait_on(self._waiter, until, self._clock)
        finally:
            self._politeness.unlisten(self._waiter)
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Engine:
    """Fetch jobs with politeness and retries; one per fetcher, shared by its runs."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: FetchConfig,
        politeness: Politeness,
        *,
        keep_body: bool | Callable[[str | None], bool],
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._session = session
        self._config = config
        self._politeness = politeness
        self._keep_body = keep_body
        self._rng = rng or random.Random()
        self._clock = clock or LOOP_CLOCK
        self._timeout = aiohttp.ClientTimeout(
            total=config.timeout, sock_connect=config.connect_timeout
        )

    @asynccontextmanager
    async def run(
        self, source: AsyncIterable[Job], counters: RunCounters
    ) -> AsyncIterator[AsyncIterator[tuple[Job, FetchResult]]]:
        """Run jobs from ``source``; yield a stream of (job, final record) in completion order."""
        buffer = max(64, 2 * self._config.concurrency)
        async with Dispatcher(source, self._politeness, buffer, self._clock) as dispatcher:

            async def run_job(job: Job) -> tuple[Job, FetchResult] | None:
                return await self._run_job(job, dispatcher, counters)

            async with corral_map(
                run_job, dispatcher, limit=self._config.concurrency, ordered=False
            ) as stream:
                yield _finals(stream, dispatcher)

    async def _run_job(
        self, job: Job, dispatcher: Dispatcher, counters: RunCounters
    ) -> tuple[Job, FetchResult] | None:
        if job.preset is not None:
            dispatcher.running -= 1
            return job, job.preset
        assert job.request is not None
        loop = asyncio.get_running_loop()
        if job.first_started is None:
            job.first_started = loop.time()
        state = self._politeness.host(job.request.host)
        try:
            outcome = await attempt(
                self._session, job.request, self._config, self._timeout, keep_body=self._keep_body
            )
        finally:
            dispatcher.running -= 1
            ended = loop.time()
            now = self._clock.now()
        job.attempts += 1
        self._politeness.finish(state, outcome.status, outcome.retry_after, now)
        wait = self._retry_wait(job, outcome)
        if wait is not None:
            counters.retries += 1
            dispatcher.requeue(job, now + wait)
            return None
        counters.latency.add(outcome.seconds)
        counters.bytes += outcome.size
        return job, self._final(job, outcome, ended)

    def _retry_wait(self, job: Job, outcome: AttemptOutcome) -> float | None:
        config = self._config
        if job.attempts > config.retries:
            return None
        retryable = (
            outcome.status in config.retry_statuses
            if outcome.error_kind == "http_status"
            else outcome.error_kind in config.retry_errors
        )
        if not retryable:
            return None
        if outcome.retry_after is not None:
            return outcome.retry_after if outcome.retry_after <= config.max_retry_after else None
        return config.backoff.delay(job.attempts, self._rng.random())

    def _final(self, job: Job, outcome: AttemptOutcome, now: float) -> FetchResult:
        request = job.request
        assert request is not None
        started = job.first_started if job.first_started is not None else now
        return FetchResult(
            url=request.url,
            final_url=outcome.final_url,
            status=outcome.status,
            ok=outcome.error_kind is None,
            error_kind=outcome.error_kind,
            error=outcome.error,
            attempts=job.attempts,
            elapsed_ms=round((now - started) * 1000, 3),
            fetched_at=utc_now(),
            bytes=outcome.size,
            content_type=outcome.content_type,
            headers=outcome.headers,
            sha256=outcome.sha256,
            body=outcome.body,
            method=request.method,
            depth=request.depth,
            found_on=request.found_on,
        )


async def _finals(
    stream: AsyncIterator[tuple[Job, FetchResult] | None], dispatcher: Dispatcher
) -> AsyncIterator[tuple[Job, FetchResult]]:
    async for item in stream:
        if item is not None:
            yield item
    if dispatcher.source_error is not None:
        raise dispatcher.source_error


def utc_now() -> str:
    """Return the time now as ISO 8601 in UTC with milliseconds, as records carry it."""
    now = time.time()
    second = int(now)
    if second != _utc_cache[0]:  # format the date and time once a second, not per record
        stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _utc_cache[0], _utc_cache[1] = second, stamp
    return f"{_utc_cache[1]}.{int((now - second) * 1000):03d}+00:00"


_utc_cache: list[Any] = [-1, ""]
