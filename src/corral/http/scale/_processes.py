"""``corral fetch --workers N``: one job over N worker processes on one machine, no server.

``ProcessDriver`` has the engine's seam (``drive(source, counters, sink)``), so the job's
pipeline (store, writer, summary, resume) is the one a single process runs: this process
reads the source and stays the only writer of the store; the children fetch::

    source -> route (a new host to the child with fewest) -> child k's stdin (flights)
        child k: Runtime + Engine.drive -> its stdout (frames of records + figures)
        -> sink (the writer, here) -> store

A child starts when the router gives it its first host, so there are never more processes
than hosts (``--workers 64`` on one site starts one). A host lives in one child, so its
politeness (per-host concurrency, ``--rate``, Retry-After, the adaptive slow-down) is
exact, as in one process; ``--concurrency`` is divided over the children, each getting
at least ``--per-host`` (so with many workers the run may have more in flight). Each child
holds at most ``2 x`` its concurrency flights: past that, the source is not read further.
A flight with a preset record (an invalid URL) never leaves this process.

Cookies (``--cookies``): a host's jar lives in the child that has the host. This process
owns the run's jars and their file (the runtime's ``JarKeeper``, which saves them every few
seconds); each child is handed them all when it starts (after its settings, on its stdin),
and sends back, with its next frame of records, the jars its responses changed, which
replace this process's. A child that dies loses the cookies of the records it had not sent,
which are fetched again; its replacement gets the jars as they are now.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from corral import open_scope
from corral.http.engine._config import FetchConfig
from corral.http.engine._cookies import HostJars
from corral.http.engine._engine import Sink
from corral.http.engine._flight import Flight
from corral.http.engine._politeness import Politeness
from corral.http.engine._result import FetchResult
from corral.http.report._stats import FetchStatistics, RunCounters
from corral.http.scale._figures import RunFigures
from corral.http.scale._partition import Partition
from corral.http.scale._wire import config_to_json

MAX_WORKERS = 64
_CHILD = "corral.http.scale._child"


class HostRouter:
    """Which worker process has a host: the one with the fewest hosts when the host is first
    seen, then always that one (for the run: a restarted child keeps its index, so its
    hosts). A hash of the host name alone spread few hosts unevenly (a crawl of 4 sites
    put 3 in one of 2 processes: 1.26x, not 2x). Past ``remembered`` hosts, a new host goes
    by ``crc32(host) % N`` unremembered (as even as it gets with that many, and memory
    stays bounded on an input of millions of hosts)."""

    def __init__(self, workers: int, remembered: int = 100_000) -> None:
        self._hosts: dict[str, int] = {}
        self._load = [0] * workers
        self._remembered = remembered

    def __call__(self, host: str) -> int:
        """Return the index of ``host``'s worker process."""
        index = self._hosts.get(host)
        if index is None:
            load = self._load
            if len(self._hosts) >= self._remembered:
                return zlib.crc32(host.encode()) % len(load)
            index = self._hosts[host] = load.index(min(load))
            load[index] += 1
        return index


def child_config(config: FetchConfig, workers: int) -> FetchConfig:
    """Return a child's configuration: its share of the run's concurrency, but at least what
    one host may have in flight (a child has a host at least; with ``--workers 64`` a
    share of 1 held each host to one request at a time), and the cookies without their file
    (the parent's to load and save)."""
    least = min(config.per_host, config.concurrency)
    return replace(config, concurrency=max(least, config.concurrency // workers), cookie_jar=None)


class ProcessDriver:
    """Run a job's flights in ``workers`` child processes; a driver for ``pipeline.drive``."""

    def __init__(
        self,
        config: FetchConfig,
        workers: int,
        *,
        child: str = _CHILD,
        settings: Mapping[str, Any] | None = None,
        jars: HostJars | None = None,
    ) -> None:
        """``child`` is the module the children run (``python -m``), ``settings`` what it
        gets beside the configuration (a crawl's child: its parse settings), ``jars`` the
        run's cookies (``--cookies``: the runtime's, loaded before ``drive``)."""
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be from 1 to {MAX_WORKERS}, not {workers}")
        self._config = child_config(config, workers)
        self._workers = workers
        self._child = child
        self._settings = dict(settings or {})
        self._jars = jars
        self._intervals: dict[str, float] = {}
        self.route = HostRouter(workers)
        # The parent's host states, where a crawl's claimer reads how many of a host's rows
        # are out (``queued``): each flight sent counts there until its record is back, so
        # the claimer tops a host up to its room instead of claiming for it again and again
        # (a busy worker's window then filled, and the feed, waiting for it, starved the
        # others: one worker at 95% beside one at 25%).
        self.politeness: Politeness | None = None
        self._figures: RunFigures | None = None
        self.partitions: list[Partition] = []
        # starts a partition's reader in the drive's scope (a process starts with its first
        # host: --workers 64 on one site started 64 processes, 52 s on a loaded machine)
        self._begin: Callable[[Partition], Awaitable[object]] = _unset

    async def set_interval(self, host: str, interval: float) -> None:
        """Raise ``host``'s minimum interval (robots.txt's Crawl-delay) in the child that
        has the host (told before the child's first flight of it, when called before
        the flight is handed on)."""
        self._intervals[host] = max(interval, self._intervals.get(host, 0.0))
        if self.partitions:
            await self.partitions[self.route(host)].set_interval(host, interval)

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
        if self.politeness is not None:
            sink = _uncounting(sink)
        argv = ["-m", self._child]
        settings = {**self._settings, "config": config_to_json(self._config)}
        window = 2 * self._config.concurrency
        self.partitions = [
            Partition(k, argv, settings, window, self._jars) for k in range(self._workers)
        ]
        for host, interval in self._intervals.items():
            self.partitions[self.route(host)].intervals[host] = interval
        try:
            async with open_scope() as scope:
                self._begin = lambda partition: scope.spawn(partition.run, sink, figures)
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
        partitions = self.partitions
        batches: list[list[Flight]] = [[] for _ in partitions]
        async for item in source:
            for flight in item if isinstance(item, list) else [item]:
                if flight.preset is not None:
                    await sink(flight, flight.preset)
                    continue
                assert flight.request is not None
                index = self.route(flight.request.host)
                batches[index].append(flight)
                if self.politeness is not None:
                    flight.host = self.politeness.host(flight.request.host)
                    flight.host.queued += 1
                partition = partitions[index]
                if partition.pid is None:  # its first host: the process starts now
                    await partition.start()
                    await self._begin(partition)
                if len(partition.outstanding) + len(batches[index]) >= partition.window:
                    await self._send(batches)
                    await partition.wait_room()
            await self._send(batches)
        for partition in partitions:
            if partition.pid is not None:
                await partition.end()

    async def _send(self, batches: list[list[Flight]]) -> None:
        for partition, batch in zip(self.partitions, batches, strict=True):
            if batch:
                await partition.send(batch)
                batch.clear()


def _uncounting(sink: Sink) -> Sink:
    """Return ``sink`` that first takes a flight back out of its host's ``queued``."""

    async def uncount(flight: Flight, result: FetchResult) -> None:
        if flight.host is not None:
            flight.host.queued -= 1
        await sink(flight, result)

    return uncount


async def _unset(partition: Partition) -> None:
    raise RuntimeError("a partition started outside drive()")
