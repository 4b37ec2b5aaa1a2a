"""The one driver of a job: source of flights -> engine -> sink -> writer -> store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Callable, Coroutine, Sequence
from typing import Any, Protocol

from corral import open_scope
from corral.http.engine._engine import Sink
from corral.http.engine._flight import Flight
from corral.http.pipeline._writer import BatchWriter
from corral.http.report._stats import RunCounters


class Driver(Protocol):
    """What runs a job's flights: the engine (``Engine.drive``), or a scale-out driver (worker
    processes, a Redis coordinator) with the same seam."""

    async def drive(
        self,
        source: AsyncIterable[Flight] | AsyncIterable[list[Flight]],
        counters: RunCounters,
        sink: Sink,
    ) -> None:
        """Run every flight of ``source``; await ``sink(flight, final record)`` for each."""


async def drive(
    engine: Driver,
    source: AsyncIterable[Flight] | AsyncIterable[list[Flight]],
    counters: RunCounters,
    sink: Sink,
    writer: BatchWriter[Any],
    *,
    helpers: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
) -> None:
    """Run every flight of ``source`` through the engine into ``sink``, which adds outcomes
    to ``writer``; return once all are committed.

    The writer's ticker and the job's ``helpers`` (the crawl's unparking) run beside the
    engine and are cancelled at the end; whatever the end (an error, a cancellation), the
    writer commits what it holds before this returns.

    Raises:
        Exception: what the source, the sink or a commit raised.
    """
    async with open_scope() as scope:
        beside = [await scope.spawn(writer.tick)]
        beside += [await scope.spawn(helper) for helper in helpers]
        try:
            await engine.drive(source, counters, sink)
            await writer.flush()
        finally:
            for task in beside:
                task.cancel()
            await asyncio.shield(writer.flush())
