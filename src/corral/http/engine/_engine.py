"""The engine: run requests in flight with per-host politeness and retries, each to its record.

Data flow of one run::

    source (lazy: flights, one or a list at a time) -> dispatcher (per-host queues)
        -> ``concurrency`` workers -> attempt -> final record -> the job's sink | requeue

The dispatcher hands a worker only a flight whose host may start *now* (concurrency, rate
and cool-down allow it), round-robin over hosts, so a worker never sits on a host's
semaphore while other hosts have work. A flight to retry goes back to the dispatcher with a
not-before time (the server's Retry-After or the backoff): the waiting request holds no
worker and no connection, and its waiting time is never charged to its timeout. Each worker
awaits the sink itself, so a slow sink slows the fetching. Memory is bounded by the
per-host queues (about ``buffer`` flights) and the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp

from corral import open_scope
from corral._clock import LOOP_CLOCK, Clock
from corral.http.engine._attempt import AttemptOutcome, attempt
from corral.http.engine._config import FetchConfig
from corral.http.engine._dispatch import Dispatcher
from corral.http.engine._download import Downloads
from corral.http.engine._flight import Flight
from corral.http.engine._local import LOCAL, LOCAL_WAIT, LocalTrouble
from corral.http.engine._politeness import Politeness
from corral.http.engine._proxies import ProxyPool, ProxyRoute, refused
from corral.http.engine._result import FetchResult, make_record, mask_record
from corral.http.report._stats import RunCounters

_END = object()
T = TypeVar("T")


class Engine:
    """Fetch flights with politeness and retries; one per fetcher, shared by its runs."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        config: FetchConfig,
        politeness: Politeness,
        *,
        keep_body: bool | Callable[[str | None], bool],
        rng: random.Random | None = None,
        clock: Clock | None = None,
        proxies: ProxyPool | None = None,
        downloads: Downloads | None = None,
    ) -> None:
        self._session = session
        self._proxies = proxies
        self._downloads = downloads  # --save-bodies dir in a fetch: large bodies to disk
        self._config = config
        self._politeness = politeness
        self._keep_body = keep_body
        # Bodies read for a caller (the crawler's parser) go on the flight; records carry them
        # only when they are to be saved.
        self._record_bodies = config.save_bodies != "none"
        self._rng = rng or random.Random()
        self._clock = clock or LOOP_CLOCK
        self._timeout = aiohttp.ClientTimeout(
            total=config.timeout, sock_connect=config.connect_timeout
        )
        self._loop_time: Callable[[], float] = time.monotonic  # the running loop's, in drive()
        self._trouble = LocalTrouble()

    async def drive(
        self,
        source: AsyncIterable[Flight] | AsyncIterable[list[Flight]],
        counters: RunCounters,
        sink: Sink,
    ) -> None:
        """Run every flight of ``source``; hand each final record to ``sink`` as it is made.

        ``concurrency`` workers each take a startable flight from the dispatcher, make the
        attempt, and await ``sink(flight, record)`` themselves (backpressure: a slow sink slows
        the fetching); a retry goes back to the dispatcher instead.

        Raises:
            Exception: what the source raised (after the work in flight ended), or what a
                sink raised (the other workers are cancelled).
        """
        # (asyncio.get_running_loop() asks the OS for the process id: look it up once a run)
        self._loop_time = asyncio.get_running_loop().time
        buffer = max(64, 2 * self._config.concurrency)
        pool = self._proxies
        lanes = self._lane if pool is not None and pool.per_proxy else None
        async with Dispatcher(
            source, self._politeness, buffer, self._clock, assign=lanes
        ) as dispatcher:
            async with open_scope() as scope:
                for _ in range(self._config.concurrency):
                    await scope.spawn(self._work, dispatcher, counters, sink)
            if dispatcher.source_error is not None:
                raise dispatcher.source_error

    async def _work(self, dispatcher: Dispatcher, counters: RunCounters, sink: Sink) -> None:
        take, wait, run = dispatcher.take, dispatcher.next, self._run_flight
        while True:
            flight = take()  # most of the time a flight may start at once: no await for it
            if flight is None and (flight := await wait()) is None:
                return
            final = await run(flight, dispatcher, counters)
            if final is not None:
                await sink(*final)

    @asynccontextmanager
    async def run(
        self, source: AsyncIterable[Flight], counters: RunCounters
    ) -> AsyncIterator[AsyncIterator[tuple[Flight, FetchResult]]]:
        """Run flights from ``source``; yield (flight, final record) pairs in completion order.

        The stream form of ``drive``, for callers that iterate: records wait in a queue of
        ``concurrency`` places, so a slow reader slows the fetching, never the memory.
        """

        async def produce(deliver: Callable[[tuple[Flight, FetchResult]], Awaitable[None]]) -> None:
            async def sink(flight: Flight, record: FetchResult) -> None:
                await deliver((flight, record))

            await self.drive(source, counters, sink)

        stream = streamed(produce, self._config.concurrency)
        try:
            yield stream
        finally:
            await stream.aclose()

    async def _run_flight(
        self, flight: Flight, dispatcher: Dispatcher, counters: RunCounters
    ) -> tuple[Flight, FetchResult] | None:
        if flight.preset is not None:
            dispatcher.finished()
            return flight, flight.preset
        request, state = flight.request, flight.host
        assert request is not None
        assert state is not None
        loop_time = self._loop_time
        if flight.first_started is None:
            flight.first_started = loop_time()
        counters.in_flight += 1  # the live display's "active": a counter, not a scan
        route = flight.route
        if self._proxies is not None and route is None:
            route = self._proxies.for_host(request.host, self._clock.now())
        try:
            outcome = await attempt(
                self._session,
                request,
                self._config,
                self._timeout,
                keep_body=self._keep_body,
                route=route,
                downloads=self._downloads,
            )
        except BaseException:  # cancelled (its caller left): the host's slot is free again
            self._politeness.finish(state, None, None, self._clock.now())
            raise
        finally:
            counters.in_flight -= 1
            dispatcher.finished()
            ended = loop_time()
            now = ended if self._clock is LOOP_CLOCK else self._clock.now()
        flight.attempts += 1
        self._politeness.finish(state, outcome.status, outcome.retry_after, now)
        if route is not None and self._moved(flight, route, outcome, dispatcher, now):
            return None
        if outcome.error_kind is not None:  # (a success is never retried)
            if outcome.error_kind == LOCAL:
                await self._hold_back(flight, outcome, dispatcher, counters, now)
                return None
            wait = self._retry_wait(flight, outcome)
            if wait is not None:
                counters.retries += 1
                dispatcher.requeue(flight, now + wait)
                return None
        counters.latency.add(outcome.seconds)
        counters.bytes += outcome.size if outcome.received is None else outcome.received
        flight.body = outcome.body
        return flight, self._final(flight, outcome, ended, route)

    def _lane(self, flight: Flight) -> None:
        """Give a new flight its proxy and its politeness key (``per_proxy``): in turn."""
        assert self._proxies is not None
        assert flight.request is not None
        route = flight.route = self._proxies.spread(self._clock.now())
        flight.lane = f"{flight.request.host} via {route.shown}"

    def _moved(
        self,
        flight: Flight,
        route: ProxyRoute,
        outcome: AttemptOutcome,
        dispatcher: Dispatcher,
        now: float,
    ) -> bool:
        """Rest a proxy that failed, and send the flight back at once through another: the
        proxy's failure is not the URL's. Return whether the flight went back."""
        assert self._proxies is not None
        if outcome.error_kind != "proxy":
            self._proxies.succeeded(route)
            return False
        if not self._proxies.failed(route, now):
            return False  # every proxy rests: an error of the URL's, retried as the others
        flight.attempts -= 1
        if flight.route is not None:  # per_proxy: a new lane
            self._lane(flight)
        dispatcher.requeue(flight, now)
        return True

    async def _hold_back(
        self,
        flight: Flight,
        outcome: AttemptOutcome,
        dispatcher: Dispatcher,
        counters: RunCounters,
        now: float,
    ) -> None:
        """Send a flight whose attempt met a local error (EMFILE...) back, uncounted, for later,
        and rest the worker as long: while the machine is short, the other flights would only
        meet the same error (a storm of thousands of failed connects a second, starving the
        connections that work).

        Raises:
            ResourceExhausted: nothing but local errors for ``LOCAL_PATIENCE`` seconds.
        """
        flight.attempts -= 1  # it never reached the network
        reached = counters.latency.count + counters.retries  # attempts that did
        self._trouble.held_back(now, reached, outcome.error)
        dispatcher.requeue(flight, now + LOCAL_WAIT)
        await asyncio.sleep(LOCAL_WAIT)

    def _retry_wait(self, flight: Flight, outcome: AttemptOutcome) -> float | None:
        config = self._config
        if flight.attempts > config.retries or refused(outcome.error_kind, outcome.error):
            return None  # (a proxy refused its credentials: they must change, not the time)
        retryable = (
            outcome.status in config.retry_statuses
            if outcome.error_kind == "http_status"
            else outcome.error_kind in config.retry_errors
        )
        if not retryable:
            return None
        if outcome.retry_after is not None:
            return outcome.retry_after if outcome.retry_after <= config.max_retry_after else None
        return config.backoff.delay(flight.attempts, self._rng.random())

    def _final(
        self, flight: Flight, outcome: AttemptOutcome, now: float, route: ProxyRoute | None
    ) -> FetchResult:
        request = flight.request
        assert request is not None
        started = flight.first_started if flight.first_started is not None else now
        record = make_record(
            request.url,
            outcome.final_url,
            outcome.status,
            outcome.error_kind is None,
            outcome.error_kind,
            outcome.error if outcome.retry_after is None else self._waited(outcome),
            flight.attempts,
            round((now - started) * 1000, 3),
            utc_now(),
            outcome.size,
            outcome.content_type,
            outcome.headers,
            outcome.sha256,
            outcome.body if self._record_bodies else None,
            request.method,
            request.depth,
            request.found_on,
            route.shown if route is not None else None,
        )
        if outcome.body_path is not None:  # streamed to disk (a large body)
            record = replace(record, body_path=outcome.body_path)
        # a password in the URL went with the request; the record shows user:***@
        return record if "@" not in request.url else mask_record(record)

    def _waited(self, outcome: AttemptOutcome) -> str | None:
        """Return the error of an answer with a Retry-After, saying when it was too long."""
        cap, asked = self._config.max_retry_after, outcome.retry_after
        if outcome.error is None or asked is None or asked <= cap:
            return outcome.error
        return f"{outcome.error} (Retry-After {asked:g} s is past the {cap:g} s cap: not retried)"


async def streamed(
    produce: Callable[[Callable[[T], Awaitable[None]]], Awaitable[None]], maxsize: int
) -> AsyncGenerator[T, None]:
    """Turn a producer that calls ``deliver(item)`` into an async generator of its items.

    The producer runs as a task; items wait in a queue of ``maxsize`` places (backpressure).
    Closing the generator early cancels the producer; the producer's error is raised to the
    reader once the items before it have been read.
    """
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize)

    async def driving() -> None:
        try:
            await produce(queue.put)
        finally:
            with contextlib.suppress(asyncio.QueueFull):  # a full queue: the reader sees the end
                queue.put_nowait(_END)

    task = asyncio.get_running_loop().create_task(driving())
    try:
        while True:
            if not queue.empty():
                item = queue.get_nowait()
                if item is _END:
                    break
                yield item  # type: ignore[misc]
                continue
            if task.done():
                break
            getting = asyncio.ensure_future(queue.get())
            await asyncio.wait({getting, task}, return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():
                getting.cancel()
                await asyncio.wait({getting})
                continue
            item = getting.result()
            if item is _END:
                break
            yield item  # type: ignore[misc]
        await task  # the producer's error reaches the reader here
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait({task})


Sink = Callable[[Flight, FetchResult], Awaitable[None]]


def utc_now() -> str:
    """Return the time now as ISO 8601 in UTC with milliseconds, as records carry it."""
    second, fraction = divmod(int(time.time() * 1000), 1000)
    if second != _utc_cache[0]:  # thousands of records a second: format each second once
        stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _utc_cache[0], _utc_cache[1] = second, stamp
    return f"{_utc_cache[1]}.{fraction:03d}+00:00"


_utc_cache: list[Any] = [-1, ""]
