"""The Python API of the fetcher: ``open_fetcher`` owns one aiohttp session per job."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import replace
from types import TracebackType
from typing import Any

import aiohttp

from corral._bridge import run_sync
from corral._clock import Clock
from corral._offload import to_thread
from corral.http.engine._attempt import AttemptOutcome, attempt
from corral.http.engine._config import FetchConfig
from corral.http.engine._connector import BoundedConnector, plan_sockets
from corral.http.engine._engine import Engine, Job, utc_now
from corral.http.engine._local import LOCAL, LOCAL_WAIT, LocalTrouble
from corral.http.engine._politeness import Politeness
from corral.http.engine._request import Request, request_for
from corral.http.engine._result import FetchResult
from corral.http.report._stats import FetchStatistics, RunCounters
from corral.http.web._urls import BadURL, mask_credentials

Target = str | Request


class Fetcher:
    """Fetch URLs politely over one session; see ``open_fetcher``."""

    def __init__(
        self,
        config: FetchConfig,
        *,
        keep_body: bool | Callable[[str | None], bool] = False,
        output: str = "",
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self._keep_body = True if config.save_bodies != "none" else keep_body
        self._clock = clock
        self._counters = RunCounters(output=output)
        self._session: aiohttp.ClientSession | None = None
        self._engine: Engine | None = None
        self.politeness = Politeness(
            concurrency=config.concurrency,
            per_host=config.per_host,
            interval=config.rate_interval,
            adaptive=config.adaptive,
            max_wait=config.max_retry_after,
        )
        self._runs: weakref.WeakSet[AsyncGenerator[FetchResult, None]] = weakref.WeakSet()

    async def __aenter__(self) -> Fetcher:
        # Sockets within the process's open-files limit (it counts the descriptors open)
        plan = await to_thread(plan_sockets, self.config.concurrency)
        if plan.concurrency < self.config.concurrency:
            self.config = replace(self.config, concurrency=plan.concurrency)
            self.politeness.concurrency = plan.concurrency
        options: dict[str, Any] = {
            "limit": self.config.concurrency,
            "limit_per_host": 0,
            "ttl_dns_cache": 300,
        }
        connector = (
            aiohttp.TCPConnector(**options)
            if plan.idle is None
            else BoundedConnector(max_idle=plan.idle, **options)
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.config.user_agent, **self.config.headers},
            cookie_jar=aiohttp.DummyCookieJar(),  # stateless: no cookie memory per host
            trust_env=False,
        )
        self._engine = Engine(
            self._session,
            self.config,
            self.politeness,
            keep_body=self._keep_body,
            clock=self._clock,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for run in list(self._runs):
            await run.aclose()
        if self._session is not None:
            await self._session.close()

    @property
    def counters(self) -> RunCounters:
        """Return the live counters of this fetcher (the job and the progress display read them)."""
        return self._counters

    def statistics(self) -> FetchStatistics:
        """Return a snapshot of everything this fetcher has done so far."""
        now = self._clock.now() if self._clock is not None else _loop_time()
        self._counters.throttled = self.politeness.throttled_hosts(now)
        self._counters.hosts = sum(1 for s in self.politeness.hosts.values() if s.active)
        self._counters.long_retry_after = dict(self.politeness.long_waits)
        self._counters.retry_after_cap = self.config.max_retry_after
        return self._counters.snapshot()

    async def fetch(self, target: Target) -> FetchResult:
        """Fetch one URL (with politeness and retries) and return its final record."""
        async for result in self.fetch_all([target]):
            return result
        raise AssertionError("fetch_all yields one record per input")

    def fetch_all(
        self, targets: Iterable[Target] | AsyncIterable[Target]
    ) -> AsyncGenerator[FetchResult, None]:
        """Fetch many URLs, yielding each final record as it is ready (completion order).

        Targets are read lazily, so memory follows ``concurrency``, not the number of URLs.
        A malformed URL gives an ``invalid_url`` record; nothing is dropped. Leaving the loop
        early is fine: the run is closed when the fetcher closes (or call ``aclose()``).

        Raises:
            TypeError: ``targets`` is one URL (a string, bytes or a request), not an iterable
                of them: ``fetch(url)`` fetches one.
        """
        require_many(targets, "fetch_all() takes URLs", "use fetcher.fetch(url) for one URL")
        run = self._fetch_all(targets)
        self._runs.add(run)
        return run

    async def _fetch_all(
        self, targets: Iterable[Target] | AsyncIterable[Target]
    ) -> AsyncGenerator[FetchResult, None]:
        if self._engine is None:
            raise RuntimeError("use the fetcher inside 'async with open_fetcher(...)'")
        async with self._engine.run(self.jobs(targets), self._counters) as stream:
            async for _job, result in stream:
                count(self._counters, result)
                yield result

    async def jobs(self, targets: Iterable[Target] | AsyncIterable[Target]) -> AsyncIterator[Job]:
        """Turn targets into engine jobs; a malformed URL becomes a job with a preset record."""
        async for target in _aiter(targets):
            yield job_for(target)

    async def raw(self, url: str, *, max_bytes: int | None = None) -> AttemptOutcome:
        """Make one attempt at ``url`` and keep its body: for robots.txt and sitemaps.

        It bypasses the dispatcher (these are one request per site, made before its pages)
        but not the session, its headers or its timeouts. An attempt that meets a local
        error (EMFILE...) is made again a moment later.

        Raises:
            ResourceExhausted: nothing but local errors for ``LOCAL_PATIENCE`` seconds.
        """
        if self._session is None:
            raise RuntimeError("use the fetcher inside 'async with open_fetcher(...)'")
        config = self.config if max_bytes is None else replace(self.config, max_bytes=max_bytes)
        timeout = aiohttp.ClientTimeout(total=config.timeout, sock_connect=config.connect_timeout)
        request, trouble = request_for(url), LocalTrouble()
        while True:  # a local error (EMFILE...) says nothing of the site: not its answer
            outcome = await attempt(self._session, request, config, timeout, keep_body=True)
            if outcome.error_kind != LOCAL:
                return outcome
            trouble.held_back(_loop_time(), 0, outcome.error)
            await asyncio.sleep(LOCAL_WAIT)

    def engine(self) -> Engine:
        """Return the engine (for the job and the crawler, which feed it their own jobs)."""
        if self._engine is None:
            raise RuntimeError("use the fetcher inside 'async with open_fetcher(...)'")
        return self._engine


def require_many(targets: object, what: str, fix: str) -> None:
    """Refuse one URL where an iterable of them is expected (a string iterates by character).

    Raises:
        TypeError: ``targets`` is a string, bytes or a single request; the message says
            ``what`` is expected and ``fix``.
    """
    if isinstance(targets, str | bytes | bytearray | Request):
        raise TypeError(f"{what}, not a single {type(targets).__name__}: {fix}")


def job_for(target: Target, ident: object = None) -> Job:
    """Return the engine job for a URL or request (invalid: a job with its record preset)."""
    if isinstance(target, Request):
        return Job(target, ident)
    try:
        return Job(request_for(target), ident)
    except BadURL as exc:
        return Job(None, ident, preset=invalid_record(target, str(exc)))


def invalid_record(text: str, reason: str) -> FetchResult:
    """Return the final record of input that is not a fetchable URL."""
    return FetchResult(
        url=mask_credentials(text),
        error_kind="invalid_url",
        error=mask_credentials(reason),
        attempts=0,
        fetched_at=utc_now(),
    )


def count(counters: RunCounters, result: FetchResult) -> None:
    """Add one final record to the run's counters."""
    counters.done += 1
    if result.ok:
        counters.ok += 1
    if result.status is not None:
        counters.by_status[result.status] += 1
    if result.error_kind is not None:
        counters.by_error[result.error_kind] += 1


async def _aiter(items: Iterable[Target] | AsyncIterable[Target]) -> AsyncIterator[Target]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def open_fetcher(config: FetchConfig | None = None, **options: Any) -> Fetcher:
    """Open a fetcher: ``async with corral.http.open_fetcher(per_host=4) as f:``.

    Args:
        config: a ``FetchConfig``; keyword ``options`` override its fields.
        **options: any ``FetchConfig`` field.

    Returns:
        The fetcher; its session lives for the ``async with`` block.
    """
    base = config or FetchConfig()
    return Fetcher(replace(base, **options) if options else base)


def fetch(
    targets: Iterable[Target], *, config: FetchConfig | None = None, **options: Any
) -> list[FetchResult]:
    """Fetch URLs from sync code (also inside Jupyter's running loop); results in input order.

    Duplicates (after normalisation) are fetched once and share their record.

    Raises:
        TypeError: ``targets`` is one URL (a string, bytes or a request), not a list: a list
            comes back, so one URL is ``fetch([url])`` (its record: ``fetch([url])[0]``).
    """
    require_many(targets, "fetch() takes a list of URLs", "write fetch([url]) for one URL")
    wanted = list(targets)

    async def main() -> list[FetchResult]:
        unique: dict[str, Job] = {}
        keys: list[str] = []
        for target in wanted:
            job = job_for(target)
            key = _key_of(job)
            keys.append(key)
            unique.setdefault(key, job)
        by_key: dict[str, FetchResult] = {}
        fetcher = open_fetcher(config, **options)
        async with fetcher, fetcher.engine().run(_from(unique.values()), fetcher.counters) as run:
            async for job, result in run:
                by_key[_key_of(job)] = result
        return [by_key[key] for key in keys]

    return run_sync(main)


def _key_of(job: Job) -> str:
    if job.request is not None:
        return job.request.key
    assert job.preset is not None
    return f"invalid:{job.preset.url}"


async def _from(jobs: Iterable[Job]) -> AsyncIterator[Job]:
    for job in jobs:
        yield job
