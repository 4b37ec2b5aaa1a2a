"""The crawl's claimer: leases pending rows from the store, fairly across hosts.

It leases a few rows at a time from each host that has room, round-robin, so one big host
cannot starve the others; within a host the store hands out the lowest depth first
(breadth first). Each leased row becomes a flight (or, refused by robots.txt, a flight with
its record preset; or, its robots.txt not answering, it waits in the ``RobotsHold``);
``--max-pages`` counts the pages sent to fetch, this run's and earlier.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from corral.http.crawler._book import FrontierBook
from corral.http.crawler._config import CrawlConfig
from corral.http.crawler._robotsgate import RobotsGate
from corral.http.crawler._robotshold import RobotsHold
from corral.http.engine._flight import Flight
from corral.http.engine._politeness import Politeness
from corral.http.pipeline._flights import flight_of_row, refused_flight
from corral.http.store._frontier import Frontier, PendingRow


class Claimer:
    """The crawl's source of flights: claimed rows, as the engine takes them."""

    def __init__(
        self,
        book: FrontierBook,
        store: Frontier,
        gate: RobotsGate,
        politeness: Politeness,
        config: CrawlConfig,
        *,
        started: int,
    ) -> None:
        self._book = book
        self._store = store
        self.gate = gate
        self._politeness = politeness
        self._config = config
        self.claimed: deque[PendingRow] = deque()  # leased, not yet handed to the engine
        self._started = started  # pages sent to fetch (this run and earlier ones): max_pages
        self.waits = False  # the claimer waits for room on a host or for new links
        self.hungry = False  # ... and has nothing to claim at all: only a commit can help
        # commits what the job's writer holds (set by the crawl once its writer exists)
        self.flush: Callable[[], Awaitable[None]] = _nothing
        self.hold = RobotsHold(config.robots_backoff, book.notify)

    async def flights(self) -> AsyncIterator[Flight]:
        """Yield a flight per claimed row until nothing is pending or in flight (or the
        ``--max-pages`` bound is reached)."""
        book, buffer = self._book, self.claimed
        while not self.limit_reached():
            if not buffer:
                buffer.extend(self.hold.due())
                buffer.extend(await self._claim_round())
                if buffer:
                    continue
                pending = any(book.pending.values())
                if not (book.active or book.parked or pending or self.hold.waiting()):
                    return
                await self._wait_for_work(hungry=not pending)
                continue
            flight = await self._flight(buffer[0])
            buffer.popleft()
            if flight is None:  # held: its host's robots.txt did not answer
                continue
            book.active += 1
            if flight.preset is None:
                self._started += 1
            yield flight

    def limit_reached(self) -> bool:
        """Return whether ``--max-pages`` pages were sent to fetch."""
        return self._config.max_pages is not None and self._started >= self._config.max_pages

    async def skip_rest(self) -> None:
        """Record every row not fetched as skipped for ``max_pages``."""
        left = await self._store.skip_rest("max_pages")
        self._book.note_skips("max_pages", left)
        self._book.clear_pending()
        self.claimed.clear()  # (leased by this run: skip_rest recorded them)

    def slot_freed(self, flight: Flight) -> None:
        """Wake the claimer when the host of a finished flight runs short of queued work.

        The claimer keeps about two windows of a host's rows queued; waiting for the next
        batch commit (0.1 to 0.2 s) to top them up left a fast host's slots idle (issue 13:
        16 rows a commit, a default crawl of one site at 77 to 260 pages/s where
        --per-host 100 gave 1,400).
        """
        state = flight.host
        if (
            state is not None
            and 2 * state.queued <= self._room()
            and self._book.pending.get(state.name)
        ):
            self._book.notify()

    async def _wait_for_work(self, *, hungry: bool) -> None:
        """Wait until a host with pending rows has room again, or a batch commits.

        Hungry (nothing pending anywhere), the page writer commits each page as it comes,
        so a link found on it is claimable at once (a "next page" chain: issue 13). Pages the
        writer took while the claimer was still claiming (not hungry yet) are committed now:
        left for the writer's timer, a chain stalled 0.1 s at each such page (forever in a
        test that sets the timer to an hour, once in three runs).
        """
        notice = self._book.next_notice()  # (the flush's own commit sets it)
        self.waits, self.hungry = True, hungry
        try:
            if hungry:
                await self.flush()
            await notice.wait()
        finally:
            self.waits = self.hungry = False

    def _room(self) -> int:
        """Return how many of a host's rows the claimer keeps queued (leased, not started).

        Two windows of the host (2 x per-host), or, with few hosts, their share of the
        concurrency: one host at --per-host 8 is then topped up 100 rows at a time, not 16
        (a claim is a store transaction in a thread), while many hosts still share the
        engine's queues fairly.
        """
        fetch = self._config.fetch
        return max(2 * fetch.per_host, fetch.concurrency // max(1, len(self._book.rotation)))

    async def _claim_round(self) -> list[PendingRow]:
        pending, rotation = self._book.pending, self._book.rotation
        room = self._room()
        claimed: list[PendingRow] = []
        for _ in range(len(rotation)):
            host = rotation[0]
            rotation.rotate(-1)
            if not pending[host]:
                rotation.remove(host)
                del pending[host]
                continue
            if self.hold.blocks(host):  # robots.txt unreachable: not now, or not this run
                if self.hold.gave_up(host):
                    self.hold.leave(host, pending[host])
                    pending[host] = 0
                continue
            if self._politeness.host(host).queued >= room:
                continue
            rows = await self._store.claim(host, room)
            pending[host] = max(0, pending[host] - len(rows)) if rows else 0
            claimed.extend(rows)
            if len(claimed) >= self._config.fetch.concurrency:
                break
        return claimed

    async def _flight(self, row: PendingRow) -> Flight | None:
        """Return the row's flight (refused by robots.txt, maybe), or None: held."""
        if self._config.obey_robots:
            if self.hold.keep(row):
                return None
            policy = await self.gate.policy(row.url)
            if policy.verdict == "disallow_all":  # unreachable: not a refusal (_robotshold)
                self.hold.failed(row, policy.reason or "no answer", policy.max_age)
                return None
            self.hold.cleared(row.host)
            if not self.gate.allows(policy, row.url):
                return refused_flight(row, "disallowed by robots.txt")
        return flight_of_row(row)


async def _nothing() -> None:
    return None
