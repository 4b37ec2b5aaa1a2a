"""Pitfall 3: an aiohttp ClientSession per request, never closed.

Every request then opens a new connection (no reuse), and each unclosed session leaks its
connector ("Unclosed client session") until file descriptors run out. The corral way is one
session per job, owned by `async with`: `corral.http.open_fetcher()` does exactly that, with
politeness and retries on top. Runs against corral's local test site.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

import corral.http
from corral.testing import open_site


async def pitfall(urls: list[str]) -> float:
    async def fetch(url: str) -> str:
        # A new session (its own pool, a new connection) for every URL.
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return await response.text()

    start = time.perf_counter()
    await corral.map(fetch, urls, limit=20)
    return time.perf_counter() - start


async def corral_way(urls: list[str]) -> float:
    start = time.perf_counter()
    async with corral.http.open_fetcher(per_host=20) as fetcher:  # one session, reused
        async for record in fetcher.fetch_all(urls):
            assert record.ok
    return time.perf_counter() - start


async def main() -> None:
    async with open_site() as site:
        urls = [site.url(f"/page/{i}") for i in range(500)]
        per_request = await pitfall(urls)
        shared = await corral_way(urls)
    print(f"a session per request: {per_request:.2f}s for 500 URLs (a new connection each)")
    print(f"one session per job:   {shared:.2f}s for 500 URLs (connections reused)")


if __name__ == "__main__":
    asyncio.run(main())
