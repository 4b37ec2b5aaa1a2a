"""The crawl's gate: robots.txt per origin (fetched once, cached, bounded) and sitemaps.

Before a crawl's first request to an origin it reads that origin's robots.txt (RFC 9309:
4xx allows all, 5xx or no answer disallows all until it is read again), and turns its
``Crawl-delay`` / ``Request-rate`` into the host's minimum interval between starts. Waiters
for the same origin share one fetch. An unreachable answer is not cached: the claimer holds
the host and asks again (``_robotshold``); the policy says why (``reason``) and for how long
the server asked to wait (``max_age``: its ``Retry-After``, 0 without one).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from corral import to_thread
from corral._clock import Clock
from corral.http.engine._request import split_normal
from corral.http.engine._runtime import Runtime
from corral.http.web._robots import RobotsCache, RobotsPolicy, robots_url
from corral.http.web._sitemaps import parse_sitemap
from corral.http.web._urls import host_key, parse

MAX_SITEMAPS = 1000  # sitemap files read per crawl, indexes included
SITEMAP_BYTES = 50 * 1024 * 1024  # the protocol's uncompressed bound


class RobotsGate:
    """Robots policies by origin, fetched once each through the crawl's session."""

    def __init__(self, runtime: Runtime, user_agent: str, clock: Clock) -> None:
        self._runtime = runtime
        self._agent = user_agent
        self._cache = RobotsCache(clock=clock.now)
        self._reading: dict[str, asyncio.Future[RobotsPolicy]] = {}
        # where else a host's interval must go: the worker process fetching it (--workers)
        self.also_interval: Callable[[str, float], Awaitable[None]] | None = None

    async def policy(self, url: str) -> RobotsPolicy:
        """Return the robots policy that governs ``url`` (reading robots.txt if needed)."""
        scheme, sep, rest = url.partition("://")
        if sep and split_normal(url) is not None:  # normal form: the origin is plain text
            key = f"{scheme}://{rest.partition('/')[0]}/robots.txt"
        else:
            key = robots_url(url)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        reading = self._reading.get(key)
        if reading is not None:
            return await asyncio.shield(reading)
        future: asyncio.Future[RobotsPolicy] = asyncio.get_running_loop().create_future()
        self._reading[key] = future
        try:
            policy = await self._read(key)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here; waiters get it from their await
            raise
        finally:
            del self._reading[key]
        future.set_result(policy)
        return policy

    async def _read(self, key: str) -> RobotsPolicy:
        outcome = await self._runtime.raw(key)
        status = outcome.status if outcome.error_kind in (None, "http_status") else None
        policy = RobotsPolicy.from_response(
            status, outcome.body or b"", url=key, retry_after=outcome.retry_after or 0.0
        )
        if policy.verdict == "disallow_all":  # unreachable: the claimer holds the host
            policy.reason = outcome.error or f"HTTP {status}"
            return policy
        interval = policy.min_interval(self._agent)
        if interval:
            host = host_key(parse(key))
            self._runtime.politeness.set_interval(host, interval)
            if self.also_interval is not None:
                await self.also_interval(host, interval)
        self._cache.put(key, policy)
        return policy

    def allows(self, policy: RobotsPolicy, url: str) -> bool:
        """Return whether ``policy`` lets this crawl's user agent fetch ``url``."""
        return policy.can_fetch(url, self._agent)

    async def sitemap_urls(self, seeds: Iterable[str]) -> AsyncIterator[tuple[str, str]]:
        """Yield (page URL, sitemap URL) for every page the seeds' sitemaps list."""
        queue: list[str] = []
        for seed in seeds:
            policy = await self.policy(seed)
            origin = robots_url(seed).removesuffix("robots.txt")
            queue.extend(policy.sitemaps or (f"{origin}sitemap.xml",))
        seen: set[str] = set()
        while queue and len(seen) < MAX_SITEMAPS:
            sitemap = queue.pop(0)
            if sitemap in seen:
                continue
            seen.add(sitemap)
            outcome = await self._runtime.raw(sitemap, max_bytes=SITEMAP_BYTES)
            if outcome.body is None or outcome.error_kind is not None:
                continue
            found = await to_thread(functools.partial(parse_sitemap, url=sitemap), outcome.body)
            queue.extend(child.loc for child in found.sitemaps)
            for entry in found.urls:
                yield entry.loc, sitemap
