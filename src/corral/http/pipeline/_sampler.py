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

from corral.http.engine._engine import utc_now
from corral.http.report._stats import FetchStatistics
from corral.http.store._faults import StoreError

SAMPLE_EVERY = 2.0  # seconds between samples, at first
MAX_SAMPLES = 1000  # rows a run keeps at most
Record = Callable[[str, tuple[int, ...], bool], Awaitable[None]]


@contextlib.asynccontextmanager
async def sampling(
    statistics: Callable[[], FetchStatistics],
    record: Record | None,
    *,
    every: float = SAMPLE_EVERY,
    limit: int = MAX_SAMPLES,
) -> AsyncIterator[None]:
    """Record samples while the block runs (nothing when ``record`` is None)."""
    if record is None:
        yield
        return
    task = asyncio.create_task(_sample(statistics, record, every, limit))
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait({task})


async def _sample(
    statistics: Callable[[], FetchStatistics], record: Record, every: float, limit: int
) -> None:
    kept = 0
    while True:
        stats = statistics()
        figures = (
            stats.done,
            stats.in_flight,
            stats.queued,
            stats.frontier,
            len(stats.throttled),
        )
        thin = kept + 1 >= limit
        try:
            await record(utc_now(), figures, thin)
        except StoreError:
            return  # the run's own commits meet the fault and say what it is
        kept += 1
        if thin:
            kept, every = (kept + 1) // 2, every * 2
        await asyncio.sleep(every)
