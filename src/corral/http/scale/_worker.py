"""The worker: claim URLs of a job from Redis, fetch them with the local engine, commit.

One process, one ``Runtime`` (session, engine) with the job's ``FetchConfig``, making one
attempt per lease: a retryable outcome goes back to the job's queue (``_retrying``), so a
retry is paced by the job like a first try. Beside the engine run: a committer (as soon as
a record is in, one commit at a time, each fenced by its lease token), a renewer (every
lease_ms/3, all leases in flight), and a keeper (heartbeat and the job's state every
second, reap every ``REAP_EVERY`` s). Each commit claims for the worker in the same step
and a crawl's page frees its host's slot when its request ends (``_claiming``: one site was
latency-bound); a worker with nothing due waits for its commit's claim, or in
``wait_for_work`` (a BLPOP) until the next host is due or something wakes it; it never
polls. Politeness across workers is the claim's (Redis's clock); the local engine keeps its
own too, and hands the job the pace it sets for a host (Retry-After, the adaptive slow-down).
With ``--cookies``, a host's jar is read from the job after each claim when another worker
changed it, and written back before the commit of the records whose responses changed it
(``_sharedjars``).

Redis unreachable: one line on stderr, a pause of ``RETRY_EVERY`` s, again, until it
answers; the work in flight goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import IO, TypeVar

from corral import open_scope, to_thread
from corral.http.engine._config import FetchConfig
from corral.http.engine._flight import Flight
from corral.http.engine._result import FetchResult
from corral.http.engine._runtime import Runtime, count
from corral.http.scale._child import After
from corral.http.scale._claimed import Committed
from corral.http.scale._claiming import REAP_EVERY, Admit, Claiming
from corral.http.scale._joining import RETRY_EVERY
from corral.http.scale._link import Link
from corral.http.scale._queue import JobQueue, Task
from corral.http.scale._redis import masked
from corral.http.scale._retrying import retry_wait

COMMIT_EVERY = 0.05
GATHER = 0.005  # seconds a commit waits for more records once one is in
HEARTBEAT_EVERY = 1.0
PACE_EVERY = 0.2  # seconds between two looks for hosts this worker slowed down
T = TypeVar("T")
Commit = Callable[..., Awaitable[Committed]]  # (as JobQueue.commit_and_claim)


class Worker(Claiming):
    """One worker's state: its leases in flight, the results to commit, its figures."""

    def __init__(self, queue: JobQueue, config: FetchConfig, name: str) -> None:
        # room for claims: see Claiming.room; claims of one URL cost Redis most
        limit = config.concurrency + max(1, config.concurrency // 4)
        super().__init__(limit, max(1, config.concurrency // 8))
        self.queue, self.config, self.name = queue, config, name
        self.held: dict[str, Task] = {}  # lease token -> task, claimed and not committed
        self.unfinished = 0  # of those, the ones the engine has not made a record of yet
        self.fetched: list[str] = []  # of those, tokens whose request is over (slot to free)
        self.pending: list[tuple[str, FetchResult, object]] = []
        self.retrying: list[tuple[str, float]] = []  # (token, wait): back to the job's queue
        self._due = asyncio.Event()  # something to commit
        self._rng = random.Random()
        self.stopping = asyncio.Event()  # no more claims
        self.exit_code = 0
        self.lease_ms = 30000
        self.stale = 0
        self._room = asyncio.Event()
        self._link = Link(queue, who="corral worker", retry=RETRY_EVERY)
        self._paces: dict[str, tuple[float, float]] = {}  # host -> (cool-down, gap) shared
        self._pace_due = 0.0
        self._said_gone = False
        self.epoch: str | None = None  # the job's, as it joined (a job started afresh: another)
        self.replaced = False  # the job was started afresh: join it again (run_worker)
        self.give_up_after: float | None = None
        self._ending = asyncio.Event()  # the engine's run is over: the loops beside it end
        self._runtime: Runtime | None = None
        self.after: After | None = None  # a crawl job's page examination (run_worker)
        self._jars = queue.jars() if config.cookies else None  # the job's, in Redis
        self.admit: Admit | None = None  # a crawl over Redis: what to fetch of the claims
        self.commit: Commit | None = None  # ... and its commit, which takes links too

    def stop(self, exit_code: int = 0) -> None:
        """Claim no more; the work in flight ends and is committed."""
        if self.replaced:  # (stopping to join the job again: a stop asked for ends it)
            self.replaced, self.exit_code = False, exit_code
        if not self.stopping.is_set():
            self.exit_code = exit_code
            self.stopping.set()
            self._room.set()
            if self.give_up_after is not None:
                asyncio.get_running_loop().call_later(self.give_up_after, self._give_up)

    def _give_up(self) -> None:
        """End the process of a worker whose stop takes too long (a safety net: what it did
        not commit is fenced, and its leases expire for other workers to take)."""
        _say(
            f"corral worker: still stopping {self.give_up_after:g} s after the stop: ending; "
            "what was not committed goes to other workers when its leases expire"
        )
        os._exit(self.exit_code or 1)

    async def run(self, stop: asyncio.Event | None, lifeline: IO[str] | None = None) -> int:
        """Work until the job is finished or a stop; return the exit code."""
        settings = await self.call(self.queue.settings) or {}
        self.lease_ms = int(settings.get("lease_ms", self.lease_ms))
        if self.epoch is None:  # (run_worker gives the one of the settings it joined with)
            self.epoch = settings.get("epoch", "")
        # every step on Redis is fenced by it: a job started afresh since answers so at once
        self.queue.epoch, self.queue.on_replaced = self.epoch, self._fenced
        # One attempt per lease: a retry goes back through the job's queue (see _retrying).
        after = self.after
        keep_body = after.keep_body if after is not None else False
        config = replace(self.config, retries=0)
        async with Runtime(config, keep_body=keep_body) as runtime, open_scope() as scope:
            self._runtime = runtime
            if after is not None:
                after.start(runtime)
            # The tasks that talk to Redis end by themselves (``_ending``): never cancelled
            # mid-call, and no cancellation for Python 3.11's timeouts to lose (a worker
            # whose committer had swallowed one never ended).
            for loop in (self._commit_often, self._renew, self._keep):
                await scope.spawn(loop)
            watchers = []
            if stop is not None:
                watchers.append(await scope.spawn(self._stop_on, stop))
            if lifeline is not None:
                watchers.append(await scope.spawn(self._stop_at_end_of, lifeline))
            try:
                await runtime.engine.drive(self._claims(), runtime.counters, self._sink)
            finally:
                await self.stop_listening()  # (its blocked pop on Redis, if one is left)
            self._ending.set()
            self._due.set()
            for task in watchers:  # (they wait on an event or a pipe: safe to cancel)
                task.cancel()
            if after is not None:
                await after.close()
        await self._flush()
        return self.exit_code

    async def call(self, step: Callable[..., Awaitable[T]], *args: object) -> T:
        """Run one step on Redis, waiting out an outage (one line on stderr per outage)."""
        return await self._link.call(step, *args)

    async def _sink(self, flight: Flight, record: FetchResult) -> None:
        token = flight.ident
        assert isinstance(token, str)
        assert self._runtime is not None
        if self.after is not None and flight.preset is None:  # (examined next: slow)
            self.fetched.append(token)  # its host's slot is freed with the next commit
            self._due.set()
        task = self.held.get(token)
        attempts = (task.attempts if task is not None else 0) + record.attempts
        wait = retry_wait(self.config, record, attempts, self._rng)
        if wait is not None:
            self._runtime.counters.retries += 1
            self.retrying.append((token, wait))
        else:
            if attempts != record.attempts:
                record = replace(record, attempts=attempts)
            extra = None
            if self.after is not None:  # a crawl's page: examined here (links, callback)
                record, extra = await self.after.examine(flight, record)
            counters, kind = self._runtime.counters, record.error_kind
            if kind == "robots" or (kind == "max_pages" and not record.attempts):
                counters.by_skip[kind] += 1  # a crawl's page refused unfetched: a skip
            else:  # (as the one process counts them: crawler._book)
                count(counters, record)
            self.pending.append((token, record, extra))
        self._due.set()
        self.unfinished -= 1
        if self._limit - self.unfinished >= self._least:
            self._room.set()

    async def _share_pace(self) -> None:
        """Hand the job the pace this worker's engine set for its hosts (a Retry-After, the
        adaptive slow-down after 429/503 answers, on any attempt, retries included), so that
        every worker keeps to it: the claim script starts nothing on a host before then."""
        assert self._runtime is not None
        now = asyncio.get_running_loop().time()
        if now < self._pace_due:
            return
        self._pace_due = now + PACE_EVERY  # (a look over every host: not at each commit)
        for name, state in list(self._runtime.politeness.hosts.items()):
            wait = max(0.0, state.cooldown_until - now)
            gap = state.interval if state.interval > state.base_interval else 0.0
            shared = self._paces.get(name)
            if shared == (round(state.cooldown_until, 3), gap):
                continue
            if shared is None and wait == 0 and gap == 0:
                continue  # never slowed: nothing to tell
            self._paces[name] = (round(state.cooldown_until, 3), gap)
            await self.call(self.queue.throttle, name, wait, gap)

    async def _read_cookies(self, tasks: list[Task]) -> None:
        """Bring the jars of the claimed tasks' hosts up to date with the job's."""
        cookies = self._runtime.cookies if self._runtime is not None else None
        if self._jars is not None and cookies is not None:
            await self.call(self._jars.refresh, cookies, [task.host for task in tasks])

    async def _write_cookies(self) -> None:
        """Write to the job the jars that responses changed here (before their records'
        commit: a record in the store never has cookies the job has not)."""
        cookies = self._runtime.cookies if self._runtime is not None else None
        if self._jars is None or cookies is None or not cookies.changed:
            return
        changed = cookies.take_changed()
        try:
            await self.call(self._jars.write, changed)
        except BaseException:  # (cancelled: written with the next flush)
            cookies.changed.update(changed)
            raise

    async def _flush(self) -> None:
        """Commit the records made, free the slots of requests over and claim with it, and
        hand back the URLs to retry, each one step on Redis."""
        await self._share_pace()
        await self._write_cookies()
        done, self.pending = self.pending, []
        again, self.retrying = self.retrying, []
        fetched, self.fetched = self.fetched, []
        ending = {token for token, _, _ in done}.union(token for token, _ in again)
        free = [token for token in fetched if token not in ending]
        ask = self.room() if done or free else 0
        self.asking(ask)
        try:
            if done or free:
                commit = self.commit or self.queue.commit_and_claim
                proxies = self.proxies()
                step = partial(commit, fetched=free, claim=ask)
                committed = await self.call(step, self.name, done, proxies)
                self.stale += committed.stale
                self.hand_in(committed.claimed)
            if again:
                _, stale = await self.call(self.queue.retry, self.name, again)
                self.stale += stale
        except BaseException:  # cancelled: committed again at the end (stale if it was)
            self.pending[:0] = done
            self.retrying[:0] = again
            self.fetched[:0] = fetched
            raise
        finally:
            self.asking(-ask)
        for token in [token for token, _, _ in done] + [token for token, _ in again]:
            self.held.pop(token, None)
        if done or again:
            self._room.set()

    async def _commit_often(self) -> None:
        """Commit as soon as there is something to, one commit at a time: what comes in
        meanwhile goes in the next (a host's slot is free again only once its request's end
        is committed, so waiting to fill a batch would slow the hosts down), and look at the
        hosts' pace at least every ``COMMIT_EVERY``. A fetch job's worker that waits for
        work does not gather (measured faster on one site); a crawl's does: without it, a
        commit every page and a half, and the worker's CPU, examining pages, bounds it."""
        while not self._ending.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(COMMIT_EVERY):
                    await self._due.wait()
            # (a fetch job's worker waiting for work commits at once: the commit brings the
            # freed slots' next URLs; a crawl's gathers anyway, its CPU bounds it)
            if not self._ending.is_set() and not (self.idling and self.after is None):
                await asyncio.sleep(GATHER)  # what else comes in meanwhile goes in this commit
            self._due.clear()
            await self._flush()

    async def _renew(self) -> None:
        while not await self._pause(self.lease_ms / 3000):
            await self.call(self.queue.renew, self.name, list(self.held))

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``; return True at once if the worker is ending meanwhile."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._ending.wait()
        return self._ending.is_set()

    async def _keep(self) -> None:
        """Heartbeat, and the job's state, every second; reap every few seconds."""
        beats = 0
        while not self._ending.is_set():
            await self.call(self.queue.heartbeat, self.name, self.figures(), self.proxies())
            settings = await self.call(self.queue.settings)
            if settings is None:
                self._gone()
            elif settings.get("epoch", "") != self.epoch and not self.replaced:
                self._started_afresh()
            elif settings.get("state") != "running":
                self.stop(self.exit_code)  # finished: the work in flight ends
            if beats % round(REAP_EVERY / HEARTBEAT_EVERY) == 0:
                await self.call(self.queue.reap)
            beats += 1
            await self._pause(HEARTBEAT_EVERY)

    def _fenced(self) -> None:
        """A step on Redis was fenced: the job was started afresh since this worker joined
        it (its heartbeat would see the new epoch within a second): as then."""
        self._started_afresh()

    def _started_afresh(self) -> None:
        """The job was started afresh (another store's run, ``--overwrite``): what this worker
        holds is the old job's (its commits are dropped as stale); stop, and join again
        (not a worker stopping already: a stop asked for, or the job finished, ends it)."""
        if self.replaced or self.stopping.is_set():
            return
        self.replaced = True
        _say(f"corral worker: job {self.queue.job} was started afresh: joining it again")
        self.stopping.set()  # (as ``stop``, with no deadline: the process goes on)
        self._room.set()

    def _gone(self) -> None:
        """The job vanished from Redis mid-run (restarted without its data): its coordinator
        gives it back on reconnecting; meanwhile the work in flight goes on."""
        if not self._said_gone:
            self._said_gone = True
            _say(
                f"corral worker: job {self.queue.job} is gone from {masked(self.queue.url)} "
                "(restarted without its data?): waiting for its coordinator to hand it back"
            )

    async def _stop_at_end_of(self, lifeline: IO[str]) -> None:
        await to_thread(lifeline.read)  # (returns at the end of the pipe: nothing is sent)
        self.stop(0)

    async def _stop_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.stop(0)

    def figures(self) -> dict[str, int]:
        """Return what ``corral status`` shows of this worker."""
        assert self._runtime is not None
        counters = self._runtime.counters
        fetched, ok, skipped = counters.done, counters.ok, sum(counters.by_skip.values())
        figures = {"fetched": fetched, "ok": ok, "failed": fetched - ok}
        figures["in_flight"] = len(self.held)
        return {**figures, "skipped": skipped} if skipped else figures

    def proxies(self) -> dict[str, tuple[int, int, int]] | None:
        """Return this worker's per-proxy counts so far (None without proxies)."""
        assert self._runtime is not None
        pool = self._runtime.proxies
        return pool.figures() if pool is not None else None


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
