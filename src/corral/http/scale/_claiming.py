"""The worker's claims: its own, and those its commits make for it, and its waits between.

One site over Redis was latency-bound (docs/design.md, "One job over machines"): a host's
slot, freed by a commit, waited for a wake-up from Redis and a claim of its own (two round
trips and a wait on the loop) before its next URL started. Now a commit claims for its
worker in the same step (``JobQueue.commit_and_claim``, up to the worker's share of a host's
slots), and hands the tasks to ``_claims`` through an event at once; a crawl's slot is freed
as its request ends (``fetched``), not once its page is examined and committed. The worker
claims by itself only when a claim may find work: at the start, when room opens, and when
woken (by Redis: another worker's commit or an add; by its own commit; by the next host due).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from corral.http.engine._flight import Flight
from corral.http.scale._claimed import Claimed
from corral.http.scale._queue import ENDED, JobQueue, Task
from corral.http.scale._wire import request_of_task

CLAIM_BATCH = 100
SHORT_WAIT = 0.3  # seconds: a wait shorter is a timer here, not a blocked pop on Redis
REAP_EVERY = 5.0
T = TypeVar("T")
Admit = Callable[[list[Task], bool], Awaitable[tuple[list[Flight], list[tuple[str, float]]]]]


@dataclass(frozen=True, slots=True)
class ClaimStatistics:
    """How a worker's claims went (``Worker.statistics``)."""

    claims: int  # claims of its own
    empty: int  # of those, the ones that found nothing
    handed: int  # claims its commits made for it that leased something
    waits: int  # waits for work (on Redis's wake-up, its own commit, or a timer)


class Claiming:
    """The claiming half of ``Worker`` (see the module notes)."""

    queue: JobQueue
    stopping: asyncio.Event
    held: dict[str, Task]
    unfinished: int
    retrying: list[tuple[str, float]]
    admit: Admit | None
    _room: asyncio.Event
    _due: asyncio.Event
    name: str
    exit_code: int

    def __init__(self, limit: int, least: int) -> None:
        self._limit, self._least = limit, least  # (see _claims)
        self._handed: list[Claimed] = []  # claimed by this worker's commits, to start
        self._handed_in = asyncio.Event()  # (and when a commit's claim came back)
        self._asking = 0  # URLs asked for by claims on their way (room they hold)
        self.idling = False  # waiting for work (a fetch job's commit then goes at once)
        self._listening: asyncio.Future[None] | None = None  # a blocked pop on ``wake``
        self._claims_made = self._empty = self._handed_count = self._waits = 0

    def stop(self, exit_code: int = 0) -> None:
        raise NotImplementedError

    async def call(self, step: Callable[..., Awaitable[T]], *args: object) -> T:
        raise NotImplementedError

    async def _read_cookies(self, tasks: list[Task]) -> None:
        raise NotImplementedError

    def claim_statistics(self) -> ClaimStatistics:
        """Return how this worker's claims went."""
        counts = (self._claims_made, self._empty, self._handed_count, self._waits)
        return ClaimStatistics(*counts)

    def room(self) -> int:
        """Return how many URLs a claim may ask for now (0: none).

        Room: ``concurrency`` and a quarter more waiting in the engine, so that a request
        that ends starts the next at once (else its engine worker parked until a claim woke
        it: a park and a wake a URL), counted until the record is made, not committed (as
        in one process, the fetching does not wait for the commits); leases < 2 x that."""
        if self.stopping.is_set():
            return 0
        busy = self.unfinished + self._asking
        free = self._limit - busy
        if (
            free <= 0
            or (free < self._least and busy)
            or len(self.held) + self._asking >= 2 * self._limit
        ):
            return 0
        return min(free, CLAIM_BATCH)

    def asking(self, n: int) -> None:
        """Note ``n`` URLs asked for (negative: the claim came back)."""
        self._asking += n
        if n < 0 and self.stopping.is_set():  # (_claims waits for it to end)
            self._handed_in.set()

    def hand_in(self, claimed: Claimed) -> None:
        """Take the tasks a commit claimed for this worker; ``_claims`` starts them."""
        if claimed.tasks:
            self._receive(claimed.tasks)
            self._handed.append(claimed)
            self._handed_count += 1
            self._handed_in.set()
            self._room.set()
        elif claimed.wait == ENDED:
            self.stop(self.exit_code)

    def _receive(self, tasks: list[Task]) -> None:
        self.held.update((task.token, task) for task in tasks)
        self.unfinished += len(tasks)

    async def _claims(self) -> AsyncIterator[list[Flight]]:
        """Yield the flights of claimed tasks while there is room, until stopping (then
        those of claims already on their way)."""
        last: Claimed | None = None  # the last answer, when it says to wait before claiming
        while True:
            if self._handed:
                claimed = self._handed.pop(0)
            elif self.stopping.is_set():
                if not self._asking:
                    return
                self._handed_in.clear()
                await self._handed_in.wait()  # a commit's claim on its way: its tasks are ours
                continue
            elif last is not None:
                wait, last = last.wait, None
                if wait == ENDED:  # (woken by the finish: no need to wait for the keeper's look)
                    self.stop(self.exit_code)
                else:
                    await self._idle(wait)
                continue
            else:
                ask = self.room()
                if not ask:
                    self._room.clear()
                    await self._room.wait()
                    continue
                claimed = await self._claim(ask)
            if claimed.wait != 0:  # nothing more due now: wait before the next claim
                last = claimed
            if claimed.tasks:
                yield await self._start(claimed)

    async def _claim(self, ask: int) -> Claimed:
        self.asking(ask)
        try:
            claimed: Claimed = await self.call(self.queue.claim_tasks, self.name, ask)
        finally:
            self.asking(-ask)
        self._claims_made += 1
        self._empty += not claimed.tasks
        self._receive(claimed.tasks)
        return claimed

    async def _start(self, claimed: Claimed) -> list[Flight]:
        tasks = claimed.tasks
        await self._read_cookies(tasks)
        if self.admit is None:
            return [_flight(task) for task in tasks]
        flights, again = await self.admit(tasks, claimed.budget)
        if again:
            self.retrying.extend(again)  # (robots.txt not answering yet)
            self._due.set()
        return flights

    async def _idle(self, wait: float | None) -> None:
        """Wait until work may be due: tasks a commit of this worker claimed, a wake-up from
        Redis (another worker's commit, an add, a reap), the next host due, a stop, or the
        next reap. The blocked pop on Redis is not cancelled when something else comes
        first (that would cost a new connection): the next wait takes it over."""
        if self._handed:
            return
        self._waits += 1
        seconds = REAP_EVERY if wait is None else min(wait, REAP_EVERY)
        listening = self._listening
        if (listening is None or listening.done()) and seconds >= SHORT_WAIT:
            # Redis checks a blocked pop's timeout ten times a second: a host due in 50 ms
            # would be claimed 100 ms on (halving a --rate 20/s), so short waits are timed here.
            listening = asyncio.ensure_future(self.call(self.queue.wait_for_work, seconds))
            self._listening = listening
        self._handed_in.clear()
        local = {asyncio.ensure_future(event.wait()) for event in (self._handed_in, self.stopping)}
        waits = local | ({listening} if listening is not None else set())
        self.idling = True
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.idling = False
            for future in local:
                future.cancel()
            await asyncio.wait(local)
        if listening is not None and listening.done():
            self._listening = None
            listening.result()

    async def stop_listening(self) -> None:
        """End the blocked pop on Redis, if one is left (the worker ends)."""
        listening, self._listening = self._listening, None
        if listening is not None:
            listening.cancel()
            await asyncio.wait({listening})


def _flight(task: Task) -> Flight:
    return Flight(request_of_task(task.url, task.host, task.request), task.token)
