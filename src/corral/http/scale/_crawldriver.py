"""The coordinator of a crawl whose frontier and seen set live in Redis (issue 15).

Workers claim the crawl's URLs from the job's queue, fetch and examine the pages, and
commit each page with its links in one step: Redis keeps the links new to the crawl and
queues them (``_crawlqueue``). The coordinator hands Redis the store's URLs not yet recorded
(the seeds, or what an earlier run left), then drains the records into the store:

- each record's new links go into the store first (each with its id, made from its
  fingerprint, so a record that comes later finds its row), then the record is handed to
  the crawl's sink;
- a record whose row is recorded already (a coordinator killed between its store's commit
  and the acknowledgement), or not in the store at all, is acknowledged and dropped: one
  record per URL;
- as a job starts (or finds Redis without its data), the URLs the store has recorded go
  into the seen set, so that a crawl resumed on a store an earlier run filled (a bigger
  ``--max-pages``, ``--refresh``) does not fetch them again when pages link to them;
- the crawl is over when Redis has no URL queued or leased and no record the coordinator
  has not read; the store's rows still not recorded then (a Redis restarted without its
  last writes forgot them) are handed to Redis again, and the crawl goes on until none is.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence

from corral import open_scope
from corral.http.engine._engine import Sink
from corral.http.engine._flight import Flight
from corral.http.engine._request import Request
from corral.http.report._heldback import HELD_PREFIX, HeldHosts
from corral.http.report._human import human_many
from corral.http.report._stats import RunCounters
from corral.http.scale._coordinator import _GATHER, _READ, RedisDriver, _count_attempts, _tasks
from corral.http.scale._crawlqueue import CrawlQueue, new_links
from corral.http.scale._link import still_cancelled
from corral.http.scale._queue import Outcome, fingerprint
from corral.http.store._frontier import LinkRow
from corral.http.web._urls import host_key, parse

_BLOCK_MS = 200  # how long one read waits for records (then the crawl's state is read)
_ADD = 1000  # URLs handed to Redis at a time

# The store's side: rows of links by id, which ids are not recorded yet (with their keys),
# the rows not recorded (or, with True, recorded), as flights, page by page.
AddLinks = Callable[[list[LinkRow]], Awaitable[None]]
Undone = Callable[[Sequence[int]], Awaitable[dict[int, str]]]
Leftovers = Callable[[bool], AsyncIterator[list[Flight]]]


class RedisCrawlDriver(RedisDriver):
    """Drive a crawl whose frontier is in Redis (see the module notes); ``configure`` it
    with the store's side before ``drive``."""

    add_links: AddLinks
    undone: Undone
    leftovers: Leftovers
    started = 0  # pages fetched by earlier runs (--max-pages counts them)
    _queued = 0  # URLs queued or leased in Redis, as last read
    _warned = False  # (a worker of an older corral: said once)
    held: HeldHosts  # the hosts whose robots.txt did not answer: left for the next run

    def configure_store(
        self, add_links: AddLinks, undone: Undone, leftovers: Leftovers, started: int
    ) -> None:
        """Give the driver the store's side."""
        self.add_links, self.undone, self.leftovers = add_links, undone, leftovers
        self.started = started
        self._crawl = CrawlQueue(self._link.queue)
        self.held = HeldHosts()

    async def drive(
        self,
        source: AsyncIterable[Flight] | AsyncIterable[list[Flight]],
        counters: RunCounters,
        sink: Sink,
    ) -> None:
        """Hand Redis the store's rows not recorded, then drain the crawl's records into
        ``sink`` until the crawl is over (``source`` is not used: the frontier is Redis's)."""
        self._back.clear()
        self._link.on_reconnect(self._add_again)
        async with open_scope() as scope:
            reaper = await scope.spawn(self._reap)
            try:
                await self._hand_back()
                await self._drain_crawl(counters, sink)
            finally:
                self._back.set()
                reaper.cancel()  # (asleep between reaps: a plain sleep takes a cancel)

    async def _add_again(self) -> None:
        """After a reconnection (Redis restarted: it may have lost its last writes), as at
        the start: ``_hand_back``; one line says so, as a fetch's coordinator does."""
        queued = await self._hand_back()
        handed = f"and its {human_many(queued, 'URL')} not yet recorded " if queued else ""
        lost = "" if queued else " (it had lost no URL)"
        print(
            f"corral: Redis is back; the job's settings {handed}handed to it again{lost}",
            file=sys.stderr,
        )

    async def _hand_back(self) -> int:
        """Write the job's settings and counters, and hand Redis the store's rows not
        recorded (adding is idempotent: Redis skips the URLs it has seen); return how
        many it queued."""
        call = self._link.call
        await call(self._link.queue.configure, self._settings)
        await call(self._crawl.at_least, "pages", self.started)
        if not await call(self._crawl.marked):  # (a store an earlier run filled)
            async for flights in self.leftovers(True):
                await call(self._crawl.see, [f.request.url for f in flights if f.request])
            await call(self._crawl.marked, True)
        queued = 0
        async for flights in self.leftovers(False):
            flights = [f for f in flights if f.ident not in self._entries]
            for start in range(0, len(flights), _ADD):
                chunk = flights[start : start + _ADD]
                queued += await call(self._link.queue.add, _tasks(chunk))
        return queued

    async def _drain_crawl(self, counters: RunCounters, sink: Sink) -> None:
        queue = self._link.queue
        while True:
            still_cancelled()
            outcomes = await self._link.call(queue.results, self._consumer, _READ, _BLOCK_MS)
            if outcomes:
                await self._take(outcomes, counters, sink)
            if len(outcomes) >= _READ // 4:
                continue
            figures = await self._link.call(self._crawl.figures)
            self._queued = figures.queued + figures.leased
            counters.in_flight = figures.leased
            counters.frontier = counters.queued = figures.queued + figures.leased
            if figures.hosts or figures.leased:
                await asyncio.sleep(_GATHER)  # let records gather: one read of many
                continue
            # nothing queued or leased: no record can come but those in the stream now
            late = await self._link.call(queue.results, self._consumer, _READ, 0)
            if late:
                await self._take(late, counters, sink)
            elif not await self._hand_back():  # (the store's rows left, if any)
                return

    def _waiting(self) -> bool:
        return self._queued > 0

    def _check_version(self, outcome: Outcome) -> None:
        """Drop the links a worker sent back with a page's record, saying so once: an older
        corral's way (this coordinator does not read them: they are Redis's to judge)."""
        extra = outcome.extra
        if not isinstance(extra, dict) or not (extra.get("f") or extra.get("s")):
            return
        extra["f"], extra["s"] = [], []
        if self._warned:
            return
        self._warned = True
        print(
            f"corral: worker {outcome.worker} runs an older corral: the links it finds are "
            "not followed; run this corral's version in every worker of the job",
            file=sys.stderr,
        )

    async def _take(self, outcomes: list[Outcome], counters: RunCounters, sink: Sink) -> None:
        """Store the new links of ``outcomes``, then hand each new record to ``sink``."""
        rows = [row for outcome in outcomes for row in new_links(outcome)]
        if rows:
            await self.add_links(rows)
        undone = await self.undone([outcome.ident for outcome in outcomes])
        dropped, foreign = [], []
        for outcome in outcomes:
            if outcome.proxies is not None:  # (its worker's counts so far: the latest)
                counters.worker_proxies[outcome.worker] = outcome.proxies
            key = undone.get(outcome.ident)
            if key is None or outcome.ident in self._entries:
                dropped.append(outcome.entry)  # recorded before, or twice: one record a URL
                continue
            if outcome.fp and outcome.fp != fingerprint(key):
                foreign.append(outcome)  # another URL's record: never the row's
                continue
            result, error = outcome.result, outcome.result.error or ""
            if result.error_kind == "robots" and error.startswith(HELD_PREFIX):
                # held back for the run: no record, the URL stays pending in the store
                reason = error[len(HELD_PREFIX) :]
                self.held.add(host_key(parse(result.url)), result.attempts, reason)
                dropped.append(outcome.entry)
                continue
            self._entries[outcome.ident] = outcome.entry, outcome.fp
            self._recorded += 1
            self._check_version(outcome)
            _count_attempts(counters, outcome)
            request = Request(url=result.url, host="", depth=result.depth, found_on=result.found_on)
            flight = Flight(request, outcome.ident)
            flight.remote = outcome.extra  # (the page examined by the worker)
            await sink(flight, result)
        if dropped:
            await self._link.call(self._link.queue.acknowledge, dropped)
        await self._drop(foreign)
