"""``corral fetch --workers N``: one job over N worker processes on one machine, no server.

``ProcessDriver`` has the engine's seam (``drive(source, counters, sink)``), so the job's
pipeline (store, writer, summary, resume) is the one a single process runs: this process
reads the source and stays the only writer of the store; the children fetch::

    source -> route by crc32(host) % N -> child k's stdin (frames of flights)
        child k: Runtime + Engine.drive -> its stdout (frames of records + figures)
        -> sink (the writer, here) -> store

A host lives in one child, so its politeness (per-host concurrency, ``--rate``, Retry-After,
the adaptive slow-down) is exact, as in one process; ``--concurrency`` is the run's bound,
divided over the children. Each child holds at most ``2 x`` its concurrency flights: past
that, the source is not read further. A flight with a preset record (an invalid URL) never
leaves this process.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import AsyncIterable
from dataclasses import replace

from corral import open_scope
from corral.http.engine._config import FetchConfig
from corral.http.engine._engine import Sink
from corral.http.engine._flight import Flight
from corral.http.report._stats import FetchStatistics, RunCounters
from corral.http.scale._figures import RunFigures
from corral.http.scale._partition import Partition
from corral.http.scale._wire import config_to_json

MAX_WORKERS = 64
_CHILD = "corral.http.scale._child"


def route(host: str, workers: int) -> int:
    """Return the partition of ``host``: stable across runs and processes (Python's own
    ``hash`` of a string is salted per process)."""
    return zlib.crc32(host.encode()) % workers


def child_config(config: FetchConfig, workers: int) -> FetchConfig:
    """Return a child's configuration: its share of the run's concurrency (at least 1)."""
    return replace(config, concurrency=max(1, config.concurrency // workers))


class ProcessDriver:
    """Run a job's flights in ``workers`` child processes; a driver for ``pipeline.drive``."""

    def __init__(self, config: FetchConfig, workers: int) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be from 1 to {MAX_WORKERS}, not {workers}")
        self._config = child_config(config, workers)
        self._workers = workers
        self._figures: RunFigures | None = None
        self.partitions: list[Partition] = []

    async def drive(
        self,
        source: AsyncIterable[Flight] | AsyncIterable[list[Flight]],
        counters: RunCounters,
        sink: Sink,
    ) -> None:
        """Run every flight of ``source`` in the children; hand each record to ``sink``.

        Raises:
            ScaleError: a child kept dying before it sent a record.
            Exception: what the source or the sink raised (the children are stopped).
        """
        figures = self._figures = RunFigures(counters)
        argv, settings = ["-m", _CHILD], config_to_json(self._config)
        window = 2 * self._config.concurrency
        self.partitions = [Partition(k, argv, settings, window) for k in range(self._workers)]
        try:
            for partition in self.partitions:
                await partition.start()
            async with open_scope() as scope:
                for partition in self.partitions:
                    await scope.spawn(partition.run, sink, figures)
                await self._feed(source, sink)
        finally:
            for partition in self.partitions:  # (after an error or Ctrl-C; at the end, no-ops)
                with contextlib.suppress(ProcessLookupError):
                    await partition.stop()

    def amend(self, stats: FetchStatistics) -> FetchStatistics:
        """Return ``stats`` with the children's gauges (hosts, throttled) in them."""
        return stats if self._figures is None else self._figures.amend(stats)

    async def _feed(
        self, source: AsyncIterable[Flight] | AsyncIterable[list[Flight]], sink: Sink
    ) -> None:
        """Send each flight to its host's child, a batch per child per list of the source."""
        partitions, workers = self.partitions, self._workers
        batches: list[list[Flight]] = [[] for _ in partitions]
        async for item in source:
            for flight in item if isinstance(item, list) else [item]:
                if flight.preset is not None:
                    await sink(flight, flight.preset)
                    continue
                assert flight.request is not None
                index = route(flight.request.host, workers)
                batches[index].append(flight)
                partition = partitions[index]
                if len(partition.outstanding) + len(batches[index]) >= partition.window:
                    await self._send(batches)
                    await partition.wait_room()
            await self._send(batches)
        for partition in partitions:
            await partition.end()

    async def _send(self, batches: list[list[Flight]]) -> None:
        for partition, batch in zip(self.partitions, batches, strict=True):
            if batch:
                await partition.send(batch)
                batch.clear()
