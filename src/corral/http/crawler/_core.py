"""The crawl itself, under the ``Crawler`` API and the ``corral crawl`` job: a frontier in
SQLite, the fetch engine, and parsing off the event loop.

Data flow::

    frontier (SQLite) --claims, fair across hosts--> engine (politeness, retries)
        --> parse workers (corral.to_thread; the parse callback) --> page writer
        --> one transaction per batch: results, links (new ones pending), items

It runs on the job pipeline (``corral.http.pipeline``): the claimer (``_claimer``) is the
source of flights, the page work (``_pages``) the sink, the bookkeeping (``_book``) the
counts and signals between them. The claimer leases a few rows at a time from each host that
has room, round-robin, so one big host cannot starve the others; within a host it takes the
lowest depth first (breadth first). The frontier and the seen set live on disk; in memory
there are only per-host counts, a bounded cache of recently seen URLs, and the pages in
flight. When the frontier passes ``frontier_bound``, fetched bodies are parked on disk
instead of parsed, so discovery slows and fetching does not; they are parsed once the
frontier has drained to half the bound.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from corral import to_thread
from corral._clock import LOOP_CLOCK, Clock
from corral.http.crawler._book import FrontierBook
from corral.http.crawler._callbackerror import ParseErrors
from corral.http.crawler._claimer import Claimer
from corral.http.crawler._config import CrawlConfig, Page, ParseCallback, crawl_rules
from corral.http.crawler._deathnote import DeathNote, open_note
from corral.http.crawler._linkrows import LinkRows
from corral.http.crawler._pages import PageExaminer, PageWork
from corral.http.crawler._robotsgate import RobotsGate
from corral.http.crawler._robotshold import held_back_note
from corral.http.crawler._sameness import crawl_identity, name_of
from corral.http.engine._engine import utc_now
from corral.http.engine._flight import Flight
from corral.http.engine._result import FetchResult
from corral.http.engine._runtime import Runtime
from corral.http.pipeline._drive import Driver, drive
from corral.http.pipeline._flights import flight_of_row, require_many
from corral.http.pipeline._writer import BatchWriter
from corral.http.report._heldback import HeldBack, HeldHosts
from corral.http.report._stats import FetchStatistics
from corral.http.report._summary import summary_fields
from corral.http.scale._coordinate import Coordination
from corral.http.scale._crawldriver import RedisCrawlDriver
from corral.http.scale._processes import ProcessDriver
from corral.http.store._crawlrows import Budget
from corral.http.store._frontier import Done, Frontier, LinkRow
from corral.http.store._sqlite import SQLiteFrontier
from corral.http.web._rules import CrawlRules

_CHILD = "corral.http.crawler._child"


def examine_settings(config: CrawlConfig, parse_spec: str | None) -> dict[str, Any]:
    """Return what a worker process needs to examine a crawl's pages as this one would."""
    return {
        "parse": parse_spec,
        "parse_types": list(config.parse_types),
        "follow_nofollow": config.follow_nofollow,
    }


def frontier_settings(config: CrawlConfig, seeds: Sequence[str]) -> dict[str, Any]:
    """Return what a worker needs, beside ``examine_settings``, to apply the crawl's rules."""
    rules = crawl_rules(config, seeds)
    return {
        "rules": {
            "seeds": list(rules.seeds),
            "kind": rules.kind,
            "include": list(rules.include),
            "exclude": list(rules.exclude),
            "max_depth": rules.max_depth,
            "traps": rules.traps,
        },
        "obey_robots": config.obey_robots,
        "robots_backoff": list(config.robots_backoff),
    }


class CrawlCore:
    """One crawl's parts: its runtime, store, rules, robots gate, claimer and bookkeeping."""

    def __init__(
        self,
        config: CrawlConfig,
        *,
        store: str | Path | None = None,
        parse: ParseCallback | None = None,
        clock: Clock | None = None,
        argv: Sequence[str] = (),
        workers: int = 1,
        parse_spec: str | None = None,
        coordination: Coordination | None = None,
    ) -> None:
        """``workers`` > 1: the pages are fetched and examined (parsed, the callback run)
        in that many worker processes; the callback then comes by name (``parse_spec``,
        ``module:function``), since each process imports it. ``coordination``: the
        ``corral worker`` processes of a job in Redis do it (``crawl --redis``)."""
        self.config = config
        self._store_path = store
        self._parse = parse
        self._parse_spec = parse_spec
        self._job_checked = False  # the store's crawl is this one (``_sameness``)
        self._clock = clock or LOOP_CLOCK
        self._argv = list(argv)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._store: Frontier | None = None
        self.runtime = Runtime(
            config.fetch, keep_body=self._keeps_body, clock=clock, output=str(store or "")
        )
        self._rules: CrawlRules | None = None
        self._started = 0  # pages earlier runs fetched (--max-pages counts them)
        self._claimer: Claimer | None = None
        self._book = FrontierBook(self.runtime.counters, config.frontier_bound)
        self.parse_errors = ParseErrors()
        self.status = "interrupted"
        if parse is not None:
            self.runtime.counters.items = 0
        self.driver: ProcessDriver | None = None
        self._note: DeathNote | None = None  # the pages under examination (one process)
        self.coordination = coordination
        if coordination is not None:
            coordination.keeper = self.runtime.keeper  # (its cookies go through Redis)
        if workers > 1 and coordination is None:
            settings = examine_settings(config, parse_spec)
            self.driver = ProcessDriver(
                config.fetch, workers, child=_CHILD, settings=settings, jars=self.runtime.cookies
            )
            self.driver.politeness = self.runtime.politeness  # (the claimer's room per host)

    @property
    def store(self) -> Frontier:
        """Return the open store.

        Raises:
            RuntimeError: the crawler is used outside ``async with open_crawler(...)``.
        """
        if self._store is None:
            raise RuntimeError("use the crawler inside 'async with open_crawler(...)'")
        return self._store

    async def open(self) -> Frontier:
        """Open the store (its opening reaps an earlier run's leases), then the session.

        Raises:
            StoreError: the store cannot be used.
        """
        path = self._store_path
        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="corral-crawl-")
            path = Path(self._tmp.name) / "crawl.db"
        # the command knows its seeds before it opens: a store of another crawl is refused
        # before this run is recorded; open_crawler's come with crawl() (``run`` checks)
        job = self._identity() if self._rules is not None else None
        self._job_checked = job is not None
        # (a bigger --max-pages than the pages fetched so far, a bigger --max-depth or
        # --no-trap-guards crawls what an earlier run's bounds left: those rows are pending
        # again; a smaller bound records the pending rows beyond it as skipped)
        config = self.config
        budget = Budget(config.max_pages, config.depth_bound, config.trap_guards)
        store = self._store = SQLiteFrontier(
            path, kind="crawl", refresh=self.config.refresh, job=job, budget=budget
        )
        await store.open(self._argv, utc_now())
        # what earlier runs did: "resumed N" (pages fetched; their skips said apart, issue
        # 12 item 8), and --max-pages bounds the whole crawl; pages queued again by
        # --refresh are this run's
        records, started = await store.earlier_records()
        records, started = records - store.refreshing, started - store.refreshing
        records -= store.revived  # (their skip records are replaced as they are fetched)
        records -= store.pruned.total()  # (this run's skips)
        counters = self.runtime.counters
        if self.config.refresh is not None and self.config.refresh.failed_only:
            counters.retried = store.refreshing  # --retry-failed
        else:
            counters.refreshed = store.refreshing
        counters.by_skip.update(store.pruned)
        counters.skipped = started
        self._started = started
        counters.skipped_before = records - started
        await self.runtime.open()
        gate = RobotsGate(self.runtime, self.config.fetch.user_agent, self._clock)
        if self.driver is not None:
            gate.also_interval = self.driver.set_interval
        elif self.coordination is not None:
            gate.also_interval = self.coordination.driver.set_interval
        self._claimer = Claimer(
            self._book, store, gate, self.runtime.politeness, self.config, started=started
        )
        if self.driver is None and self.coordination is None and self._tmp is None:
            who = self._parse_spec or name_of(self._parse) or "the link parser"
            self._note = await open_note(store, who)  # (a death examining a page: counted)
            self.parse_errors.process = "process"
        return store

    async def close(self, status: str, stats: FetchStatistics | None = None) -> None:
        """Close the runs still open and the session, then record the crawl's end.

        Raises:
            StoreError: the store failed as it recorded the end (deleted during the crawl).
        """
        await self.runtime.close()
        try:
            if self._note is not None:  # (before the store: its lock guards the note too)
                await to_thread(self._note.finish)
            if self._store is not None:
                summary = summary_fields(stats or self.statistics())
                if held := self.held_back():  # (why the crawl is not complete: the report's)
                    summary["held_back"] = {
                        h.host: {"urls": h.urls, "tries": h.tries, "reason": h.reason} for h in held
                    }
                await self._store.finish(status, utc_now(), summary)
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()

    def statistics(self) -> FetchStatistics:
        """Return a snapshot of the crawl so far (the frontier size included).

        The frontier is every URL discovered and not yet recorded: pending in the store,
        leased to this run (claimed, queued for a host, in flight, or fetched and not yet
        committed). Pending alone left out the leased ones and jumped at every claim.
        """
        claimer = self._claimer
        claimed = 0
        if claimer is not None:  # (the rows of hosts held back are left: not done either)
            claimed = len(claimer.claimed) + claimer.hold.rows() + claimer.hold.left()
        left = self._book.pending_total() + claimed + self._book.active
        counters = self.runtime.counters
        if self.coordination is None or not isinstance(self.coordination.driver, RedisCrawlDriver):
            counters.frontier = counters.queued = left  # (else Redis's: the driver sets it)
        stats = self.runtime.statistics()
        return stats if self.driver is None else self.driver.amend(stats)

    def _identity(self) -> dict[str, Any]:
        assert self._rules is not None
        return crawl_identity(self.config, self._rules.seeds, self._parse, self._parse_spec)

    def held_back(self) -> list[HeldBack]:
        """Return the hosts not crawled in this run: their robots.txt did not answer."""
        driver = None if self.coordination is None else self.coordination.driver
        if isinstance(driver, RedisCrawlDriver):  # (its workers read robots.txt)
            held: HeldHosts | None = getattr(driver, "held", None)  # (set as it starts)
            return [] if held is None else held.held_back()
        return self._claimer.hold.held_back() if self._claimer is not None else []

    def set_rules(self, seeds: Iterable[str]) -> None:
        """Build the crawl rules of ``seeds`` and the configuration.

        Raises:
            BadScope: a seed is not an http(s) URL, or a pattern does not compile.
            TypeError: ``seeds`` is one URL, not a list of them.
        """
        require_many(seeds, "a crawl takes a list of seed URLs", "pass [url] for one seed")
        self._rules = crawl_rules(self.config, seeds)

    async def run(self, deliver: Callable[[Page], Awaitable[None]] | None) -> None:
        """Crawl from the seeds to the end, handing each page to ``deliver``."""
        rules, store, claimer, book = self._rules, self.store, self._claimer, self._book
        assert rules is not None
        assert claimer is not None
        if not self._job_checked and isinstance(store, SQLiteFrontier):
            self.status = "refused"  # (not "interrupted": the next run is no resume of it)
            await store.check_job(self._identity())
            self._job_checked, self.status = True, "interrupted"
        links = LinkRows(rules)
        # earlier runs' pending rows, then the seeds (counted by their commit: before, a new
        # seed was counted twice)
        for host, n in (await store.pending_by_host()).items():
            book.add_pending(host, n)
        await self._add_seeds(rules, links)
        politeness = self.runtime.politeness
        examiner = PageExaminer(
            rules.parses,
            self._parse,
            follow_nofollow=self.config.follow_nofollow,
            failures=self.parse_errors,
            company=lambda: politeness.active > 0,
        )
        work = PageWork(examiner, links=links, book=book, store=store)
        work.note = self._note
        writer = BatchWriter(
            self._commit, concurrency=self.runtime.config.concurrency, hungry=lambda: claimer.hungry
        )
        claimer.flush = writer.flush

        async def sink(flight: Flight, result: FetchResult) -> None:
            if claimer.waits:
                claimer.slot_freed(flight)
            page, done = await work.process(flight, result)
            await writer.add(done)
            if page is not None and deliver is not None:
                await deliver(page)

        counters = self.runtime.counters
        driver: Driver = self.driver or self.runtime.engine
        if self.coordination is not None:
            driver = self.coordination.driver
            if isinstance(driver, RedisCrawlDriver):  # the frontier is Redis's
                assert isinstance(store, SQLiteFrontier)
                driver.configure_store(
                    self._add_links, store.undone, self._leftovers, self._started
                )
            assert isinstance(store, SQLiteFrontier)  # (the one store a job over Redis has)
            await self.coordination.start(store.identity)
        try:
            await drive(
                driver, claimer.flights(), counters, sink, writer, helpers=[work.unpark_loop]
            )
        finally:
            await examiner.close()
        if self.coordination is not None:
            self.coordination.held_back = held_back_note(self.held_back())
            self.coordination.complete = True
        if claimer.limit_reached():
            await claimer.skip_rest()
        self.status = "finished"

    async def _add_seeds(self, rules: CrawlRules, links: LinkRows) -> None:
        assert self._claimer is not None
        rows = links(rules.seeds, depth=0, found_on=None)
        if self.config.sitemaps:
            async for url, sitemap in self._claimer.gate.sitemap_urls(rules.seeds):
                rows.extend(links([url], depth=1, found_on=sitemap))
        self._book.note(await self.store.add_links(rows))

    async def _add_links(self, rows: list[LinkRow]) -> None:
        """Store the links new to a crawl over Redis (their ids are Redis's)."""
        committed = await self.store.add_links(rows)
        for reason, n in committed.skipped.items():
            self._book.note_skips(reason, n)

    async def _leftovers(self, done: bool) -> AsyncIterator[list[Flight]]:
        """Yield the flights of the rows not recorded yet (``done``: recorded), by pages."""
        store, after = self.store, 0
        assert isinstance(store, SQLiteFrontier)
        while rows := await store.not_done(after, 1000, done=done):
            after = rows[-1].id
            yield [flight_of_row(row) for row in rows]

    async def _commit(self, batch: list[Done]) -> None:
        if self.runtime.keeper is not None:  # (a record never before its cookies: _jarfile)
            await self.runtime.keeper.save_before_commit()
        committed = await self.store.commit(batch)
        if committed.changes:
            self.runtime.counters.by_change.update(committed.changes)
        self._book.committed(batch, committed)
        if self.coordination is not None:  # the records are in: their entries in Redis go
            await self.coordination.driver.committed([done.ident for done in batch])

    def _keeps_body(self, content_type: str | None) -> bool:
        return self._rules is not None and self._rules.parses(content_type)
