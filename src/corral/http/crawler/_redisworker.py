"""A ``corral worker``'s part of a crawl whose frontier lives in Redis (issue 15).

The worker does what the one-process crawl's claimer and page work do for a page, with the
crawl's settings as data (``_core.frontier_settings``): before a fetch, robots.txt (read by this
worker, cached; its ``Crawl-delay`` handed to the job for every worker) and the
``--max-pages`` budget (a counter in Redis); after it, the page's examination
(``RemoteExaminer``: links, the parse callback) and the crawl rules on its links (scope,
nofollow, traps, the depth bound). The commit then takes the page's record and its links
in one step, and Redis keeps the links new to the crawl (``scale._crawlqueue``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from corral._clock import LOOP_CLOCK
from corral.http.crawler._child import RemoteExaminer
from corral.http.crawler._robotsgate import RobotsGate
from corral.http.engine._engine import utc_now
from corral.http.engine._flight import Flight
from corral.http.engine._request import split_normal
from corral.http.engine._result import FetchResult
from corral.http.engine._runtime import Runtime
from corral.http.report._heldback import HELD_PREFIX
from corral.http.scale._child import Tell
from corral.http.scale._claimed import Committed
from corral.http.scale._crawlqueue import CrawlQueue, PageLinks
from corral.http.scale._queue import JobQueue, Task
from corral.http.scale._wire import request_of_task
from corral.http.web._rules import CrawlRules
from corral.http.web._urls import host_key, mask_credentials, parse

Call = Callable[..., Awaitable[Any]]  # the worker's call to Redis (waits out an outage)
Retry = tuple[str, float]  # (lease token, seconds): back to the job's queue


class FrontierExaminer(RemoteExaminer):
    """The worker's ``After`` for a crawl over Redis (see the module notes)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__(settings)
        rules = settings["rules"]
        self._rules = CrawlRules(
            seeds=tuple(rules["seeds"]),
            kind=rules["kind"],
            include=tuple(rules["include"]),
            exclude=tuple(rules["exclude"]),
            max_depth=rules["max_depth"],
            content_types=tuple(settings["parse_types"]),
            traps=bool(rules["traps"]),
        )
        self._robots = bool(settings.get("obey_robots", True))
        self._backoff = tuple(float(x) for x in settings.get("robots_backoff", (1.0, 2.0, 4.0)))
        self._links: dict[str, PageLinks] = {}  # lease token -> the page's links, to commit
        self._gate: RobotsGate | None = None
        self._crawl: CrawlQueue | None = None
        self._call: Call | None = None

    def bind(self, queue: JobQueue, call: Call) -> tuple[Any, Any]:
        """Work on ``queue`` through ``call``; return the worker's admit and commit steps."""
        self._crawl, self._call = CrawlQueue(queue), call
        return self.admit, self.commit

    def start(self, runtime: Runtime, tell: Tell | None = None) -> None:
        super().start(runtime, tell)
        self._gate = RobotsGate(runtime, runtime.config.user_agent, LOOP_CLOCK)
        if self._crawl is not None and self._call is not None:
            queue, call = self._crawl.queue, self._call

            async def floor(host: str, seconds: float) -> None:  # (Crawl-delay: every worker's)
                await call(queue.floor, host, seconds)
                # this worker's first request to the host starts now: the next, in any
                # worker, not before the delay (the claim that handed it out did not know it)
                await call(queue.throttle, host, seconds)

            self._gate.also_interval = floor

    async def admit(
        self, tasks: list[Task], budget: bool = True
    ) -> tuple[list[Flight], list[Retry]]:
        """Return the flights of ``tasks`` (robots.txt's refusals and the pages past
        ``--max-pages`` with their records preset), and the tasks to try again later (their
        robots.txt did not answer yet); ``budget``: the job has a ``--max-pages`` budget
        (as the claim saw it; without one, no step on Redis to take from it)."""
        flights: list[Flight] = []
        waiting: list[tuple[Task, Flight, float | None]] = []  # (.., seconds: try later)
        for task in tasks:
            flight = Flight(request_of_task(task.url, task.host, task.request), task.token)
            said = await self._robots_say(task) if self._robots else None
            if isinstance(said, str):  # (held back: this lease's try; the worker adds the rest)
                flights.append(_preset(flight, "robots", said, int(said.startswith(HELD_PREFIX))))
            else:
                waiting.append((task, flight, said))
        # the budget is taken at a URL's first claim (a URL put back, for its robots.txt or
        # a retry or a lost lease, was counted then)
        first = [flight for task, flight, _ in waiting if task.attempts == 0]
        granted = len(first)
        if budget and first and self._crawl is not None and self._call is not None:
            granted = await self._call(self._crawl.take, len(first))
        over = {id(flight) for flight in first[granted:]}
        again: list[Retry] = []
        for task, flight, later in waiting:
            if id(flight) in over:
                flights.append(_preset(flight, "max_pages", "not fetched: max pages"))
            elif later is not None:
                again.append((task.token, later))
            else:
                flights.append(flight)
        return flights, again

    async def _robots_say(self, task: Task) -> str | float | None:
        """Return None (fetch), a refusal's text, or seconds to wait (robots.txt did not
        answer: the URL goes back to the job's queue, its host held meanwhile; after the
        last try, the record that holds it back for the run)."""
        assert self._gate is not None
        policy = await self._gate.policy(task.url)
        if policy.verdict == "disallow_all":  # not answering: not a refusal (_robotshold)
            if task.attempts < len(self._backoff):
                return max(self._backoff[task.attempts], policy.max_age)
            # held back for the run: the coordinator leaves the URL pending (HELD_PREFIX)
            return f"{HELD_PREFIX}robots.txt did not answer ({policy.reason or 'no answer'})"
        if not self._gate.allows(policy, task.url):
            return "disallowed by robots.txt"
        return None

    async def examine(self, flight: Flight, result: FetchResult) -> tuple[FetchResult, Any]:
        result, extra = await super().examine(flight, result)
        request = flight.request
        if isinstance(extra, dict) and request is not None and isinstance(flight.ident, str):
            depth = request.depth + 1
            links = judged(self._rules, extra["f"], depth)
            links += judged(self._rules, extra["s"], depth, skip="nofollow")
            self._links[flight.ident] = PageLinks(depth, result.url, links)
            extra["f"], extra["s"] = [], []  # (Redis deduplicates them, not the coordinator)
        return result, extra

    async def commit(
        self,
        worker: str,
        done: list[tuple[str, FetchResult, object]],
        proxies: Any = None,
        **claim: Any,
    ) -> Committed:
        """Commit records with their pages' links, and free and claim as the worker asks
        (``CrawlQueue.commit_and_claim``)."""
        assert self._crawl is not None
        pages = [(token, result, extra, self._links.get(token)) for token, result, extra in done]
        committed = await self._crawl.commit_and_claim(worker, pages, proxies, **claim)
        for token, _, _ in done:  # (only now: a commit waiting out an outage is called again)
            self._links.pop(token, None)
        return committed


def judged(
    rules: CrawlRules, urls: Iterable[str], depth: int, *, skip: str | None = None
) -> list[tuple[str, str, str | None]]:
    """Return (url, host, skip reason) for each link, as ``LinkRows`` makes rows (without
    its cache of URLs seen: the seen set is Redis's)."""
    out: list[tuple[str, str, str | None]] = []
    for url in urls:
        host = split_normal(url)
        if host is not None:  # already normal (as the parser hands links out): no reparse
            out.append((url, host, skip or rules.allows_normal(url, host, depth).reason))
            continue
        reason = skip or rules.allows(url, depth).reason
        try:
            parsed = parse(url)
        except ValueError:
            continue  # the rules said invalid_url: a link that leads nowhere is dropped
        out.append((str(parsed), host_key(parsed), reason))
    return out


def _preset(flight: Flight, kind: str, error: str, attempts: int = 0) -> Flight:
    """Return ``flight`` not to fetch, its record decided (robots.txt, --max-pages)."""
    request = flight.request
    assert request is not None
    record = FetchResult(
        url=mask_credentials(request.url),
        error_kind=kind,
        error=error,
        attempts=attempts,
        depth=request.depth,
        found_on=request.found_on,
        fetched_at=utc_now() if kind == "robots" else "",
    )
    return Flight(None, flight.ident, preset=record)
