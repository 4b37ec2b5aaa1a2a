"""The coordinator's driver: a job's flights out to Redis, their records back from it.

It plugs into the job pipeline where the engine does (``drive(source, counters, sink)``), so
the store, the writer, the summary, export and resume are those of a single process: the
coordinator adds each flight to the job's queue in Redis, workers anywhere claim, fetch and
commit them, and the coordinator reads the records from the job's results stream and hands
each to the sink. A stream entry is acknowledged (and deleted) only once the writer has
committed its record to the store (``committed``), so a coordinator killed at any moment
re-reads what it had not stored, and the store's commit of a row that is done already is
a no-op: nothing lost, nothing recorded twice.

At most ``window`` flights are out at once (back-pressure on the input, so memory stays
bounded however long the input); workers are throttled by the queue itself when the
results wait undrained (``max_results``).

When Redis restarts and loses its last writes (AOF fsyncs once a second), the queue may
have forgotten flights the coordinator still waits for: after every reconnection the
coordinator adds every outstanding flight again (adding is idempotent per key).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterable, Mapping, Sequence
from typing import TYPE_CHECKING

from corral import open_scope
from corral.http.engine._engine import Sink
from corral.http.engine._flight import Flight
from corral.http.report._human import human_many
from corral.http.report._stats import RunCounters
from corral.http.scale._address import worker_command
from corral.http.scale._link import Link, still_cancelled
from corral.http.scale._wire import task_request

if TYPE_CHECKING:
    from corral.http.scale._queue import Outcome

_READ = 500  # records read from the stream at a time
_BLOCK_MS = 500  # how long one read waits for records
_GATHER = 0.01  # seconds between reads that found few records
_REAP_EVERY = 5.0  # seconds between reaps of expired leases (workers reap too)


class RedisDriver:
    """Drive a job's flights through a Redis queue (see the module notes).

    Args:
        link: the connection to the job's queue (reconnects with a message when Redis is
            away).
        settings: the job's settings (``JobQueue.configure``).
        consumer: this coordinator's name in the results stream's consumer group.
        window: the most flights out at once.
    """

    def __init__(
        self,
        link: Link,
        settings: Mapping[str, str],
        *,
        consumer: str = "coordinator",
        window: int = 10_000,
    ) -> None:
        self._link = link
        self._settings = settings  # the job's, written again should Redis have lost them
        self._consumer = consumer
        self._window = window
        self._out: dict[int, Flight] = {}  # ident -> flight, added and not yet recorded
        self._early: dict[int, Outcome] = {}  # records read before their flight came
        # ident -> (stream entry, its key's fingerprint), until committed
        self._entries: dict[int, tuple[str, bytes]] = {}
        self._room = asyncio.Event()
        self._back = asyncio.Event()  # set when the source is done and every record is in
        self._fed = False
        self._hinted = False
        self._recorded = 0  # records handed to the sink
        self._dropped = 0  # records dropped: their URL is not their row's (``_same``)

    async def drive(
        self,
        source: AsyncIterable[Flight] | AsyncIterable[list[Flight]],
        counters: RunCounters,
        sink: Sink,
    ) -> None:
        """Add every flight of ``source`` to the queue and sink each record that comes back.

        Returns once the source is exhausted and every flight has its record in the sink.
        """
        self._room.set()
        self._back.clear()
        self._fed = False
        self._link.on_reconnect(self._add_again)
        # The drainer and the reaper end by themselves once every record is in: a redis-py
        # call cancelled mid-reply can leave its connection waiting for a reply forever.
        async with open_scope() as scope:
            reaper = await scope.spawn(self._reap)
            await scope.spawn(self._drain, counters, sink)
            await self._feed(source, counters, sink)
            self._fed = True
            if not self._out:
                self._back.set()
            await self._back.wait()
            reaper.cancel()  # (asleep between reaps: a plain sleep takes a cancel reliably)
        await self._forget_early()

    async def set_interval(self, host: str, interval: float) -> None:
        """Space ``host``'s starts at least ``interval`` seconds apart in every worker
        (robots.txt's Crawl-delay, read by a crawl's coordinator)."""
        await self._link.call(self._link.queue.floor, host, interval)

    async def committed(self, idents: Sequence[int]) -> None:
        """Acknowledge the stream entries of records the store has committed."""
        pop = self._entries.pop
        done = [entry for ident in idents if (entry := pop(ident, None)) is not None]
        if done:
            entries, fps = zip(*done, strict=True)
            await self._link.call(self._link.queue.acknowledge, entries, fps)

    async def _feed(
        self,
        source: AsyncIterable[Flight] | AsyncIterable[list[Flight]],
        counters: RunCounters,
        sink: Sink,
    ) -> None:
        async for item in source:
            flights = item if isinstance(item, list) else [item]
            batch: list[Flight] = []
            for flight in flights:
                if flight.preset is not None:  # an invalid line: its record is made here
                    await sink(flight, flight.preset)
                    continue
                assert isinstance(flight.ident, int)
                early = self._early.pop(flight.ident, None)
                if early is not None and not _same(flight, early):
                    await self._drop([early])
                elif early is not None:  # its record came back before it (a restart)
                    self._entries[flight.ident] = early.entry, early.fp
                    flight.remote = early.extra
                    await sink(flight, early.result)
                    continue
                batch.append(flight)
            while len(self._out) >= self._window:
                self._room.clear()
                await self._room.wait()
            for flight in batch:
                self._out[flight.ident] = flight  # type: ignore[index]
            if batch:
                await self._link.call(self._link.queue.add, _tasks(batch))
            counters.in_flight = len(self._out)

    async def _drain(self, counters: RunCounters, sink: Sink) -> None:
        while True:
            still_cancelled()
            outcomes = await self._link.call(
                self._link.queue.results, self._consumer, _READ, _BLOCK_MS
            )
            foreign = []
            for outcome in outcomes:
                if outcome.proxies is not None:  # (its worker's counts so far: the latest)
                    counters.worker_proxies[outcome.worker] = outcome.proxies
                flight = self._out.pop(outcome.ident, None)
                if flight is None:
                    self._early[outcome.ident] = outcome
                    continue
                if not _same(flight, outcome):  # another URL's record: never the row's
                    self._out[outcome.ident] = flight
                    foreign.append(outcome)
                    continue
                self._entries[outcome.ident] = outcome.entry, outcome.fp
                self._recorded += 1
                _count_attempts(counters, outcome)
                flight.remote = outcome.extra  # (a crawl's page, examined by the worker)
                await sink(flight, outcome.result)
            await self._drop(foreign)
            counters.in_flight = len(self._out)
            if len(self._out) < self._window:
                self._room.set()
            if self._fed and not self._out:
                self._back.set()
            if self._back.is_set():
                return
            if len(outcomes) < _READ // 4:
                await asyncio.sleep(_GATHER)  # let records gather: one read of many, not many

    async def _drop(self, outcomes: Sequence[Outcome]) -> None:
        """Drop records whose URL is not their row's (Redis kept them from another job under
        this name): the rows wait for their own; say so once. Their URLs' keys are
        forgotten, and the rows of those URLs added again (Redis skipped them, knowing the
        keys by those records)."""
        if not outcomes:
            return
        queue = self._link.queue
        fps = [o.fp for o in outcomes]
        await self._link.call(queue.acknowledge, [o.entry for o in outcomes], fps)
        from corral.http.scale._queue import fingerprint

        dropped = set(fps)
        again = [
            f for f in self._out.values() if f.request and fingerprint(f.request.key) in dropped
        ]
        if again:
            await self._link.call(queue.add, _tasks(again))
        if not self._dropped:
            print(
                f"corral: job {self._link.queue.job}: a record for another URL than its "
                "row's was dropped (left in Redis by another store's run of the job)",
                file=sys.stderr,
            )
        self._dropped += len(outcomes)

    async def _forget_early(self) -> None:
        """Acknowledge records no flight of this run asked for (the store has them)."""
        entries = [outcome.entry for outcome in self._early.values()]
        fps = [outcome.fp for outcome in self._early.values()]
        self._early.clear()
        if entries:
            await self._link.call(self._link.queue.acknowledge, entries, fps)

    async def _reap(self) -> None:
        while not self._back.is_set():
            still_cancelled()
            # A plain sleep: asyncio.timeout around an event can lose the cancel of an
            # interrupted run in Python 3.11 (the run then aborted after 10 s).
            await asyncio.sleep(_REAP_EVERY)
            await self._link.call(self._link.queue.reap)
            # (in corral status, beside the workers: a job whose coordinator is gone shows it)
            figures = {"recorded": self._recorded, "waiting": len(self._out)}
            await self._link.call(self._link.queue.heartbeat, "coordinator", figures)
            await self._hint_if_nobody_works()

    async def _hint_if_nobody_works(self) -> None:
        """Say once, when URLs wait and no worker has ever shown up, how to start one."""
        if self._hinted or not self._waiting() or self._recorded:
            return
        status = await self._link.call(self._link.queue.status)
        if any(name != "coordinator" for name, _, _ in status.workers) or status.done:
            self._hinted = True  # somebody works (or did): no hint, now or later
            return
        self._hinted = True
        queue = self._link.queue
        print(
            f"corral: no worker has joined job {queue.job} yet; start one (here or on any "
            f"machine): {worker_command(queue.url, queue.job)}",
            file=sys.stderr,
        )

    def _waiting(self) -> bool:
        """Return whether URLs wait for a worker (a crawl's driver reads Redis's count)."""
        return bool(self._out)

    async def _add_again(self) -> None:
        """After a reconnection: the job's settings and every outstanding flight again (a
        Redis restarted without its data, or with the last second of it lost, forgot them)."""
        await self._link.call(self._link.queue.configure, self._settings)
        flights = list(self._out.values())
        for start in range(0, len(flights), 1000):
            await self._link.call(self._link.queue.add, _tasks(flights[start : start + 1000]))
        if flights:
            print(
                f"corral: Redis is back; the job's settings and its "
                f"{human_many(len(flights), 'URL')} not "
                "yet recorded handed to it again",
                file=sys.stderr,
            )


def _tasks(flights: Sequence[Flight]) -> list[tuple[int, str, str, str, str | None]]:
    tasks = []
    for flight in flights:
        request = flight.request
        assert request is not None
        assert isinstance(flight.ident, int)
        tasks.append((flight.ident, request.key, request.url, request.host, task_request(request)))
    return tasks


def _same(flight: Flight, outcome: Outcome) -> bool:
    """Return whether ``outcome`` is the record of ``flight``'s URL (its key's fingerprint;
    a record without one, from an older worker, is taken)."""
    from corral.http.scale._queue import fingerprint

    request = flight.request
    return not outcome.fp or request is None or outcome.fp == fingerprint(request.key)


def _count_attempts(counters: RunCounters, outcome: Outcome) -> None:
    """Count what the workers did for this record (attempts, bytes, latency)."""
    result = outcome.result
    records, ok = counters.by_worker.get(outcome.worker, (0, 0))
    counters.by_worker[outcome.worker] = (records + 1, ok + bool(result.ok))
    counters.retries += max(0, result.attempts - 1)
    counters.bytes += result.bytes
    if result.attempts:
        counters.latency.add(result.elapsed_ms / 1000.0 / result.attempts)
