"""The run's samples: its counters written to the store every few seconds (table
``samples``), for the report's charts of what the records cannot tell afterwards: how long
the crawl's frontier was, how many requests were in flight, how many hosts throttled.

Bounded: past ``MAX_SAMPLES`` rows, every other one is dropped and the interval doubles, so
a run of a week keeps as many rows as a run of an hour, evenly spread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from corral.http._faults import StoreError
from corral.http.engine._engine import utc_now
from corral.http.engine._politeness import Event
from corral.http.report._stats import FetchStatistics

SAMPLE_EVERY = 2.0  # seconds between samples, at first
MAX_SAMPLES = 1000  # rows a run keeps at most
# (time, figures: done, in flight, queued, frontier, hosts throttled; thin first; events)
Record = Callable[[str, tuple[int, ...], bool, list[Event]], Awaitable[None]]


@contextlib.asynccontextmanager
async def sampling(
    statistics: Callable[[], FetchStatistics],
    record: Record | None,
    *,
    events: Callable[[], list[Event]] | None = None,
    every: float = SAMPLE_EVERY,
    limit: int = MAX_SAMPLES,
) -> AsyncIterator[None]:
    """Record samples while the block runs (nothing when ``record`` is None), with the
    throttle events ``events()`` gives since the last sample; a last one on leaving, so the
    charts reach the run's end."""
    if record is None:
        yield
        return
    take = events or _none
    task = asyncio.create_task(_sample(statistics, record, take, every, limit))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait({task})
        # (a sampler that returned met a store fault: nothing more is written then)
        if task.cancelled():
            with contextlib.suppress(StoreError):  # (the run's end says what went wrong)
                await record(utc_now(), _figures(statistics()), False, take())


def _none() -> list[Event]:
    return []


def _figures(stats: FetchStatistics) -> tuple[int, ...]:
    return (stats.done, stats.in_flight, stats.queued, stats.frontier, len(stats.throttled))


async def _sample(
    statistics: Callable[[], FetchStatistics],
    record: Record,
    events: Callable[[], list[Event]],
    every: float,
    limit: int,
) -> None:
    kept = 0
    while True:
        thin = kept + 1 >= limit
        try:
            await record(utc_now(), _figures(statistics()), thin, events())
        except StoreError:
            return  # the run's own commits meet the fault and say what it is
        kept += 1
        if thin:
            kept, every = (kept + 1) // 2, every * 2
        await asyncio.sleep(every)
