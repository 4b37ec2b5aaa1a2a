"""Pitfall 5: unbounded concurrency gets the IP banned.

The test site's rate-limited area allows 20 requests/s per client, answers 429 above that,
and bans (403 for everything) a client that keeps pushing, as the field reports' site did.
`gather()` over every URL at once is banned within a second. `corral fetch --rate 20/s`
(here through the Python API) paces the starts per host and finishes with no 429 or 403.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp

import corral.http
from corral.testing import RateLimitPolicy, open_site

POLICY = RateLimitPolicy(rate=20, burst=5, ban_after=10, client_header="X-Client")


async def pitfall(base: str, n: int) -> Counter[int]:
    async with aiohttp.ClientSession(headers={"X-Client": "greedy"}) as session:

        async def get(i: int) -> int:
            async with session.get(f"{base}/limited/{i}") as response:
                return response.status

        return Counter(await asyncio.gather(*(get(i) for i in range(n))))


async def corral_way(base: str, n: int) -> Counter[int]:
    urls = [f"{base}/limited/{i}" for i in range(n)]
    statuses: Counter[int] = Counter()
    async with corral.http.open_fetcher(rate="20/s", headers={"X-Client": "polite"}) as fetcher:
        async for record in fetcher.fetch_all(urls):
            statuses[record.status or 0] += 1
    return statuses


async def main() -> None:
    async with open_site(rate_limit=POLICY) as site:
        greedy = await pitfall(site.base_url, 60)
        polite = await corral_way(site.base_url, 60)
        banned = {key: c.banned for key, c in site.statistics().clients.items()}
    print(f"gather, unbounded: {dict(greedy)}")
    print(f"corral, --rate 20/s: {dict(polite)}")
    print(f"banned clients: {banned}")


if __name__ == "__main__":
    asyncio.run(main())
