"""What a fetcher, a crawler and their jobs own alike: session, politeness, counters, engine.

``Runtime`` is the engine's one owner: ``Fetcher`` and ``Crawler`` (the public API) and the
``corral fetch`` / ``corral crawl`` jobs each hold one, so none of them needs another's
insides. It also makes the one-off attempts outside the dispatcher (``raw``: robots.txt and
sitemaps), and closes the result streams still open when it closes.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace
from typing import Any

import aiohttp

from corral._clock import Clock
from corral._offload import to_thread
from corral.http.engine._attempt import AttemptOutcome, attempt
from corral.http.engine._config import FetchConfig
from corral.http.engine._connector import BoundedConnector, plan_sockets
from corral.http.engine._cookies import HostJars
from corral.http.engine._download import Downloads
from corral.http.engine._engine import Engine
from corral.http.engine._jarfile import JarKeeper
from corral.http.engine._local import LOCAL, LOCAL_WAIT, LocalTrouble
from corral.http.engine._politeness import Politeness
from corral.http.engine._proxies import ProxyPool
from corral.http.engine._request import request_for
from corral.http.engine._result import FetchResult
from corral.http.report._stats import FetchStatistics, RunCounters

_OUTSIDE = "use the fetcher inside 'async with open_fetcher(...)'"


class Runtime:
    """One aiohttp session with its politeness, counters and engine; ``open()`` it first."""

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
        # a fetch's bodies for files stream there when large; a crawl parses what it reads
        self._downloads = (
            Downloads(config.bodies_dir)
            if config.save_bodies == "dir" and config.bodies_dir and not callable(keep_body)
            else None
        )
        self._clock = clock
        self.counters = RunCounters(output=output)
        self._session: aiohttp.ClientSession | None = None
        self._engine: Engine | None = None
        self.politeness = Politeness(
            concurrency=config.concurrency,
            per_host=config.per_host,
            interval=config.rate_interval,
            adaptive=config.adaptive,
            max_wait=config.max_retry_after,
        )
        self._streams: weakref.WeakSet[AsyncGenerator[Any, None]] = weakref.WeakSet()
        self.proxies = (
            ProxyPool(config.proxies, per_proxy=config.per_proxy, ca=config.proxy_ca)
            if config.proxies
            else None
        )
        # the run's cookies and their file (--cookies): the worker processes of a job hand
        # theirs back into it (``open_cookies``)
        self.keeper = JarKeeper(config.cookie_jar) if config.cookies else None

    async def open(self) -> None:
        """Open the session, with sockets within the process's open-files limit."""
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
        jar: aiohttp.abc.AbstractCookieJar = aiohttp.DummyCookieJar()  # stateless by default
        if self.keeper is not None:
            await self.keeper.open()
            jar = self.keeper.jars
        session_options: dict[str, Any] = {
            "headers": {"User-Agent": self.config.user_agent, **self.config.headers},
            "cookie_jar": jar,
            "trust_env": False,
        }
        self._session = aiohttp.ClientSession(connector=connector, **session_options)
        if self.proxies is not None:
            await self.proxies.open(session_options, options)
        self._engine = Engine(
            self._session,
            self.config,
            self.politeness,
            keep_body=self._keep_body,
            clock=self._clock,
            proxies=self.proxies,
            downloads=self._downloads,
        )

    async def __aenter__(self) -> Runtime:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the result streams still open (a loop left early), then the session."""
        for stream in list(self._streams):
            await stream.aclose()
        if self._session is not None:
            await self._session.close()
        if self.proxies is not None:
            await self.proxies.close()
        if self.keeper is not None:
            await self.keeper.close()

    @property
    def cookies(self) -> HostJars | None:
        """Return the run's cookie jars (None: no cookies kept)."""
        return self.keeper.jars if self.keeper is not None else None

    async def open_cookies(self) -> None:
        """Open the cookie jars alone (loaded, saved every few seconds), for a job whose
        fetching is done by other processes; ``close()`` saves them one last time."""
        if self.keeper is not None:
            await self.keeper.open()

    def track(self, stream: AsyncGenerator[Any, None]) -> None:
        """Close ``stream`` when the runtime closes, if its reader has not."""
        self._streams.add(stream)

    @property
    def engine(self) -> Engine:
        """Return the engine (the runtime must be open)."""
        if self._engine is None:
            raise RuntimeError(_OUTSIDE)
        return self._engine

    def statistics(self) -> FetchStatistics:
        """Return a snapshot of everything done on this runtime so far."""
        now = self._clock.now() if self._clock is not None else _loop_time()
        counters, politeness = self.counters, self.politeness
        counters.throttled = politeness.throttled_hosts(now)
        counters.hosts = sum(1 for s in politeness.hosts.values() if s.active)
        counters.long_retry_after = dict(politeness.long_waits)
        counters.retry_after_cap = self.config.max_retry_after
        if self.proxies is not None:
            counters.proxies = self.proxies.figures()
        return counters.snapshot()

    async def raw(self, url: str, *, max_bytes: int | None = None) -> AttemptOutcome:
        """Make one attempt at ``url`` and keep its body: for robots.txt and sitemaps.

        It bypasses the dispatcher (these are one request per site, made before its pages)
        but not the session, its headers or its timeouts. An attempt that meets a local
        error (EMFILE...) is made again a moment later.

        Raises:
            ResourceExhausted: nothing but local errors for ``LOCAL_PATIENCE`` seconds.
        """
        if self._session is None:
            raise RuntimeError(_OUTSIDE)
        config = self.config if max_bytes is None else replace(self.config, max_bytes=max_bytes)
        timeout = aiohttp.ClientTimeout(total=config.timeout, sock_connect=config.connect_timeout)
        request, trouble = request_for(url), LocalTrouble()
        moves = len(self.proxies.routes) if self.proxies is not None else 0
        while True:  # a local error (EMFILE...) says nothing of the site: not its answer
            route = self.proxies.for_host(request.host, _loop_time()) if self.proxies else None
            outcome = await attempt(
                self._session, request, config, timeout, keep_body=True, route=route
            )
            if route is not None and outcome.error_kind == "proxy" and moves > 0:
                assert self.proxies is not None
                moves -= 1
                if self.proxies.failed(route, _loop_time()):
                    continue  # another proxy is up: robots.txt through it
            if outcome.error_kind != LOCAL:
                return outcome
            trouble.held_back(_loop_time(), 0, outcome.error)
            await asyncio.sleep(LOCAL_WAIT)


def count(counters: RunCounters, result: FetchResult) -> None:
    """Add one final record to the run's counters."""
    counters.done += 1
    if result.ok:
        counters.ok += 1
    # a proxy's own answer (a 407, tinyproxy's 401) is no status of the site: counted
    # under by_error as ``proxy`` only (the record keeps the proxy's status)
    if result.status is not None and result.error_kind != "proxy":
        counters.by_status[result.status] += 1
    if result.error_kind is not None:
        counters.by_error[result.error_kind] += 1


def _loop_time() -> float:
    return asyncio.get_running_loop().time()
